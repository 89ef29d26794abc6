//! The ledger's GraphQL surface: money-moving mutations, entries, holds, balances.

use async_graphql::{Context, ID, Object, Result, connection::Connection};

use crate::graphql::ContextExt;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::HoldNode;
use crate::graphql::types::LedgerEntryFilter;
use crate::graphql::types::LedgerEntryNode;
use crate::graphql::types::MemberNode;
use crate::{auth::Principal, db::models::ledger::EntryFilter, error::AppError};

use crate::graphql::types::ledger_entry::entry_connection;
use crate::services::members;

#[derive(Default)]
pub(crate) struct LedgerQuery;

#[Object]
impl LedgerQuery {
    async fn ledger_entry(&self, ctx: &Context<'_>, id: ID) -> Result<LedgerEntryNode> {
        let id = parse_id(&id, "id")?;
        LedgerEntryNode::load_visible(ctx, id).await
    }

    /// Entries newest first: all for the operator, those it is party to for a partner, its
    /// own for a member.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn ledger_entries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<LedgerEntryFilter>,
    ) -> Result<Connection<String, LedgerEntryNode>> {
        let filter = filter.unwrap_or_default();
        let member_id = match &filter.member {
            None => None,
            Some(reference) => {
                let member =
                    members::get(&ctx.state().members, ctx.principal()?, &reference.to_ref()?)
                        .await?;
                Some(member.id)
            }
        };
        let filter = EntryFilter {
            member_id,
            partner_id: None,
            kinds: filter
                .kinds
                .map(|kinds| kinds.iter().map(|k| k.as_str().to_owned()).collect()),
            from: filter.from,
            to: filter.to,
        };
        entry_connection(ctx, filter, first, after).await
    }

    async fn hold(&self, ctx: &Context<'_>, id: ID) -> Result<HoldNode> {
        let id = parse_id(&id, "id")?;
        HoldNode::load_visible(ctx, id).await
    }

    /// The calling member (member tokens only).
    async fn me(&self, ctx: &Context<'_>) -> Result<MemberNode> {
        match ctx.principal()? {
            Principal::Member { member_id } => MemberNode::load(ctx, *member_id).await,
            _ => Err(AppError::forbidden("me is for member tokens").into()),
        }
    }
}
