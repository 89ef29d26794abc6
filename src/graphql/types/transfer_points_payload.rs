use async_graphql::SimpleObject;

use crate::graphql::types::LedgerResult;

/// A transfer: the sender's side (`entry`, `balance`) and the recipient's entry.
#[derive(SimpleObject)]
pub(crate) struct TransferPointsPayload {
    /// The sender's TRANSFER_OUT and balance after it.
    pub sent: LedgerResult,
    /// The recipient's TRANSFER_IN entry id.
    pub received_entry_id: async_graphql::ID,
}
