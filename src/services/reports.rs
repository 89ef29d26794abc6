//! The pages' reports: activity per day and points outstanding (a partner its own, the
//! operator one partner's or the coalition's), and the ledger's invariant checks.

use chrono::{Duration, Utc};
use uuid::Uuid;

use crate::{
    auth::{Principal, Scope},
    db::{
        DbPool,
        models::activity::{self, ActivityDay, OutstandingDay},
    },
    error::{AppError, AppResult},
    services::verify,
};

pub(crate) struct Activity {
    pub days: Vec<ActivityDay>,
    pub outstanding: i64,
    /// At the start of each recorded UTC day (`snapshot_outstanding`).
    pub outstanding_by_day: Vec<OutstandingDay>,
}

/// The last `days` UTC days (today included) of issued and redeemed points, and what is
/// outstanding now.
pub(crate) async fn activity(
    db: &DbPool,
    principal: &Principal,
    partner_id: Option<Uuid>,
    days: i32,
) -> AppResult<Activity> {
    let partner_id = match principal.records_partner(Scope::SettlementRead)? {
        None => partner_id,
        Some(own) if partner_id.is_none_or(|p| p == own) => Some(own),
        Some(_) => return Err(AppError::forbidden("a partner sees only its own activity")),
    };
    if !(1..=366).contains(&days) {
        return Err(AppError::bad_input("days must be 1 to 366"));
    }
    let today = Utc::now().date_naive();
    let from = (today - Duration::days(i64::from(days) - 1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .ok_or_else(|| AppError::bad_input("days reach too far back"))?;
    let mut conn = db.get().await?;
    let days = activity::by_day(&mut conn, partner_id, from).await?;
    let outstanding = activity::outstanding(&mut conn, partner_id).await?;
    let outstanding_by_day =
        activity::outstanding_by_day(&mut conn, partner_id, from.date_naive()).await?;
    Ok(Activity {
        days,
        outstanding,
        outstanding_by_day,
    })
}

/// `hub verify`'s checks, for the operator's console.
pub(crate) async fn ledger_checks(db: &DbPool, principal: &Principal) -> AppResult<verify::Report> {
    principal.require_operator()?;
    verify::run(db).await
}

/// Records the points outstanding as of the start of `day` (once per day for the whole
/// deployment); answers whether this call recorded them.
pub async fn snapshot_outstanding(db: &DbPool, day: chrono::NaiveDate) -> AppResult<bool> {
    let mut conn = db.get().await?;
    Ok(activity::snapshot_outstanding(&mut conn, day).await?)
}

/// The job of `serve` that records each day's points outstanding, soon after 00:00 UTC
/// (looked at every 10 minutes; a day the hub was down all along stays unrecorded).
pub fn spawn_snapshots(db: DbPool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(600));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let today = Utc::now().date_naive();
            match snapshot_outstanding(&db, today).await {
                Ok(true) => tracing::info!(%today, "points outstanding recorded"),
                Ok(false) => {}
                Err(e) => tracing::error!(error = ?e, "recording points outstanding failed"),
            }
        }
    })
}
