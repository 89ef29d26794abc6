use async_graphql::{ID, Object};

use crate::domain::settlement::Party;

/// A party to settlement: a partner, or the hub itself (`id` "HUB").
pub(crate) struct SettlementParty {
    pub party: Party,
    pub name: String,
}

#[Object]
impl SettlementParty {
    /// The partner's id, or "HUB".
    async fn id(&self) -> ID {
        ID(self.party.to_string())
    }
    async fn is_hub(&self) -> bool {
        self.party == Party::Hub
    }
    /// The name when the statement was made.
    async fn name(&self) -> &str {
        &self.name
    }
}
