//! Webhook delivery inside `serve`, in every hub process: each poll, the process
//! dispatches committed events into deliveries (one process at a time), leases subscriptions
//! with deliveries due (each to one process), and sends each leased subscription's
//! deliveries in order, one POST at a time. Every so often it also runs the jobs that find
//! expiring points and tier changes, and forgets old deliveries. How the pieces keep events
//! from being lost or sent twice: sql/webhooks/dispatch.sql and deliver.sql.

use std::{sync::Arc, time::Instant};

use chrono::Utc;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{
    Webhooks,
    client::{Sent, WebhookClient},
};
use crate::{
    db::models::webhook::{AttemptRecord, Claimed, Delivery, NextDelivery},
    domain::webhook::signature_header,
    error::{AppError, AppResult},
};

/// Rows handled per job transaction.
const JOB_BATCH: i32 = 1000;
/// Job batches per run at most: a job behind catches up over a few runs.
const JOB_ROUNDS: usize = 20;

/// One process's delivery worker.
#[derive(Clone)]
pub struct Worker {
    webhooks: Webhooks,
    client: WebhookClient,
    /// This process, as the lease owner.
    owner: Uuid,
}

impl Worker {
    pub fn new(webhooks: Webhooks) -> anyhow::Result<Worker> {
        let client = WebhookClient::new(&webhooks.config)?;
        Ok(Worker {
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

    /// Leases up to `room` subscriptions with deliveries due.
    async fn claim(&self, room: usize) -> AppResult<Vec<Claimed>> {
        let mut conn = self.webhooks.db.get().await?;
        let room = i32::try_from(room).unwrap_or(i32::MAX);
        Ok(Delivery::claim(&mut conn, self.owner, self.webhooks.config.lease, room).await?)
    }

    /// Sends the subscription's deliveries in order until none is left, one fails, or the
    /// lease is lost: one PostgreSQL round trip per POST (the attempt recorded, the next
    /// delivery read).
    async fn deliver(self, subscription: Claimed) -> AppResult<()> {
        let config = &self.webhooks.config;
        let mut next = {
            let mut conn = self.webhooks.db.get().await?;
            let max = config.events_per_delivery;
            Delivery::next(&mut conn, subscription.id, self.owner, config.lease, max).await?
        };
        while let Some(delivery) = next {
            let sent = self.post(&subscription, &delivery).await;
            let failures = u32::try_from(delivery.failed_attempts).unwrap_or(0) + 1;
            let record = AttemptRecord {
                subscription: subscription.id,
                sent: &delivery,
                status: sent.status.map(i32::from),
                latency_ms: i32::try_from(sent.latency.as_millis()).unwrap_or(i32::MAX),
                body: sent.excerpt.as_deref(),
                error: sent.error.as_deref(),
                succeeded: sent.succeeded(),
                retry_in: config.retry.delay(failures, rand::random::<f64>()),
                retry_for: config.retry_for,
            };
            let (outcome, following) = {
                let mut conn = self.webhooks.db.get().await?;
                let max = config.events_per_delivery;
                Delivery::record_and_next(&mut conn, &record, self.owner, config.lease, max).await?
            };
            match outcome.as_str() {
                "DELIVERED" => {}
                "DISABLED" => {
                    tracing::warn!(subscription = %subscription.id, "webhook subscription disabled: its deliveries failed for too long")
                }
                _ => {
                    tracing::debug!(subscription = %subscription.id, status = ?sent.status, error = ?sent.error, "webhook delivery failed; retrying later")
                }
            }
            next = following;
        }
        Ok(())
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

fn log_delivery_end(done: Result<AppResult<()>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = ?e, "webhook delivery stopped; its lease runs out and it is sent again")
        }
        Err(e) => tracing::error!(error = %AppError::internal(e), "webhook delivery task failed"),
    }
}
