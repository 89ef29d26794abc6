use async_graphql::{Context, ID, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::scalars::{BigInt, parse_id};
use crate::graphql::types::{ActivityDay, LedgerCheck, OutstandingDay, PointsActivity};
use crate::services::reports;

#[derive(Default)]
pub(crate) struct ReportQuery;

#[Object]
impl ReportQuery {
    /// Points issued and redeemed per day over the last `days` (1-366) and the points
    /// outstanding: a partner's own (`settlement:read`); the operator's for one partner or
    /// the coalition.
    async fn points_activity(
        &self,
        ctx: &Context<'_>,
        partner_id: Option<ID>,
        #[graphql(default = 30)] days: i32,
    ) -> Result<PointsActivity> {
        let partner_id = partner_id
            .map(|id| parse_id(&id, "partnerId"))
            .transpose()?;
        let report = reports::activity(&ctx.state().db, ctx.principal()?, partner_id, days).await?;
        Ok(PointsActivity {
            days: report
                .days
                .into_iter()
                .map(|d| ActivityDay {
                    date: d.day,
                    issued: BigInt(d.issued),
                    redeemed: BigInt(d.redeemed),
                })
                .collect(),
            outstanding: BigInt(report.outstanding),
            outstanding_by_day: report
                .outstanding_by_day
                .into_iter()
                .map(|d| OutstandingDay {
                    date: d.day,
                    points: BigInt(d.points),
                })
                .collect(),
        })
    }

    /// Operator: `hub verify`'s invariant checks, run now in one snapshot.
    async fn ledger_checks(&self, ctx: &Context<'_>) -> Result<Vec<LedgerCheck>> {
        let report = reports::ledger_checks(&ctx.state().db, ctx.principal()?).await?;
        Ok(report
            .checks
            .into_iter()
            .map(|c| LedgerCheck {
                name: c.name.to_owned(),
                violations: c.violations,
            })
            .collect())
    }
}
