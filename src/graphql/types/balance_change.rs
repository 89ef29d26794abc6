use async_graphql::{ID, SimpleObject};

use crate::graphql::types::BalanceView;

/// A member's balance right after a ledger entry that touched it.
#[derive(SimpleObject)]
pub(crate) struct BalanceChange {
    /// The entry that changed the balance.
    pub entry_id: ID,
    pub balance: BalanceView,
}
