//! Expiry: past-due lot points become breakage, past-due holds are released. Runs inside
//! `serve` on an interval and as `hub expire`. Idempotent and safe on several hub processes
//! at once (the SQL functions skip members another process holds and re-check under lock).

use chrono::{DateTime, Utc};
use diesel_async::RunQueryDsl;

use crate::{
    app::AppState,
    db::{
        DbPool,
        ledger::{ledger_expire_holds, ledger_expire_lots},
    },
    error::AppResult,
};

/// Members (or holds) handled per transaction.
const BATCH: i32 = 500;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpiryRun {
    pub holds_released: u64,
    pub members_expired: u64,
    pub points_expired: i64,
}

/// Expires everything due at `now`, batch by batch; `progress` sees the running totals.
pub async fn run(
    db: &DbPool,
    now: DateTime<Utc>,
    mut progress: impl FnMut(&ExpiryRun),
) -> AppResult<ExpiryRun> {
    let mut total = ExpiryRun::default();
    let mut conn = db.get().await?;
    loop {
        let released: i32 = diesel::select(ledger_expire_holds(now, BATCH))
            .get_result(&mut conn)
            .await?;
        if released == 0 {
            break;
        }
        total.holds_released += released as u64;
        progress(&total);
    }
    loop {
        let (members, points): (i32, i64) = diesel::select(ledger_expire_lots(now, BATCH))
            .get_result(&mut conn)
            .await?;
        if members == 0 {
            break;
        }
        total.members_expired += members as u64;
        total.points_expired += points;
        progress(&total);
    }
    Ok(total)
}

/// The background job of `serve`: every `ledger.expiry_interval` (never when it is zero).
pub fn spawn(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let every = state.config.ledger.expiry_interval;
    if every.is_zero() {
        return None;
    }
    let db = state.db.clone();
    Some(tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match run(&db, Utc::now(), |_| {}).await {
                Ok(run) if run != ExpiryRun::default() => tracing::info!(
                    holds = run.holds_released,
                    members = run.members_expired,
                    points = run.points_expired,
                    "expiry"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = ?e, "expiry job failed; retrying next interval"),
            }
        }
    }))
}
