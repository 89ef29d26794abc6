use async_graphql::{ComplexObject, Context, ID, Result, SimpleObject};

use crate::auth::Principal;
use crate::graphql::ContextExt;
use crate::graphql::loaders;
use crate::graphql::types::BalanceView;
use crate::graphql::types::HoldNode;
use crate::graphql::types::LedgerEntryNode;
use crate::graphql::types::MemberNode;
use crate::graphql::types::MemberRefInput;
use crate::graphql::types::bonus::{BonusNode, bonuses_of};
use crate::services::access;
use crate::services::ledger::Outcome;

/// What a money-moving mutation did.
#[derive(SimpleObject)]
#[graphql(complex)]
pub(crate) struct LedgerResult {
    /// True when this answers a repeated request with the same idempotency key: nothing new
    /// was written.
    pub replayed: bool,
    #[graphql(skip)]
    pub outcome: Outcome,
    /// The request itself shows the partner may see the balance: the member was named by
    /// the partner's own customer id (so it is linked), or a presence code was used up.
    #[graphql(skip)]
    pub balance_shown: bool,
}

#[ComplexObject]
impl LedgerResult {
    /// The member's balance right after the operation: for whoever may know the member
    /// (`Member.memberNumber`), and for a partner the member just showed its presence code
    /// to; null for a partner that earned to a card number it is not linked to.
    async fn balance(&self, ctx: &Context<'_>) -> Result<Option<BalanceView>> {
        let principal = ctx.principal()?;
        let shown = match (principal, self.outcome.partner_linked) {
            _ if self.balance_shown => true,
            // The ledger's answer told (issues, redemptions): no second round trip.
            (Principal::Partner { .. }, Some(linked)) => linked,
            _ => {
                let links = loaders::member_links(ctx, self.outcome.member_id).await?;
                let linked: Vec<_> = links.into_iter().map(|link| link.partner_id).collect();
                access::may_know_member(principal, self.outcome.member_id, &linked)
            }
        };
        Ok(shown.then(|| self.outcome.balance.into()))
    }
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
    /// The campaign bonuses booked with an earn (a replay shows the same), each an entry
    /// of its own whose lot the campaign's sponsor issued.
    async fn bonuses(&self, ctx: &Context<'_>) -> Result<Vec<BonusNode>> {
        bonuses_of(ctx, self.outcome.entry_id).await
    }
    async fn member(&self, ctx: &Context<'_>) -> Result<MemberNode> {
        MemberNode::load(ctx, self.outcome.member_id).await
    }
}

impl From<Outcome> for LedgerResult {
    fn from(outcome: Outcome) -> Self {
        LedgerResult {
            replayed: outcome.replayed,
            outcome,
            balance_shown: false,
        }
    }
}

impl LedgerResult {
    /// The result of a partner's request that named the member by its own customer id, or
    /// brought the member's presence code (used up unless the request was a replay).
    pub(crate) fn shown_by_request(
        outcome: Outcome,
        member: &MemberRefInput,
        presence_code: Option<&str>,
    ) -> Self {
        let by_customer_id = matches!(member, MemberRefInput::PartnerCustomerId(_));
        let present = presence_code.is_some() && !outcome.replayed;
        LedgerResult {
            balance_shown: by_customer_id || present,
            ..outcome.into()
        }
    }
}
