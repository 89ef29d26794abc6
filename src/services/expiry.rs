//! Expiry: past-due holds are released, pending points whose return window has ended become
//! available, past-due lot points become breakage. Runs inside
//! `serve` on an interval and as `hub expire`. Idempotent and safe on several hub processes
//! at once (the SQL functions skip members another process holds and re-check under lock).

use chrono::{DateTime, Utc};
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use serde_json::Value;

use crate::{
    db::{
        DbPool,
        ledger::{ledger_expire_holds, ledger_expire_lots, ledger_release_pending},
        models::ledger::Balance,
    },
    domain::ledger::LedgerAnswer,
    error::AppResult,
    services::{ledger::Ledger, live::Publisher, outcome::Outcome},
};

/// Members (or holds) handled per transaction.
const BATCH: i32 = 500;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpiryRun {
    pub holds_released: u64,
    pub members_released: u64,
    pub points_released: i64,
    pub members_expired: u64,
    pub points_expired: i64,
}

/// What an expiry job did to one member (`hub_expired`): its entry, the points expired or
/// released, and the member's balance afterwards.
#[derive(Deserialize)]
struct Expired {
    entry_id: uuid::Uuid,
    member_id: uuid::Uuid,
    points: i64,
    available: i64,
    held: i64,
    debt: i64,
    lifetime_earned: i64,
    pending: i64,
}

fn outcome(row: &Expired) -> Outcome {
    Outcome {
        entry_id: row.entry_id,
        hold_id: None,
        member_id: row.member_id,
        balance: Balance {
            available: row.available,
            held: row.held,
            debt: row.debt,
            lifetime_earned: row.lifetime_earned,
            pending: row.pending,
        },
        replayed: false,
        partner_linked: None,
    }
}

/// Expires everything due at `now`, batch by batch; `progress` sees the running totals.
/// Each member's new balance goes to `publisher` (for `balanceChanged`) after its batch
/// commits.
pub async fn run(
    db: &DbPool,
    publisher: Option<&Publisher>,
    now: DateTime<Utc>,
    mut progress: impl FnMut(&ExpiryRun),
) -> AppResult<ExpiryRun> {
    let mut total = ExpiryRun::default();
    let mut conn = db.get().await?;
    let publish = |rows: &[Expired]| {
        if let Some(publisher) = publisher {
            let outcomes: Vec<Outcome> = rows.iter().map(outcome).collect();
            publisher.publish(&outcomes);
        }
    };
    loop {
        let answer: Value = diesel::select(ledger_expire_holds(now, BATCH))
            .get_result(&mut conn)
            .await?;
        let released = LedgerAnswer::<Vec<Expired>>::from_json(answer)?;
        if released.is_empty() {
            break;
        }
        publish(&released);
        total.holds_released += released.len() as u64;
        progress(&total);
    }
    loop {
        let answer: Value = diesel::select(ledger_release_pending(now, BATCH))
            .get_result(&mut conn)
            .await?;
        let released = LedgerAnswer::<Vec<Expired>>::from_json(answer)?;
        if released.is_empty() {
            break;
        }
        publish(&released);
        total.members_released += released.len() as u64;
        total.points_released = released.iter().fold(total.points_released, |sum, row| {
            sum.saturating_add(row.points)
        });
        progress(&total);
    }
    loop {
        let answer: Value = diesel::select(ledger_expire_lots(now, BATCH))
            .get_result(&mut conn)
            .await?;
        let expired = LedgerAnswer::<Vec<Expired>>::from_json(answer)?;
        if expired.is_empty() {
            break;
        }
        publish(&expired);
        total.members_expired += expired.len() as u64;
        total.points_expired = expired.iter().fold(total.points_expired, |sum, row| {
            sum.saturating_add(row.points)
        });
        progress(&total);
    }
    Ok(total)
}

/// The background job of `serve`: every `ledger.expiry_interval` (never when it is zero).
pub fn spawn(ledger: &Ledger) -> Option<tokio::task::JoinHandle<()>> {
    let every = ledger.config.expiry_interval;
    if every.is_zero() {
        return None;
    }
    let db = ledger.db.clone();
    let publisher = ledger.publisher.clone();
    Some(tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match run(&db, Some(&publisher), Utc::now(), |_| {}).await {
                Ok(run) if run != ExpiryRun::default() => tracing::info!(
                    holds = run.holds_released,
                    released = run.points_released,
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
