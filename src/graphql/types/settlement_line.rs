use async_graphql::SimpleObject;

use crate::graphql::scalars::BigInt;
use crate::graphql::types::Money;
use crate::graphql::types::SettlementParty;

/// The issuer owes the redeemer for the issuer's points redeemed at the redeemer; a
/// negative amount (more refunded than redeemed) runs the other way.
#[derive(SimpleObject)]
pub(crate) struct SettlementLine {
    pub issuer: SettlementParty,
    pub redeemer: SettlementParty,
    pub points: BigInt,
    pub amount: Money,
}
