use async_graphql::{ComplexObject, Context, ID, Result, SimpleObject};

use crate::graphql::types::BalanceView;
use crate::graphql::types::HoldNode;
use crate::graphql::types::LedgerEntryNode;
use crate::graphql::types::MemberNode;
use crate::services::ledger::Outcome;

/// What a money-moving mutation did.
#[derive(SimpleObject)]
#[graphql(complex)]
pub(crate) struct LedgerResult {
    /// The member's balance right after the operation.
    pub balance: BalanceView,
    /// True when this answers a repeated request with the same idempotency key: nothing new
    /// was written.
    pub replayed: bool,
    #[graphql(skip)]
    pub outcome: Outcome,
}

#[ComplexObject]
impl LedgerResult {
    /// The entry's id (no extra lookup, unlike `entry`).
    async fn entry_id(&self) -> ID {
        ID(self.outcome.entry_id.to_string())
    }
    async fn entry(&self, ctx: &Context<'_>) -> Result<LedgerEntryNode> {
        LedgerEntryNode::load_visible(ctx, self.outcome.entry_id).await
    }
    async fn hold(&self, ctx: &Context<'_>) -> Result<Option<HoldNode>> {
        match self.outcome.hold_id {
            None => Ok(None),
            Some(id) => Ok(Some(HoldNode::load_visible(ctx, id).await?)),
        }
    }
    async fn member(&self, ctx: &Context<'_>) -> Result<MemberNode> {
        MemberNode::load(ctx, self.outcome.member_id).await
    }
}

impl From<Outcome> for LedgerResult {
    fn from(outcome: Outcome) -> Self {
        LedgerResult {
            balance: outcome.balance.into(),
            replayed: outcome.replayed,
            outcome,
        }
    }
}
