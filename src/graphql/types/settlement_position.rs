use async_graphql::SimpleObject;

use crate::graphql::types::Money;
use crate::graphql::types::SettlementParty;

#[derive(SimpleObject)]
pub(crate) struct SettlementPosition {
    pub party: SettlementParty,
    pub gross_payable: Money,
    pub gross_receivable: Money,
    /// Receivable less payable: positive is owed to the party.
    pub net: Money,
}
