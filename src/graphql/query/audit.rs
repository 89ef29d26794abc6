use async_graphql::{Context, Object, Result, connection::Connection};

use crate::graphql::ContextExt;
use crate::graphql::page::{Cursor, Page};
use crate::graphql::types::{AuditEntryNode, AuditFilter};
use crate::services::audit;

#[derive(Default)]
pub(crate) struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail, newest first: everything for the operator, a partner's own
    /// business for a partner. CSV: `GET /audit/csv`.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditFilter>,
    ) -> Result<Connection<String, AuditEntryNode>> {
        let state = ctx.state();
        let page = Page::new(first, after, state.config.limits.max_page_size)?;
        let filter = filter.unwrap_or_default().into_filter()?;
        let rows = audit::page(
            &state.db,
            ctx.principal()?,
            filter,
            page.after.map(|c| c.id),
            page.limit(),
        )
        .await?;
        Ok(page.connection(rows, |e| Cursor { at: e.at, id: e.id }, AuditEntryNode))
    }
}
