//! Live balances (`balanceChanged`). After a ledger operation commits, the hub process that
//! ran it publishes the member's new balance on Redis (`<prefix>balance:<member id>`).
//! Every hub process listens to all of them with one pattern subscription and hands each
//! event to the subscriptions of that member it serves, so a member's app sees entries
//! committed by any process. Publishing is best effort: the ledger never waits on it, and
//! with Redis down the app falls back to reading `me`.

use std::{
    borrow::Borrow,
    collections::HashMap,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::{
    db::{models::ledger::Balance, redis::Redis},
    services::outcome::Outcome,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceEvent {
    pub member_id: Uuid,
    pub entry_id: Uuid,
    pub available: i64,
    pub held: i64,
    pub debt: i64,
    pub lifetime_earned: i64,
    /// Earned, not yet spendable (a return window).
    #[serde(default)]
    pub pending: i64,
}

impl BalanceEvent {
    pub fn of(outcome: &Outcome) -> BalanceEvent {
        BalanceEvent {
            member_id: outcome.member_id,
            entry_id: outcome.entry_id,
            available: outcome.balance.available,
            held: outcome.balance.held,
            debt: outcome.balance.debt,
            lifetime_earned: outcome.balance.lifetime_earned,
            pending: outcome.balance.pending,
        }
    }

    pub fn balance(&self) -> Balance {
        Balance {
            available: self.available,
            held: self.held,
            debt: self.debt,
            lifetime_earned: self.lifetime_earned,
            pending: self.pending,
        }
    }
}

fn channel(redis: &Redis, member_id: Uuid) -> String {
    redis.key(&format!("balance:{member_id}"))
}

/// Events waiting to be published; beyond this (Redis slow or down) new ones are dropped.
const PUBLISH_QUEUE: usize = 10_000;

/// Publishes balance events from one task, in commit order, so that the ledger never waits
/// on Redis (with Redis down, a publish would wait for its timeout).
#[derive(Clone)]
pub struct Publisher {
    redis: Redis,
    queue: mpsc::Sender<Queued>,
}

enum Queued {
    Events(redis::Pipeline),
    /// Answered once everything queued before it was sent.
    Flush(tokio::sync::oneshot::Sender<()>),
}

impl Publisher {
    /// Starts the publishing task (within a tokio runtime).
    pub fn start(redis: Redis) -> Publisher {
        let (queue, mut pending) = mpsc::channel::<Queued>(PUBLISH_QUEUE);
        let mut conn = redis.manager.clone();
        tokio::spawn(async move {
            while let Some(queued) = pending.recv().await {
                match queued {
                    Queued::Events(pipe) => {
                        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                            tracing::debug!(error = %e, "balance events not published (Redis unavailable)");
                        }
                    }
                    Queued::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Publisher { redis, queue }
    }

    /// Queues the balances of operations that just committed (replays changed nothing and
    /// are skipped), as one pipeline. Takes outcomes or references to them.
    pub fn publish<O: Borrow<Outcome>>(&self, outcomes: &[O]) {
        let mut pipe = redis::pipe();
        let mut any = false;
        for outcome in outcomes.iter().map(Borrow::borrow).filter(|o| !o.replayed) {
            let Ok(payload) = serde_json::to_string(&BalanceEvent::of(outcome)) else {
                continue;
            };
            pipe.publish(channel(&self.redis, outcome.member_id), payload)
                .ignore();
            any = true;
        }
        if any && self.queue.try_send(Queued::Events(pipe)).is_err() {
            tracing::debug!("balance events dropped: the publish queue is full");
        }
    }

    /// Waits until everything queued so far was sent (a command about to exit).
    pub async fn flush(&self) {
        let (done, sent) = tokio::sync::oneshot::channel();
        if self.queue.send(Queued::Flush(done)).await.is_ok() {
            let _ = sent.await;
        }
    }
}

/// Events a subscription may have waiting: one that reads slower than its member's balance
/// changes loses its place instead of growing without bound.
pub(crate) const SUBSCRIPTION_QUEUE: usize = 64;

type Subscribers = HashMap<Uuid, Vec<(u64, mpsc::Sender<BalanceEvent>)>>;

/// The subscriptions this process serves, by member.
#[derive(Default)]
pub struct LiveBalances {
    subscribers: Mutex<Subscribers>,
    next_id: AtomicU64,
}

impl LiveBalances {
    pub fn subscribe(self: &Arc<Self>, member_id: Uuid) -> BalanceStream {
        let (sender, receiver) = mpsc::channel(SUBSCRIPTION_QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().entry(member_id).or_default().push((id, sender));
        BalanceStream {
            receiver,
            lagged_reported: false,
            _registration: Registration {
                live: self.clone(),
                member_id,
                id,
            },
        }
    }

    pub fn subscriptions(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Subscribers> {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any subscription of this process follows the member.
    fn is_watched(&self, member_id: Uuid) -> bool {
        self.lock().contains_key(&member_id)
    }

    /// Hands the event to the member's subscriptions. A subscription whose queue is full is
    /// dropped here: its stream then ends with [`Lagged`] once it has read what it holds.
    pub fn dispatch(&self, event: BalanceEvent) {
        let mut subscribers = self.lock();
        let Some(senders) = subscribers.get_mut(&event.member_id) else {
            return;
        };
        senders.retain(|(_, sender)| sender.try_send(event.clone()).is_ok());
        if senders.is_empty() {
            subscribers.remove(&event.member_id);
        }
    }
}

struct Registration {
    live: Arc<LiveBalances>,
    member_id: Uuid,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut subscribers = self.live.lock();
        if let Some(senders) = subscribers.get_mut(&self.member_id) {
            senders.retain(|(id, _)| *id != self.id);
            if senders.is_empty() {
                subscribers.remove(&self.member_id);
            }
        }
    }
}

/// The end of a subscription that fell behind: events were dropped, so the app should read
/// the balance again (`me`) and subscribe anew.
#[derive(Debug, PartialEq, Eq)]
pub struct Lagged;

/// One subscription's events; unsubscribes when dropped (the client went away). It ends
/// with `Err(Lagged)` when it fell [`SUBSCRIPTION_QUEUE`] events behind.
pub struct BalanceStream {
    receiver: mpsc::Receiver<BalanceEvent>,
    lagged_reported: bool,
    /// Held for its `Drop`.
    _registration: Registration,
}

impl Stream for BalanceStream {
    type Item = Result<BalanceEvent, Lagged>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BalanceEvent, Lagged>>> {
        // The sender goes only when dispatch dropped it (the registration holds its place
        // otherwise), so a closed queue means the subscription fell behind.
        match self.receiver.poll_recv(cx) {
            Poll::Ready(Some(event)) => Poll::Ready(Some(Ok(event))),
            Poll::Ready(None) if !self.lagged_reported => {
                self.lagged_reported = true;
                Poll::Ready(Some(Err(Lagged)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Listens to every member's channel for as long as the process runs, reconnecting after
/// errors, and dispatches to this process's subscriptions.
pub(crate) fn spawn_listener(
    redis_url: String,
    redis: Redis,
    live: Arc<LiveBalances>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let pattern = redis.key("balance:*");
        let prefix = redis.key("balance:");
        loop {
            match listen(&redis_url, &pattern, &prefix, &live).await {
                Ok(()) => tracing::warn!("balance event listener lost Redis; reconnecting"),
                Err(e) => tracing::debug!(error = %e, "balance event listener cannot reach Redis"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

async fn listen(
    redis_url: &str,
    pattern: &str,
    prefix: &str,
    live: &LiveBalances,
) -> redis::RedisResult<()> {
    let client = redis::Client::open(redis_url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.psubscribe(pattern).await?;
    let mut messages = pubsub.into_on_message();
    while let Some(message) = messages.next().await {
        let from_member = message
            .get_channel_name()
            .strip_prefix(prefix)
            .and_then(|id| id.parse::<Uuid>().ok());
        // Every hub hears every member's events; most have no subscriber here, and their
        // payload need not be read.
        if from_member.is_some_and(|member_id| !live.is_watched(member_id)) {
            continue;
        }
        let Ok(payload) = message.get_payload::<String>() else {
            continue;
        };
        match (from_member, serde_json::from_str::<BalanceEvent>(&payload)) {
            // The channel names the member: an event can reach no one else.
            (Some(member_id), Ok(event)) if event.member_id == member_id => live.dispatch(event),
            _ => tracing::warn!(
                channel = message.get_channel_name(),
                "unreadable balance event"
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(member_id: Uuid, n: i64) -> BalanceEvent {
        BalanceEvent {
            member_id,
            entry_id: Uuid::now_v7(),
            available: n,
            held: 0,
            debt: 0,
            lifetime_earned: n,
            pending: 0,
        }
    }

    /// A subscription that does not read keeps at most SUBSCRIPTION_QUEUE events, then
    /// ends with Lagged; the member's other subscription, which reads, misses nothing.
    #[tokio::test]
    async fn a_subscription_that_falls_behind_ends_with_lagged() {
        let live = Arc::new(LiveBalances::default());
        let member = Uuid::now_v7();
        let mut slow = live.subscribe(member);
        let mut reader = live.subscribe(member);
        let sent = SUBSCRIPTION_QUEUE as i64 + 10;
        for n in 1..=sent {
            live.dispatch(event(member, n));
            assert_eq!(reader.next().await.unwrap().unwrap().available, n);
        }
        for n in 1..=SUBSCRIPTION_QUEUE as i64 {
            assert_eq!(slow.next().await.unwrap().unwrap().available, n);
        }
        assert!(matches!(slow.next().await, Some(Err(Lagged))));
        assert!(slow.next().await.is_none());
        assert_eq!(live.subscriptions(), 1);
    }
}
