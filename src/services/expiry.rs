//! Expiry: past-due holds are released, pending points whose return window has ended become
//! available, past-due lot points become breakage. Runs inside
//! `serve` on an interval and as `hub expire`. Idempotent and safe on several hub processes
//! at once (the SQL functions skip members another process holds and re-check under lock).

use chrono::{DateTime, Utc};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
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

/// The three jobs, in the order they run: a released hold may repay nothing but frees
/// points, released pending points may be past due, and then expiry runs.
#[derive(Clone, Copy)]
enum Job {
    ReleaseHolds,
    ReleasePending,
    ExpireLots,
}

/// Runs `job` batch by batch until nothing is due; each batch's rows go to `seen` after
/// the batch commits.
async fn drain(
    conn: &mut AsyncPgConnection,
    job: Job,
    now: DateTime<Utc>,
    mut seen: impl FnMut(&[Expired]),
) -> AppResult<()> {
    loop {
        let answer: Value = match job {
            Job::ReleaseHolds => {
                diesel::select(ledger_expire_holds(now, BATCH))
                    .get_result(conn)
                    .await?
            }
            Job::ReleasePending => {
                diesel::select(ledger_release_pending(now, BATCH))
                    .get_result(conn)
                    .await?
            }
            Job::ExpireLots => {
                diesel::select(ledger_expire_lots(now, BATCH))
                    .get_result(conn)
                    .await?
            }
        };
        let rows = LedgerAnswer::<Vec<Expired>>::from_json(answer)?;
        if rows.is_empty() {
            return Ok(());
        }
        seen(&rows);
    }
}

fn points_of(rows: &[Expired]) -> i64 {
    rows.iter()
        .fold(0i64, |sum, row| sum.saturating_add(row.points))
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
    for job in [Job::ReleaseHolds, Job::ReleasePending, Job::ExpireLots] {
        drain(&mut conn, job, now, |rows| {
            if let Some(publisher) = publisher {
                let outcomes: Vec<Outcome> = rows.iter().map(outcome).collect();
                publisher.publish(&outcomes);
            }
            let members = rows.len() as u64;
            match job {
                Job::ReleaseHolds => total.holds_released += members,
                Job::ReleasePending => {
                    total.members_released += members;
                    total.points_released = total.points_released.saturating_add(points_of(rows));
                }
                Job::ExpireLots => {
                    total.members_expired += members;
                    total.points_expired = total.points_expired.saturating_add(points_of(rows));
                }
            }
            progress(&total);
        })
        .await?;
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
