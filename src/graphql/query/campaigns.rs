use async_graphql::{Context, ID, Object, Result, connection::Connection};

use crate::graphql::ContextExt;
use crate::graphql::page::Cursor;
use crate::graphql::page::Page;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::CampaignNode;
use crate::services::campaigns;

#[derive(Default)]
pub(crate) struct CampaignQuery;

#[Object]
impl CampaignQuery {
    /// Campaigns newest first: all for the operator, a partner's own (for its earns, or
    /// sponsored by it). Members see theirs as `me.offers`.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, CampaignNode>> {
        let state = ctx.state();
        let page = Page::new(first, after, state.config.limits.max_page_size)?;
        let rows = campaigns::page(
            &state.db,
            ctx.principal()?,
            page.after.map(|c| c.id),
            page.limit(),
        )
        .await?;
        Ok(page.connection(
            rows,
            |c| Cursor {
                at: c.created_at,
                id: c.id,
            },
            CampaignNode,
        ))
    }

    async fn campaign(&self, ctx: &Context<'_>, id: ID) -> Result<CampaignNode> {
        let id = parse_id(&id, "id")?;
        let row = campaigns::get(&ctx.state().db, ctx.principal()?, id).await?;
        Ok(CampaignNode(row))
    }
}
