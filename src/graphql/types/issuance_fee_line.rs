use async_graphql::SimpleObject;

use crate::graphql::scalars::BigInt;
use crate::graphql::types::Money;
use crate::graphql::types::SettlementParty;

#[derive(SimpleObject)]
pub(crate) struct IssuanceFeeLine {
    pub partner: SettlementParty,
    /// Points issued, less issues reversed.
    pub points: BigInt,
    pub amount: Money,
}
