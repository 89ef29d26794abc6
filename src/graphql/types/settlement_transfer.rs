use async_graphql::SimpleObject;

use crate::graphql::types::Money;
use crate::graphql::types::SettlementParty;

#[derive(SimpleObject)]
pub(crate) struct SettlementTransfer {
    pub from: SettlementParty,
    pub to: SettlementParty,
    pub amount: Money,
}
