//! Group commit for the hot money-moving operations (`issuePoints`, `redeemPoints`).
//!
//! Requests are queued; a few workers each take whatever has queued up (a lone request goes
//! at once; only while another batch is in flight does a small batch linger a moment for
//! more) and send it as one `ledger_batch` call:
//! one round trip and one commit for many operations, each in its own subtransaction, so
//! one refusal rolls back that operation only. DESIGN.md measured commits and round trips as
//! the costs that bound throughput here; this shares them.
//!
//! The workers own the calls: a client that goes away does not cancel its operation, which
//! commits or rolls back with its batch. A call that fails as a whole (its connection lost)
//! is sent once more; the idempotency keys make that safe, and what the first attempt
//! committed before its answer was lost is answered as the operation's own booking.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use diesel_async::RunQueryDsl;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Mutex, MutexGuard, mpsc, oneshot};

use super::{live::Publisher, outcome::Outcome};
use crate::{
    db::{DbConn, DbPool, ledger::ledger_batch},
    domain::ledger::{Booked as Booking, LedgerAnswer},
    error::{AppError, AppResult},
};

/// Operations per call: well under PostgreSQL's 64 cached subtransactions per transaction.
const MAX_BATCH: usize = 32;

/// A worker keeps its connection from one batch to the next while batches keep coming:
/// taking one from the pool costs a round trip each time (the pool's liveness query). A
/// worker that waits longer than this for work gives it back; the pool checks it before
/// anyone uses it again. (So the pool needs more connections than there are workers.)
const KEEP_CONNECTION: Duration = Duration::from_secs(1);

/// One operation's arguments, as `ledger_batch` reads them.
#[derive(Serialize)]
pub struct BatchOp {
    pub op: &'static str,
    pub caller: String,
    pub key: String,
    /// hex
    pub fingerprint: String,
    pub partner_id: uuid::Uuid,
    pub member_id: Option<uuid::Uuid>,
    pub member_number: Option<String>,
    pub customer_id: Option<String>,
    pub new_member_id: Option<uuid::Uuid>,
    pub new_member_number: Option<String>,
    pub points: Option<i64>,
    pub purchase_amount: Option<String>,
    pub purchase_currency: Option<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub reference: Option<String>,
    /// issue: a referral code to attach to the member (it converts on a first earn here)
    pub referral_code: Option<String>,
    /// issue: when the points of a referral reward this earn converts expire
    pub reward_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// redeem: the member's presence code (else its consent is needed)
    pub presence_code: Option<String>,
    /// issue: campaign bonuses to book with the earn, before caps (sql/campaigns/award.sql)
    pub bonuses: Vec<BonusArg>,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// A campaign bonus as `hub_book_bonuses` reads it.
#[derive(Serialize)]
pub struct BonusArg {
    pub campaign_id: uuid::Uuid,
    pub points: i64,
}

impl BatchOp {
    /// How the member is named, as a sort key (the same member always sorts the same way
    /// when named the same way).
    fn member_order(&self) -> (Option<uuid::Uuid>, Option<&str>, Option<(uuid::Uuid, &str)>) {
        (
            self.member_id,
            self.member_number.as_deref(),
            self.customer_id.as_deref().map(|c| (self.partner_id, c)),
        )
    }
}

struct Job {
    op: BatchOp,
    reply: oneshot::Sender<AppResult<Outcome>>,
}

#[derive(Clone)]
pub struct Batcher {
    /// Bounded: a full queue refuses new work instead of growing without limit.
    queue: mpsc::Sender<Job>,
    counts: Arc<Counts>,
}

/// What `/metrics` shows of the group commit: operations over batches is the mean batch,
/// and busy time over batches the mean time a batch holds its worker.
#[derive(Default)]
pub struct Counts {
    pub batches: AtomicU64,
    pub operations: AtomicU64,
    /// from taking a batch to answering it: the `ledger_batch` call, most of it
    pub busy_micros: AtomicU64,
    /// operations refused because the queue was full
    pub refused: AtomicU64,
}

impl Batcher {
    /// Starts `workers` batch workers on the pool (each holds at most one connection); they
    /// hand the new balances to `publisher` after each commit. While another batch is in
    /// flight, a worker whose batch is less than half full waits up to `linger` for more.
    /// At most `capacity` operations wait for a worker.
    pub fn start(
        db: DbPool,
        publisher: Publisher,
        workers: usize,
        linger: Duration,
        capacity: usize,
    ) -> Batcher {
        let (queue, receiver) = mpsc::channel::<Job>(capacity.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let counts = Arc::new(Counts::default());
        for _ in 0..workers.max(1) {
            let (db, publisher, receiver, in_flight, counts) = (
                db.clone(),
                publisher.clone(),
                receiver.clone(),
                in_flight.clone(),
                counts.clone(),
            );
            tokio::spawn(async move {
                let mut held = Held::default();
                while let Some(jobs) = next_batch(&receiver, &mut held, linger, &in_flight).await {
                    counts.batches.fetch_add(1, Ordering::Relaxed);
                    counts
                        .operations
                        .fetch_add(jobs.len() as u64, Ordering::Relaxed);
                    let started = std::time::Instant::now();
                    run(&db, &mut held, &publisher, jobs).await;
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                    counts
                        .busy_micros
                        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                }
            });
        }
        Batcher { queue, counts }
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Operations waiting for a worker now.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Queues the operation and waits for its answer. A full queue answers `RATE_LIMITED`
    /// at once: nothing was queued, so nothing is written.
    pub async fn submit(&self, op: BatchOp) -> AppResult<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Job { op, reply })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => {
                    self.counts.refused.fetch_add(1, Ordering::Relaxed);
                    AppError::RateLimited
                }
                mpsc::error::TrySendError::Closed(_) => {
                    AppError::internal(anyhow::anyhow!("batch workers stopped"))
                }
            })?;
        answer
            .await
            .map_err(|_| AppError::internal(anyhow::anyhow!("batch worker dropped a job")))?
    }
}

/// This worker's next batch, counted in flight (`None` once the hub shuts down). A worker
/// that waits long for work gives its connection back first.
async fn next_batch(
    receiver: &Mutex<mpsc::Receiver<Job>>,
    held: &mut Held,
    linger: Duration,
    in_flight: &AtomicUsize,
) -> Option<Vec<Job>> {
    let (mut receiver, first) =
        match tokio::time::timeout(KEEP_CONNECTION, next_job(receiver)).await {
            Ok(next) => next,
            Err(_) => {
                held.0 = None;
                next_job(receiver).await
            }
        };
    let mut jobs = vec![first?];
    while jobs.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
    // Under load the requests answered by the batch that just committed come back a moment
    // later; sending at once would split them into many small batches, each paying a commit.
    // When idle, a lone request goes at once.
    if jobs.len() < MAX_BATCH / 2 && !linger.is_zero() && in_flight.load(Ordering::Acquire) > 0 {
        let deadline = tokio::time::Instant::now() + linger;
        while jobs.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(job)) => jobs.push(job),
                Ok(None) | Err(_) => break,
            }
        }
    }
    // Before the next worker takes the queue, so that it sees this batch in flight.
    in_flight.fetch_add(1, Ordering::AcqRel);
    Some(jobs)
}

/// Waits for this worker's turn at the queue, then for the queue's next job. Cancel-safe:
/// a timeout drops nothing that was taken.
async fn next_job(
    receiver: &Mutex<mpsc::Receiver<Job>>,
) -> (MutexGuard<'_, mpsc::Receiver<Job>>, Option<Job>) {
    let mut receiver = receiver.lock().await;
    let job = receiver.recv().await;
    (receiver, job)
}

/// The connection a worker keeps from one batch to the next.
#[derive(Default)]
struct Held(Option<DbConn>);

impl Held {
    async fn connection(&mut self, db: &DbPool) -> AppResult<&mut DbConn> {
        let conn = match self.0.take() {
            Some(conn) => conn,
            None => db.get().await?,
        };
        Ok(self.0.insert(conn))
    }

    /// After a call failed: the connection is closed rather than given back, so that the
    /// next call, the retry above all, starts on another one (a connection whose backend
    /// was just terminated may not look broken yet).
    fn discard(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(deadpool::managed::Object::take(conn));
        }
    }
}

async fn run(db: &DbPool, held: &mut Held, publisher: &Publisher, mut jobs: Vec<Job>) {
    // One lock order for every batch: concurrent batches then queue behind each other on a
    // shared member instead of deadlocking.
    jobs.sort_by(|a, b| a.op.member_order().cmp(&b.op.member_order()));
    let (ops, replies): (Vec<BatchOp>, Vec<_>) = jobs.into_iter().map(|j| (j.op, j.reply)).unzip();
    let answer = call(db, held, &ops).await;
    match answer {
        Ok(results) if results.len() == replies.len() => {
            // Each operation's member, and the ambassador rewarded by a referral it converted.
            let committed: Vec<Outcome> = results
                .iter()
                .filter_map(|(r, _)| r.as_ref().ok().cloned())
                .chain(results.iter().filter_map(|(_, reward)| reward.clone()))
                .collect();
            // The callers first: announcing their balances is not on their way back.
            for (reply, (result, _)) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
            publisher.publish(&committed);
        }
        Ok(_) | Err(_) => {
            let error = answer.err();
            tracing::error!(
                ?error,
                operations = replies.len(),
                "ledger batch failed as a whole"
            );
            for reply in replies {
                let _ = reply.send(Err(AppError::internal(anyhow::anyhow!(
                    "ledger batch failed"
                ))));
            }
        }
    }
}

/// Each operation's outcome, with the referral reward it caused (if any).
type BatchResult = (AppResult<Outcome>, Option<Outcome>);

/// One `ledger_batch` call. A call that fails as a whole (a connection killed or lost, most
/// often the kept one between batches) is sent once more on a connection the pool checked.
/// The idempotency keys make the second attempt safe whether or not the first committed:
/// what the first committed comes back as a replay of the same entries, and is answered as
/// what it is, the operation's own booking.
async fn call(db: &DbPool, held: &mut Held, ops: &[BatchOp]) -> AppResult<Vec<BatchResult>> {
    let payload = serde_json::to_value(ops).map_err(AppError::internal)?;
    let (answer, retried) = match send(db, held, &payload).await {
        Ok(answer) => (answer, false),
        Err(error) => {
            tracing::warn!(
                ?error,
                operations = ops.len(),
                "ledger batch failed; sending it again on a fresh connection"
            );
            (send(db, held, &payload).await?, true)
        }
    };
    // One answer per operation, in the shape of every ledger function (LedgerAnswer).
    let answers: Vec<LedgerAnswer<Booking>> = serde_json::from_value(answer)
        .map_err(|e| AppError::internal(anyhow::anyhow!("unreadable ledger_batch answer: {e}")))?;
    let mut results: Vec<BatchResult> = answers
        .into_iter()
        .map(|answer| match answer.into_result() {
            Ok(booked) => (
                Ok(Outcome::from(&booked)),
                booked.reward.as_deref().map(Outcome::from),
            ),
            Err(error) => (Err(error), None),
        })
        .collect();
    if retried && results.len() == ops.len() {
        answer_first_attempts_bookings(db, held, ops, &mut results).await;
    }
    Ok(results)
}

/// After a second attempt: what the first attempt booked before its answer was lost is not
/// a replay for the client, and its balance was never announced. The second attempt has
/// committed, so nothing here may fail the batch; if the lookup fails they stay replays.
async fn answer_first_attempts_bookings(
    db: &DbPool,
    held: &mut Held,
    ops: &[BatchOp],
    results: &mut [BatchResult],
) {
    let own = match held.connection(db).await {
        Ok(conn) => first_attempts_bookings(conn, ops, results).await,
        Err(error) => Err(error),
    };
    match own {
        Ok(own) => {
            for (result, _) in results.iter_mut() {
                if let Ok(o) = result
                    && own.contains(&o.entry_id)
                {
                    o.replayed = false;
                }
            }
        }
        Err(error) => {
            held.discard();
            tracing::warn!(
                ?error,
                "could not tell the first attempt's bookings from replays; they stay replays"
            );
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Booked {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: uuid::Uuid,
}

/// Of the replays in a second attempt, the entries that the first attempt booked (its answer
/// was lost): an entry carries the time of the operation that made it, so a replay whose
/// entry has this operation's own time is its own booking.
async fn first_attempts_bookings(
    conn: &mut DbConn,
    ops: &[BatchOp],
    results: &[BatchResult],
) -> AppResult<HashSet<uuid::Uuid>> {
    let replays: Vec<Value> = ops
        .iter()
        .zip(results)
        .filter_map(|(op, (result, _))| match result {
            // The time as ledger_batch read it (same serialisation, same rounding).
            Ok(o) if o.replayed => Some(json!({"entry_id": o.entry_id, "now": op.now})),
            _ => None,
        })
        .collect();
    if replays.is_empty() {
        return Ok(HashSet::new());
    }
    let booked: Vec<Booked> = diesel::sql_query(
        "SELECT e.id FROM jsonb_to_recordset($1) AS r(entry_id uuid, now timestamptz) \
         JOIN journal_entries e ON e.id = r.entry_id AND e.created_at = r.now",
    )
    .bind::<diesel::sql_types::Jsonb, _>(Value::Array(replays))
    .load(conn)
    .await?;
    Ok(booked.into_iter().map(|b| b.id).collect())
}

async fn send(db: &DbPool, held: &mut Held, payload: &Value) -> AppResult<Value> {
    let result = diesel::select(ledger_batch(payload))
        .get_result(held.connection(db).await?)
        .await;
    if result.is_err() {
        // Whatever went wrong, the next call starts on another connection.
        held.discard();
    }
    Ok(result?)
}
