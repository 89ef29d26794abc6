//! Rebuilding every board from PostgreSQL, and checking Redis against PostgreSQL.
//!
//! Both read the activity log in one REPEATABLE READ snapshot while holding the projection
//! lock (the relay waits meanwhile), summed by PostgreSQL per ambassador, partner, week and
//! month and streamed through a cursor in ambassador order, so memory holds one
//! ambassador's boards at a time whatever the size of the log. A rebuild writes into
//! temporary keys and swaps them in with one MULTI: readers see the old boards until the
//! new ones are complete.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use diesel::{sql_query, sql_types::BigInt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Leaderboards;
use super::{PROJECTION_LOCK, board_key, handles_key, registry_key, version_key};
use crate::{
    db::models::ambassador::{self, ScoreSlice},
    db::redis::Redis,
    domain::leaderboard::{Board, BoardScope, Period},
    error::{AppError, AppResult},
};

const FETCH: usize = 20_000;
/// Scores per pipeline sent to Redis.
const WRITE_BATCH: usize = 20_000;
/// Scores per batch of ZMSCORE when checking.
const CHECK_CHUNK: usize = 1_000;

#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub ambassadors_done: u64,
    pub ambassadors_total: u64,
    pub scores: u64,
}

#[derive(Debug, Default)]
pub struct RebuildReport {
    pub boards: usize,
    pub scores: u64,
    pub ambassadors: u64,
    pub version: i64,
    pub elapsed: Duration,
}

/// What a check found: the differences, at most `MAX_LISTED` of them spelled out.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub boards: usize,
    pub scores: u64,
    /// Scores that differ or are missing in Redis.
    pub wrong: u64,
    /// Entries in Redis that PostgreSQL has no score for.
    pub extra: u64,
    pub outbox_pending: i64,
    pub examples: Vec<String>,
    pub redis_version: Option<i64>,
    pub postgres_version: i64,
}

impl CheckReport {
    pub fn drift(&self) -> bool {
        self.wrong > 0
            || self.extra > 0
            || self.redis_version.is_none_or(|v| v < self.postgres_version)
    }
}

const MAX_LISTED: usize = 20;

/// Rebuilds every board, reporting progress as ambassadors are done.
pub async fn rebuild(
    boards: &Leaderboards,
    mut progress: impl FnMut(Progress),
) -> AppResult<RebuildReport> {
    let started = Instant::now();
    let redis = &boards.redis;
    let temp = redis.key(&format!("lb:rebuild:{}:", Uuid::now_v7().simple()));
    let mut sink = Writer::new(redis, &temp);
    let mut report = RebuildReport::default();
    let result = with_snapshot(boards, async |conn| {
        report.version = ambassador::projection_version(conn).await?;
        conn.batch_execute(ambassador::HANDLES_CURSOR).await?;
        let temp_handles = format!("{temp}handles");
        loop {
            let rows = ambassador::fetch_handles(conn, FETCH).await?;
            if rows.is_empty() {
                break;
            }
            let mut pipe = redis::pipe();
            let fields: Vec<(String, &str)> = rows
                .iter()
                .map(|r| (r.id.to_string(), r.handle.as_str()))
                .collect();
            pipe.hset_multiple(&temp_handles, &fields).ignore();
            pipe.expire(&temp_handles, 86_400).ignore();
            sink.send(pipe).await?;
        }
        let totals = stream_scores(conn, &mut sink, &mut progress).await?;
        sink.flush_all().await?;
        sink.finish().await?;
        report.ambassadors = totals.ambassadors_done;
        report.scores = totals.scores;
        Ok(())
    })
    .await;
    if let Err(e) = result {
        let _ = sink.finish().await;
        sink.discard().await;
        return Err(e);
    }
    report.boards = sink.written.len();
    sink.swap(report.version).await?;
    report.elapsed = started.elapsed();
    tracing::info!(
        boards = report.boards,
        scores = report.scores,
        seconds = report.elapsed.as_secs_f64(),
        "leaderboards rebuilt"
    );
    Ok(report)
}

/// Compares every score in Redis with PostgreSQL.
pub async fn check(boards: &Leaderboards) -> AppResult<CheckReport> {
    let redis = &boards.redis;
    let mut report = CheckReport::default();
    let mut conn = redis.manager.clone();
    report.redis_version = redis::cmd("GET")
        .arg(version_key(redis))
        .query_async(&mut conn)
        .await
        .map_err(redis_error)?;
    let mut sink = Checker {
        redis,
        pending: HashMap::new(),
        counts: BTreeMap::new(),
        report: &mut report,
    };
    with_snapshot(boards, async |conn| {
        sink.report.postgres_version = ambassador::projection_version(conn).await?;
        sink.report.outbox_pending = ambassador::outbox_len(conn).await?;
        stream_scores(conn, &mut sink, &mut |_| {}).await?;
        sink.flush_all().await
    })
    .await?;
    sink.count_extra().await?;
    Ok(report)
}

fn redis_error(error: redis::RedisError) -> AppError {
    AppError::internal(anyhow::anyhow!("Redis: {error}"))
}

/// Runs `work` on a dedicated connection holding the projection lock, inside a read-only
/// REPEATABLE READ transaction (one snapshot for the whole read).
async fn with_snapshot(
    boards: &Leaderboards,
    work: impl AsyncFnOnce(&mut AsyncPgConnection) -> AppResult<()>,
) -> AppResult<()> {
    let mut conn = AsyncPgConnection::establish(&boards.database_url)
        .await
        .map_err(AppError::internal)?;
    // A long read: no statement timeout, and room to sort the per-ambassador sums in memory.
    conn.batch_execute("SET statement_timeout = 0; SET work_mem = '256MB'")
        .await?;
    sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(PROJECTION_LOCK)
        .execute(&mut conn)
        .await?;
    conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let result = work(&mut conn).await;
    // Read only: ending it either way loses nothing.
    conn.batch_execute(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })
        .await?;
    // Closing the connection releases the lock even if this unlock fails.
    let _ = sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(PROJECTION_LOCK)
        .execute(&mut conn)
        .await;
    result
}

/// Where the summed scores go: written into temporary keys, or compared with Redis.
trait ScoreSink {
    async fn push(&mut self, board: &str, ambassador_id: &str, score: i64) -> AppResult<()>;
}

/// Streams every (board, ambassador, score) in ambassador order.
async fn stream_scores(
    conn: &mut AsyncPgConnection,
    sink: &mut impl ScoreSink,
    progress: &mut impl FnMut(Progress),
) -> AppResult<Progress> {
    let mut totals = Progress {
        ambassadors_total: ambassador::count_ambassadors(conn).await? as u64,
        ..Progress::default()
    };
    conn.batch_execute(ambassador::SLICES_CURSOR).await?;
    let mut current: Option<Uuid> = None;
    let mut boards: HashMap<Board, i64> = HashMap::new();
    // Board names, made once each (there are few boards and many scores).
    let mut names: HashMap<Board, String> = HashMap::new();
    let mut last_report = Instant::now();
    loop {
        let slices = ambassador::fetch_slices(conn, FETCH).await?;
        let done = slices.is_empty();
        for slice in slices {
            if current.is_some_and(|c| c != slice.ambassador_id) {
                let done = current.take().unwrap();
                emit(sink, done, &mut boards, &mut names, &mut totals).await?;
            }
            current = Some(slice.ambassador_id);
            add_slice(&mut boards, &slice);
        }
        if done {
            break;
        }
        if last_report.elapsed() > Duration::from_millis(200) {
            progress(totals);
            last_report = Instant::now();
        }
    }
    if let Some(ambassador_id) = current {
        emit(sink, ambassador_id, &mut boards, &mut names, &mut totals).await?;
    }
    progress(totals);
    Ok(totals)
}

/// One slice adds to six boards: partner and coalition, week, month and all time.
fn add_slice(boards: &mut HashMap<Board, i64>, slice: &ScoreSlice) {
    for scope in [BoardScope::Partner(slice.partner_id), BoardScope::Coalition] {
        for (period, start) in [
            (Period::Week, Some(slice.week)),
            (Period::Month, Some(slice.month)),
            (Period::AllTime, None),
        ] {
            *boards
                .entry(Board {
                    scope,
                    period,
                    start,
                })
                .or_default() += slice.score;
        }
    }
}

async fn emit(
    sink: &mut impl ScoreSink,
    ambassador_id: Uuid,
    boards: &mut HashMap<Board, i64>,
    names: &mut HashMap<Board, String>,
    totals: &mut Progress,
) -> AppResult<()> {
    let ambassador_id = ambassador_id.to_string();
    for (board, score) in boards.drain() {
        let name = names.entry(board).or_insert_with(|| board.key());
        sink.push(name, &ambassador_id, score).await?;
        totals.scores += 1;
    }
    totals.ambassadors_done += 1;
    Ok(())
}

/// Writes rebuilt boards into temporary keys. Scores are gathered into pipelines of many
/// ZADDs that a separate task sends, so reading PostgreSQL and writing Redis overlap.
struct Writer<'a> {
    redis: &'a Redis,
    temp: &'a str,
    pending: HashMap<String, Vec<(i64, String)>>,
    pending_count: usize,
    /// Boards written, with their temporary key.
    written: BTreeMap<String, String>,
    sender: Option<mpsc::Sender<redis::Pipeline>>,
    sending: Option<tokio::task::JoinHandle<AppResult<()>>>,
}

impl<'a> Writer<'a> {
    fn new(redis: &'a Redis, temp: &'a str) -> Writer<'a> {
        let (sender, mut receiver) = mpsc::channel::<redis::Pipeline>(2);
        let mut conn = redis.manager.clone();
        let sending = tokio::spawn(async move {
            while let Some(pipe) = receiver.recv().await {
                pipe.query_async::<()>(&mut conn)
                    .await
                    .map_err(redis_error)?;
            }
            Ok(())
        });
        Writer {
            redis,
            temp,
            pending: HashMap::new(),
            pending_count: 0,
            written: BTreeMap::new(),
            sender: Some(sender),
            sending: Some(sending),
        }
    }

    async fn send(&mut self, pipe: redis::Pipeline) -> AppResult<()> {
        let sender = self.sender.as_ref().expect("sending until finished");
        if sender.send(pipe).await.is_err() {
            // The task stopped on an error: finishing reports it.
            return self.finish().await;
        }
        Ok(())
    }

    async fn flush_all(&mut self) -> AppResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (board, members) in self.pending.drain() {
            let key = self
                .written
                .entry(board.clone())
                .or_insert_with(|| format!("{}{board}", self.temp));
            pipe.zadd_multiple(&*key, &members).ignore();
            // Left-overs of a failed rebuild vanish on their own.
            pipe.expire(&*key, 86_400).ignore();
        }
        self.pending_count = 0;
        self.send(pipe).await
    }

    /// Waits until everything sent is written.
    async fn finish(&mut self) -> AppResult<()> {
        self.sender.take();
        match self.sending.take() {
            Some(task) => task.await.map_err(AppError::internal)?,
            None => Ok(()),
        }
    }
    /// Replaces the live boards with the rebuilt ones in one transaction.
    async fn swap(&self, version: i64) -> AppResult<()> {
        let redis = self.redis;
        let mut conn = redis.manager.clone();
        let old: Vec<String> = redis::cmd("SMEMBERS")
            .arg(registry_key(redis))
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        let temp_handles = format!("{}handles", self.temp);
        let has_handles: bool = redis::cmd("EXISTS")
            .arg(&temp_handles)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for board in old.iter().filter(|b| !self.written.contains_key(*b)) {
            pipe.unlink(board_key(redis, board)).ignore();
        }
        for (board, temp) in &self.written {
            let live = board_key(redis, board);
            pipe.unlink(&live).ignore();
            pipe.rename(temp, &live).ignore();
            pipe.persist(&live).ignore();
        }
        pipe.unlink(handles_key(redis)).ignore();
        if has_handles {
            pipe.rename(&temp_handles, handles_key(redis)).ignore();
            pipe.persist(handles_key(redis)).ignore();
        }
        pipe.unlink(registry_key(redis)).ignore();
        if !self.written.is_empty() {
            pipe.sadd(registry_key(redis), self.written.keys().collect::<Vec<_>>())
                .ignore();
        }
        pipe.set(version_key(redis), version).ignore();
        pipe.query_async::<()>(&mut conn).await.map_err(redis_error)
    }

    /// Drops what a failed rebuild wrote (best effort: the keys expire anyway).
    async fn discard(&self) {
        let mut keys: Vec<String> = self.written.values().cloned().collect();
        keys.push(format!("{}handles", self.temp));
        let mut conn = self.redis.manager.clone();
        let _ = redis::cmd("UNLINK")
            .arg(keys)
            .query_async::<()>(&mut conn)
            .await;
    }
}

impl ScoreSink for Writer<'_> {
    async fn push(&mut self, board: &str, ambassador_id: &str, score: i64) -> AppResult<()> {
        match self.pending.get_mut(board) {
            Some(members) => members.push((score, ambassador_id.to_owned())),
            None => {
                self.pending
                    .insert(board.to_owned(), vec![(score, ambassador_id.to_owned())]);
            }
        }
        self.pending_count += 1;
        if self.pending_count >= WRITE_BATCH {
            self.flush_all().await?;
        }
        Ok(())
    }
}

struct Checker<'a> {
    redis: &'a Redis,
    pending: HashMap<String, Vec<(String, i64)>>,
    /// Scores PostgreSQL has per board.
    counts: BTreeMap<String, u64>,
    report: &'a mut CheckReport,
}

impl Checker<'_> {
    fn note(&mut self, example: String) {
        if self.report.examples.len() < MAX_LISTED {
            self.report.examples.push(example);
        }
    }

    async fn flush(&mut self, board: &str) -> AppResult<()> {
        let Some(expected) = self.pending.remove(board) else {
            return Ok(());
        };
        let mut conn = self.redis.manager.clone();
        let ids: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
        let actual: Vec<Option<f64>> = redis::cmd("ZMSCORE")
            .arg(board_key(self.redis, board))
            .arg(&ids)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        for ((id, want), got) in expected.iter().zip(actual) {
            if got.map(|g| g as i64) != Some(*want) {
                self.report.wrong += 1;
                self.note(format!(
                    "{board}: ambassador {id} has {} in Redis, {want} in PostgreSQL",
                    got.map_or("nothing".to_owned(), |g| (g as i64).to_string())
                ));
            }
        }
        Ok(())
    }

    async fn flush_all(&mut self) -> AppResult<()> {
        let boards: Vec<String> = self.pending.keys().cloned().collect();
        for board in boards {
            self.flush(&board).await?;
        }
        self.report.boards = self.counts.len();
        Ok(())
    }

    /// Boards (or board entries) in Redis that PostgreSQL has no score for.
    async fn count_extra(&mut self) -> AppResult<()> {
        let mut conn = self.redis.manager.clone();
        let mut boards: Vec<String> = redis::cmd("SMEMBERS")
            .arg(registry_key(self.redis))
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        boards.extend(self.counts.keys().cloned());
        boards.sort();
        boards.dedup();
        for board in boards {
            let in_redis: u64 = redis::cmd("ZCARD")
                .arg(board_key(self.redis, &board))
                .query_async(&mut conn)
                .await
                .map_err(redis_error)?;
            let in_postgres = self.counts.get(&board).copied().unwrap_or(0);
            if in_redis > in_postgres {
                self.report.extra += in_redis - in_postgres;
                self.note(format!(
                    "{board}: {in_redis} entries in Redis, {in_postgres} in PostgreSQL"
                ));
            }
        }
        Ok(())
    }
}

impl ScoreSink for Checker<'_> {
    async fn push(&mut self, board: &str, ambassador_id: &str, score: i64) -> AppResult<()> {
        self.report.scores += 1;
        *self.counts.entry(board.to_owned()).or_default() += 1;
        let expected = self.pending.entry(board.to_owned()).or_default();
        expected.push((ambassador_id.to_owned(), score));
        if expected.len() >= CHECK_CHUNK {
            self.flush(board).await?;
        }
        Ok(())
    }
}
