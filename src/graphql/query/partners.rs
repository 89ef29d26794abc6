use async_graphql::{Context, ID, Object, Result, connection::Connection};

use crate::graphql::ContextExt;
use crate::graphql::page::Cursor;
use crate::graphql::page::Page;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::PartnerNode;
use crate::services::partners;

#[derive(Default)]
pub(crate) struct PartnerQuery;

#[Object]
impl PartnerQuery {
    /// Partners in order of creation. Operators see all; everyone else the active ones.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn partners(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, PartnerNode>> {
        let state = ctx.state();
        let principal = ctx.principal()?;
        let page = Page::new(first, after, state.config.limits.max_page_size)?;
        let rows = partners::page(
            &state.db,
            principal,
            page.after.map(|c| c.key()),
            page.limit(),
        )
        .await?;
        Ok(page.connection(
            rows,
            |p| Cursor {
                at: p.created_at,
                id: p.id,
            },
            PartnerNode,
        ))
    }

    async fn partner(&self, ctx: &Context<'_>, id: ID) -> Result<PartnerNode> {
        let id = parse_id(&id, "id")?;
        let partner = partners::get(&ctx.state().db, ctx.principal()?, id).await?;
        Ok(PartnerNode(partner))
    }
}
