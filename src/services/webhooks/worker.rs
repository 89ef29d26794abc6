//! Webhook delivery inside `serve`, in every hub process: each poll, the process moves the
//! watermark up to the committed events, reads the new ones into its [`Tail`], leases
//! subscriptions with events due (each to one process), and sends each leased
//! subscription's events in order, one POST at a time. Every so often it also runs the
//! jobs that find expiring points and tier changes, and forgets old deliveries. How the
//! pieces keep events from being lost or sent twice: sql/webhooks/dispatch.sql and
//! deliver.sql.

use std::{
    sync::{Arc, PoisonError, RwLock},
    time::Instant,
};

use chrono::Utc;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{
    Webhooks,
    client::{Sent, WebhookClient},
    tail::{Audience, Position, Tail, TailEvent, TailRead},
};
use crate::{
    db::models::webhook::{AttemptRecord, Claimed, Delivery, NextDelivery, TailRow, TailSummary},
    domain::webhook::signature_header,
    error::{AppError, AppResult},
};

/// Rows handled per job transaction.
const JOB_BATCH: i32 = 1000;
/// Job batches per run at most: a job behind catches up over a few runs.
const JOB_ROUNDS: usize = 20;
/// Tail reads per poll at most, each of at most a quarter of the tail.
const TAIL_READS: usize = 4;

/// One process's delivery worker.
#[derive(Clone)]
pub struct Worker {
    webhooks: Webhooks,
    client: WebhookClient,
    /// This process, as the lease owner.
    owner: Uuid,
    /// Written by the poll only; read by the deliveries.
    tail: Arc<RwLock<Tail>>,
}

/// The next POST to a leased subscription, and whether the lease goes with its answer.
struct Post {
    delivery: NextDelivery,
    last: bool,
}

impl Worker {
    pub fn new(webhooks: Webhooks) -> anyhow::Result<Worker> {
        let client = WebhookClient::new(&webhooks.config)?;
        Ok(Worker {
            tail: Arc::new(RwLock::new(Tail::new(webhooks.config.tail_events))),
            webhooks,
            client,
            owner: Uuid::new_v4(),
        })
    }

    /// Moves the watermark up to the committed events.
    pub async fn dispatch(&self) -> AppResult<bool> {
        let mut conn = self.webhooks.db.get().await?;
        Ok(Delivery::dispatch(&mut conn).await?)
    }

    /// Finds expiring points and tier changes, and forgets what is past retention.
    pub async fn jobs(&self) -> AppResult<()> {
        let mut conn = self.webhooks.db.get().await?;
        let config = &self.webhooks.config;
        let now = Utc::now();
        for _ in 0..JOB_ROUNDS {
            let noticed =
                Delivery::expiring_lots(&mut conn, now, config.expiry_notice_days, JOB_BATCH)
                    .await?;
            if noticed < JOB_BATCH {
                break;
            }
        }
        // Catching up after a busy spell, a bounded number of batches per run.
        for _ in 0..JOB_ROUNDS {
            if Delivery::tier_watch(&mut conn, now, config.tier_settle, JOB_BATCH).await?
                < JOB_BATCH
            {
                break;
            }
        }
        let before = now - chrono::Duration::from_std(config.retention).unwrap_or_default();
        Delivery::purge(&mut conn, before, 10 * JOB_BATCH).await?;
        Ok(())
    }

    /// Leases up to `room` subscriptions with events due, by what the tail knows.
    async fn claim(&self, room: usize) -> AppResult<Vec<Claimed>> {
        let summary = {
            let tail = self.tail.read().unwrap_or_else(PoisonError::into_inner);
            let (start, newest) = (tail.start(), tail.newest());
            let (partners, newest_of): (Vec<Uuid>, Vec<Position>) = tail.partners().unzip();
            TailSummary {
                start: (start.txid, start.event_id),
                newest: (newest.txid, newest.event_id),
                partners,
                partner_txids: newest_of.iter().map(|p| p.txid).collect(),
                partner_event_ids: newest_of.iter().map(|p| p.event_id).collect(),
            }
        };
        let mut conn = self.webhooks.db.get().await?;
        let room = i32::try_from(room).unwrap_or(i32::MAX);
        let lease = self.webhooks.config.lease;
        Ok(Delivery::claim(&mut conn, self.owner, lease, room, &summary).await?)
    }

    /// Reads the events past the tail up to the watermark into it.
    async fn read_tail(&self) -> AppResult<()> {
        let mut conn = self.webhooks.db.get().await?;
        let max = (self.webhooks.config.tail_events / 4).max(1);
        for _ in 0..TAIL_READS {
            let after = self
                .tail
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .after();
            let limit = i32::try_from(max).unwrap_or(i32::MAX);
            let rows = Delivery::tail(&mut conn, after.txid, after.event_id, limit).await?;
            let watermark = rows.first().map(|r| Position {
                txid: r.watermark_txid,
                event_id: r.watermark_event_id,
            });
            let Some(watermark) = watermark else {
                return Err(AppError::internal(anyhow::anyhow!(
                    "hub_webhook_tail answered no row"
                )));
            };
            let events: Vec<TailEvent> = rows.into_iter().filter_map(tail_event).collect();
            let read = events.len();
            let mut tail = self.tail.write().unwrap_or_else(PoisonError::into_inner);
            tail.extend(events, watermark, max);
            if read < max {
                break;
            }
        }
        Ok(())
    }

    /// Sends the subscription's events in order until none is left, one fails, or the
    /// lease is lost: one PostgreSQL round trip per POST (the attempt recorded) while its
    /// events are in the tail, two when it reads its own.
    async fn deliver(self, subscription: Claimed) -> AppResult<()> {
        let mut cursor = Position {
            txid: subscription.cursor_txid,
            event_id: subscription.cursor_event_id,
        };
        let mut own_read = subscription.redeliveries;
        let mut failed_attempts = subscription.failed_attempts;
        while let Some(post) = self
            .next_post(&subscription, cursor, own_read, failed_attempts)
            .await?
        {
            if self.send(&subscription, &post).await? != "DELIVERED" || post.last {
                break;
            }
            // Redeliveries may be followed by more; the stream goes back to the tail.
            own_read = post.delivery.redeliveries.is_some();
            if let (Some(txid), Some(event_id)) =
                (post.delivery.cursor_txid, post.delivery.cursor_event_id)
            {
                cursor = Position { txid, event_id };
            }
            failed_attempts = 0;
        }
        Ok(())
    }

    /// The subscription's next POST: from the tail, or (redeliveries, a cursor older than
    /// the tail) read from PostgreSQL. None: nothing is left, and the lease is given up.
    async fn next_post(
        &self,
        subscription: &Claimed,
        cursor: Position,
        own_read: bool,
        failed_attempts: i32,
    ) -> AppResult<Option<Post>> {
        let config = &self.webhooks.config;
        let max = config.events_per_delivery;
        let read = if own_read {
            TailRead::Uncovered
        } else {
            let audience = Audience {
                partner_id: subscription.partner_id,
                event_types: &subscription.event_types,
            };
            let tail = self.tail.read().unwrap_or_else(PoisonError::into_inner);
            tail.read(&audience, cursor, usize::try_from(max).unwrap_or(1))
        };
        match read {
            TailRead::Batch(batch) => Ok(Some(Post {
                delivery: NextDelivery {
                    attempt_id: Uuid::now_v7(),
                    event_ids: batch.event_ids,
                    events: batch.events,
                    redeliveries: None,
                    cursor_txid: Some(batch.cursor.txid),
                    cursor_event_id: Some(batch.cursor.event_id),
                    failed_attempts,
                },
                last: batch.last,
            })),
            TailRead::Nothing { cursor } => {
                let mut conn = self.webhooks.db.get().await?;
                let (txid, event) = (cursor.txid, cursor.event_id);
                Delivery::release(&mut conn, subscription.id, self.owner, txid, event).await?;
                Ok(None)
            }
            TailRead::Uncovered => {
                let mut conn = self.webhooks.db.get().await?;
                let id = subscription.id;
                let next = Delivery::next(&mut conn, id, self.owner, config.lease, max).await?;
                Ok(next.map(|delivery| Post {
                    delivery,
                    last: false,
                }))
            }
        }
    }

    /// Sends the POST and records it; answers the outcome (`hub_webhook_record`).
    async fn send(&self, subscription: &Claimed, post: &Post) -> AppResult<String> {
        let config = &self.webhooks.config;
        let delivery = &post.delivery;
        let sent = self.post(subscription, delivery).await;
        let failures = u32::try_from(delivery.failed_attempts).unwrap_or(0) + 1;
        let record = AttemptRecord {
            subscription: subscription.id,
            sent: delivery,
            status: sent.status.map(i32::from),
            latency_ms: i32::try_from(sent.latency.as_millis()).unwrap_or(i32::MAX),
            body: sent.excerpt.as_deref(),
            error: sent.error.as_deref(),
            succeeded: sent.succeeded(),
            retry_in: config.retry.delay(failures, rand::random::<f64>()),
            retry_for: config.retry_for,
            owner: self.owner,
            lease: config.lease,
            release: post.last,
        };
        let outcome = {
            let mut conn = self.webhooks.db.get().await?;
            Delivery::record(&mut conn, &record).await?
        };
        match outcome.as_str() {
            "DELIVERED" | "STOPPED" => {}
            "DISABLED" => {
                tracing::warn!(subscription = %subscription.id, "webhook subscription disabled: its deliveries failed for too long")
            }
            _ => {
                tracing::debug!(subscription = %subscription.id, status = ?sent.status, error = ?sent.error, "webhook delivery failed; retrying later")
            }
        }
        Ok(outcome)
    }

    /// One signed POST of a delivery's events.
    async fn post(&self, subscription: &Claimed, delivery: &NextDelivery) -> Sent {
        let body = format!(
            r#"{{"deliveryId":"{}","events":{}}}"#,
            delivery.attempt_id, delivery.events
        );
        let timestamp = Utc::now().timestamp();
        let headers = [
            (
                "hub-signature",
                signature_header(&subscription.secret, timestamp, body.as_bytes()),
            ),
            ("hub-delivery-id", delivery.attempt_id.to_string()),
        ];
        self.client.post(&subscription.url, &headers, body).await
    }

    /// One poll: dispatch, the jobs when due, and new leases for the room left.
    async fn poll(&self, in_flight: &mut JoinSet<AppResult<()>>, jobs_due: bool) -> AppResult<()> {
        self.dispatch().await?;
        self.read_tail().await?;
        if jobs_due {
            self.jobs().await?;
        }
        let room = self
            .webhooks
            .config
            .concurrency
            .saturating_sub(in_flight.len());
        if room == 0 {
            return Ok(());
        }
        for subscription in self.claim(room).await? {
            in_flight.spawn(self.clone().deliver(subscription));
        }
        Ok(())
    }
}

/// The worker of `serve`: every `poll_interval` (never when it is zero). Errors are logged
/// and retried; events wait in PostgreSQL meanwhile.
pub fn spawn(worker: Worker) -> Option<tokio::task::JoinHandle<()>> {
    let config = worker.webhooks.config.clone();
    if config.poll_interval.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let worker = Arc::new(worker);
        let mut tick = tokio::time::interval(config.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Deliveries in flight end with the worker (a killed hub's leases run out).
        let mut in_flight: JoinSet<AppResult<()>> = JoinSet::new();
        let mut jobs_ran: Option<Instant> = None;
        let mut failing = false;
        loop {
            // Leases are taken on the tick only: a subscription waits for the next one, and
            // its events gather into fuller POSTs meanwhile (each POST has a fixed cost).
            tick.tick().await;
            while let Some(done) = in_flight.try_join_next() {
                log_delivery_end(done);
            }
            let jobs_due = jobs_ran.is_none_or(|at| at.elapsed() >= config.jobs_interval);
            match worker.poll(&mut in_flight, jobs_due).await {
                Ok(()) => {
                    if jobs_due {
                        jobs_ran = Some(Instant::now());
                    }
                    if failing {
                        tracing::info!("webhook worker recovered");
                    }
                    failing = false;
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = ?e, "webhook worker failed; events wait in PostgreSQL and the worker retries");
                    }
                    failing = true;
                }
            }
        }
    }))
}

fn tail_event(row: TailRow) -> Option<TailEvent> {
    Some(TailEvent {
        position: Position {
            txid: row.txid?,
            event_id: row.event_id?,
        },
        event_type: row.r#type?,
        partner_ids: row.partner_ids?,
        body: row.body?,
    })
}

fn log_delivery_end(done: Result<AppResult<()>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = ?e, "webhook delivery stopped; its lease runs out and it is sent again")
        }
        Err(e) => tracing::error!(error = %AppError::internal(e), "webhook delivery task failed"),
    }
}
