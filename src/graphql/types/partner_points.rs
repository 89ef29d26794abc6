use async_graphql::SimpleObject;

use crate::graphql::scalars::BigInt;
use crate::graphql::types::SettlementParty;

#[derive(SimpleObject)]
pub(crate) struct PartnerPoints {
    pub partner: SettlementParty,
    pub points: BigInt,
}
