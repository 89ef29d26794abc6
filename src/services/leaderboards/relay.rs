//! The outbox relay: moves committed activity from PostgreSQL into the Redis boards.
//!
//! Each batch runs in one PostgreSQL transaction that holds the projection lock (one relay
//! at a time across all hub processes), takes outbox rows, reads the *absolute* scores of
//! every (ambassador, board) they touch from the activity log, writes them to Redis in one
//! MULTI, and only then deletes the rows by committing. Applying is therefore idempotent: a
//! batch replayed after a crash, or an activity delivered twice, sets the same scores
//! again. If Redis is down the transaction rolls back and the rows wait. Because one relay
//! runs at a time and each reads scores after the previous one wrote, a later write never
//! carries an older score.

use std::collections::{BTreeMap, BTreeSet};

use diesel::{sql_query, sql_types::BigInt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Leaderboards;
use super::{PROJECTION_LOCK, board_key, handles_key, registry_key, version_key};
use crate::{
    db::models::ambassador::{self, PendingActivity, ScoreQuery},
    domain::leaderboard::{Board, BoardScope},
    error::{AppError, AppResult},
};

/// Outbox rows per batch.
const BATCH: i64 = 500;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayRun {
    /// Activities applied (an activity queued twice counts once).
    pub applied: usize,
    /// Redis had lost the boards, and they were rebuilt.
    pub rebuilt: bool,
    /// Another process holds the projection lock (only when not waiting).
    pub busy: bool,
}

enum Batch {
    Applied(usize),
    /// Redis has not seen every batch PostgreSQL recorded (`None`: it has no boards at all).
    RedisBehind(Option<i64>),
    Busy,
}

/// Applies the whole outbox, batch by batch. With `wait`, waits for another relay or
/// rebuild to finish instead of leaving the work to it.
pub async fn run_once(boards: &Leaderboards, wait: bool) -> AppResult<RelayRun> {
    let mut run = RelayRun::default();
    loop {
        match batch(boards, wait).await? {
            Batch::Busy => {
                run.busy = true;
                return Ok(run);
            }
            Batch::RedisBehind(seen) => {
                match seen {
                    None => tracing::warn!(
                        "Redis has no leaderboards (new, or flushed): building them from PostgreSQL"
                    ),
                    Some(v) => tracing::warn!(
                        redis_version = v,
                        "Redis lost leaderboard writes (restored from an older snapshot?): rebuilding"
                    ),
                }
                super::rebuild::rebuild(boards, |_| {}).await?;
                run.rebuilt = true;
            }
            Batch::Applied(n) => {
                run.applied += n;
                if n < BATCH as usize {
                    return Ok(run);
                }
            }
        }
    }
}

async fn batch(boards: &Leaderboards, wait: bool) -> AppResult<Batch> {
    let mut conn = boards.db.get().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        if !lock(conn, wait).await? {
            return Ok(Batch::Busy);
        }
        let pg_version = ambassador::projection_version(conn).await?;
        let seen = redis_version(boards).await?;
        if seen.is_none_or(|v| v < pg_version) {
            return Ok(Batch::RedisBehind(seen));
        }
        let pending = ambassador::take_outbox(conn, BATCH).await?;
        if pending.is_empty() {
            return Ok(Batch::Applied(0));
        }
        let taken = pending.len();
        let writes = absolute_scores(conn, &pending).await?;
        let ambassadors: Vec<Uuid> = writes.keys().map(|(a, _)| *a).collect();
        let handles = ambassador::handles(conn, &ambassadors).await?;
        let version = ambassador::bump_projection_version(conn).await?;
        apply(boards, &writes, &handles, version).await?;
        Ok(Batch::Applied(taken))
    })
    .await
}

async fn lock(conn: &mut AsyncPgConnection, wait: bool) -> AppResult<bool> {
    #[derive(diesel::QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let query = if wait {
        "SELECT true AS locked FROM (SELECT pg_advisory_xact_lock($1)) l"
    } else {
        "SELECT pg_try_advisory_xact_lock($1) AS locked"
    };
    let row: Locked = sql_query(query)
        .bind::<BigInt, _>(PROJECTION_LOCK)
        .get_result(conn)
        .await?;
    Ok(row.locked)
}

/// The version Redis has seen; none when it has no boards (flushed or never built).
async fn redis_version(boards: &Leaderboards) -> AppResult<Option<i64>> {
    let mut conn = boards.redis.manager.clone();
    let version: Option<i64> = redis::cmd("GET")
        .arg(version_key(&boards.redis))
        .query_async(&mut conn)
        .await
        .map_err(redis_down)?;
    Ok(version)
}

fn redis_down(error: redis::RedisError) -> AppError {
    AppError::internal(anyhow::anyhow!("Redis: {error}"))
}

/// Every (ambassador, board) the pending activities touch, with its score from the log.
async fn absolute_scores(
    conn: &mut AsyncPgConnection,
    pending: &[PendingActivity],
) -> AppResult<BTreeMap<(Uuid, String), i64>> {
    let mut touched: Vec<(Uuid, String)> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut asked = Vec::new();
    for activity in pending {
        for board in Board::for_activity(activity.partner_id, activity.occurred_at) {
            let key = (activity.ambassador_id, board.key());
            if !seen.insert(key.clone()) {
                continue;
            }
            let (from, to) = board.window();
            asked.push(ScoreQuery {
                ambassador_id: activity.ambassador_id,
                partner_id: match board.scope {
                    BoardScope::Coalition => None,
                    BoardScope::Partner(id) => Some(id),
                },
                from,
                to,
            });
            touched.push(key);
        }
    }
    let scores = ambassador::scores(conn, &asked).await?;
    Ok(touched.into_iter().zip(scores).collect())
}

async fn apply(
    boards: &Leaderboards,
    writes: &BTreeMap<(Uuid, String), i64>,
    handles: &[(Uuid, String)],
    version: i64,
) -> AppResult<()> {
    let redis = &boards.redis;
    let mut pipe = redis::pipe();
    pipe.atomic();
    let mut boards = BTreeSet::new();
    for ((ambassador_id, board), score) in writes {
        let key = board_key(redis, board);
        if *score > 0 {
            pipe.zadd(&key, ambassador_id.to_string(), *score).ignore();
        } else {
            pipe.zrem(&key, ambassador_id.to_string()).ignore();
        }
        boards.insert(board.as_str());
    }
    for (id, handle) in handles {
        pipe.hset(handles_key(redis), id.to_string(), handle)
            .ignore();
    }
    pipe.sadd(registry_key(redis), boards.into_iter().collect::<Vec<_>>())
        .ignore();
    pipe.set(version_key(redis), version).ignore();
    let mut conn = redis.manager.clone();
    pipe.query_async::<()>(&mut conn).await.map_err(redis_down)
}

/// The relay of `serve`: every `leaderboard_relay_interval` (never when it is zero). Errors
/// (Redis down) are logged and retried; the outbox keeps the work meanwhile.
pub fn spawn(boards: &Leaderboards) -> Option<tokio::task::JoinHandle<()>> {
    let every = boards.relay_interval;
    if every.is_zero() {
        return None;
    }
    let boards = boards.clone();
    Some(tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            interval.tick().await;
            match run_once(&boards, false).await {
                Ok(run) => {
                    if failing {
                        tracing::info!("leaderboard relay recovered");
                        failing = false;
                    }
                    if run.applied > 0 {
                        tracing::debug!(applied = run.applied, "leaderboard relay");
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = ?e, "leaderboard relay failed; the outbox keeps the activity and the relay retries");
                    }
                    failing = true;
                }
            }
        }
    }))
}
