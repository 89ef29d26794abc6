//! Settlement: rate cards, statements (closed and previewed) and the period close.

use async_graphql::{Context, ID, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};

use crate::graphql::ContextExt;
use crate::graphql::page::Cursor;
use crate::graphql::page::Page;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::PartnerRates;
use crate::graphql::types::SettlementStatement;
use crate::services::settlement;

#[derive(Default)]
pub(crate) struct SettlementQuery;

#[Object]
impl SettlementQuery {
    /// Closed statements, newest first (operator, or a partner with `settlement:read`).
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn settlement_statements(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, SettlementStatement>> {
        let state = ctx.state();
        let page = Page::new(first, after, state.config.limits.max_page_size)?;
        let views = settlement::statements(
            &state.settlement,
            ctx.principal()?,
            page.after.map(|c| c.at),
            page.limit(),
        )
        .await?;
        Ok(page.connection(
            views,
            |v| {
                let period = v.period.as_ref().expect("closed statements have a period");
                Cursor {
                    at: period.cutoff,
                    id: period.id,
                }
            },
            SettlementStatement::new,
        ))
    }

    async fn settlement_statement(&self, ctx: &Context<'_>, id: ID) -> Result<SettlementStatement> {
        let id = parse_id(&id, "id")?;
        let view = settlement::statement(&ctx.state().settlement, ctx.principal()?, id).await?;
        Ok(SettlementStatement::new(view))
    }

    /// The statement that records in [from, to) would produce, computed now.
    async fn settlement_preview(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<SettlementStatement> {
        let view = settlement::preview(
            &ctx.state().settlement,
            &ctx.state().config.currency,
            ctx.principal()?,
            from,
            to,
        )
        .await?;
        Ok(SettlementStatement::new(view))
    }

    /// A partner's rate cards, latest first (operator, or the partner itself).
    async fn partner_rates(&self, ctx: &Context<'_>, partner_id: ID) -> Result<Vec<PartnerRates>> {
        let partner_id = parse_id(&partner_id, "partnerId")?;
        let rows =
            settlement::rate_history(&ctx.state().settlement, ctx.principal()?, partner_id).await?;
        Ok(rows.into_iter().map(PartnerRates::from).collect())
    }
}
