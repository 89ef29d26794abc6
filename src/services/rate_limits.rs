//! Rate limits: each partner (all its credentials together) and each member has a budget
//! of query cost, a token bucket (domain::rate_limit) shared by every hub process through
//! Redis. A process takes cost from the shared bucket in leases (a hundredth of the
//! budget, or the request's cost if more) and spends a lease without asking Redis again,
//! so that a busy partner costs a Redis round trip per lease, not per request: all
//! processes together can pass a budget by at most one lease each. With Redis down or slow,
//! each process keeps buckets of its own, so that limits still hold per process and money
//! keeps moving. The operator is not limited.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use redis::Script;
use uuid::Uuid;

use crate::{
    auth::Principal,
    config,
    db::redis::Redis,
    domain::rate_limit::{Bucket, BucketConfig, Charged},
};

/// Takes a lease from the shared bucket, by the rule of `Bucket::charge`, on Redis's clock:
/// when the request's cost (ARGV[3]) fits, up to ARGV[4] (at least the cost) is taken.
/// Returns the cost granted (0: refused), the remaining cost, and the milliseconds until
/// full and until the cost fits.
const CHARGE: &str = r"
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2]) / 1000
local cost = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(saved[1]) or capacity
local at = tonumber(saved[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local granted = 0
if tokens >= cost then
  granted = math.max(cost, math.min(want, math.floor(tokens)))
  tokens = tokens - granted
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(at, now)))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
local retry = 0
if granted == 0 then retry = math.ceil((cost - tokens) / rate) end
return {granted, math.floor(tokens), math.ceil((capacity - tokens) / rate), retry}
";

/// How long a charge waits for Redis before the process's own bucket decides.
const REDIS_WAIT: Duration = Duration::from_millis(100);
/// After Redis failed, how long the process's own buckets decide without asking it.
const REDIS_BACKOFF: Duration = Duration::from_secs(1);
/// Buckets (and leases) a process keeps of its own at most (then it starts them over).
const MAX_LOCAL_BUCKETS: usize = 100_000;
/// A lease is this share of a budget (or the request's cost, if more).
const LEASE_SHARE: u32 = 100;
/// Cost left in a lease this long unused goes back by refill instead (it is dropped).
const LEASE_LIFETIME: Duration = Duration::from_secs(60);

/// Whose bucket: kept as ids (no text made per request); named for Redis only when a
/// lease is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Partner(Uuid),
    Member(Uuid),
}

impl Key {
    fn redis_suffix(self) -> String {
        match self {
            Key::Partner(id) => format!("rl:p:{id}"),
            Key::Member(id) => format!("rl:m:{id}"),
        }
    }
}

/// Cost a process took from a shared bucket and has not spent yet.
struct Lease {
    tokens: u32,
    /// The shared bucket's remaining cost and time to full when the lease was taken.
    remaining: u32,
    full_at: Instant,
    taken_at: Instant,
}

/// What a request paid, for `extensions.rateLimit` and `Retry-After`.
#[derive(Clone, Copy, Debug)]
pub struct Charge {
    pub cost: u32,
    pub allowed: bool,
    pub remaining: u32,
    /// When the bucket is full again.
    pub reset_at: DateTime<Utc>,
    /// Refused: how long until the cost fits.
    pub retry_after: Duration,
}

pub struct RateLimits {
    redis: Redis,
    script: Script,
    config: config::RateLimits,
    local: Mutex<HashMap<Key, Bucket>>,
    leases: Mutex<HashMap<Key, Lease>>,
    /// Redis failed: ask it again only after this.
    redis_down_until: Mutex<Option<Instant>>,
    epoch: Instant,
}

impl RateLimits {
    pub fn new(redis: Redis, config: config::RateLimits) -> RateLimits {
        RateLimits {
            redis,
            script: Script::new(CHARGE),
            config,
            local: Mutex::new(HashMap::new()),
            leases: Mutex::new(HashMap::new()),
            redis_down_until: Mutex::new(None),
            epoch: Instant::now(),
        }
    }

    /// Whether the caller has a budget (the operator has none; a budget of 0 is none).
    pub fn applies_to(&self, principal: &Principal) -> bool {
        self.bucket_of(principal).is_some()
    }

    fn bucket_of(&self, principal: &Principal) -> Option<(Key, BucketConfig)> {
        let (key, config) = match principal {
            Principal::Operator { .. } => return None,
            Principal::Partner { partner_id, .. } => {
                (Key::Partner(*partner_id), self.config.partner)
            }
            Principal::Member { member_id } => (Key::Member(*member_id), self.config.member),
        };
        (!config.is_off()).then_some((key, config))
    }

    /// Charges `cost` to the caller's bucket; None when the caller is not limited.
    pub async fn charge(&self, principal: &Principal, cost: u32) -> Option<Charge> {
        let (key, config) = self.bucket_of(principal)?;
        let charged = match self.spend_lease(key, cost) {
            Some(charged) => charged,
            None => match self.shared(key, config, cost).await {
                // Refused by Redis while concurrent requests of this process parked its
                // budget in the lease: spend from there.
                Some(refused) if !refused.allowed => self.spend_lease(key, cost).unwrap_or(refused),
                Some(charged) => charged,
                None => self.own(key, config, cost),
            },
        };
        Some(Charge {
            cost,
            allowed: charged.allowed,
            remaining: charged.remaining,
            reset_at: Utc::now() + charged.full_in,
            retry_after: charged.retry_in,
        })
    }

    /// Spends from this process's lease on the caller's shared bucket, if it holds enough.
    fn spend_lease(&self, key: Key, cost: u32) -> Option<Charged> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        let lease = leases.get_mut(&key)?;
        if lease.tokens < cost || lease.taken_at.elapsed() > LEASE_LIFETIME {
            return None;
        }
        lease.tokens -= cost;
        Some(Charged {
            allowed: true,
            remaining: lease.remaining.saturating_add(lease.tokens),
            full_in: lease.full_at.saturating_duration_since(Instant::now()),
            retry_in: Duration::ZERO,
        })
    }

    /// Takes a lease from the shared bucket in Redis and pays `cost` from it; None when
    /// Redis did not answer in time.
    async fn shared(&self, key: Key, config: BucketConfig, cost: u32) -> Option<Charged> {
        let down_until = *self
            .redis_down_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if down_until.is_some_and(|until| Instant::now() < until) {
            return None;
        }
        let want = cost.max(config.capacity / LEASE_SHARE);
        let mut conn = self.redis.manager.clone();
        let mut invocation = self.script.key(self.redis.key(&key.redis_suffix()));
        invocation
            .arg(config.capacity)
            .arg(config.refill_per_sec)
            .arg(cost)
            .arg(want);
        let answer = tokio::time::timeout(
            REDIS_WAIT,
            invocation.invoke_async::<(u32, u32, u64, u64)>(&mut conn),
        )
        .await;
        match answer {
            Ok(Ok((granted, remaining, full_ms, retry_ms))) => {
                let full_in = Duration::from_millis(full_ms);
                if granted >= cost && granted > 0 {
                    self.keep_lease(key, granted - cost, remaining, full_in);
                }
                Some(Charged {
                    allowed: granted >= cost && granted > 0,
                    remaining: remaining.saturating_add(granted.saturating_sub(cost)),
                    full_in,
                    retry_in: Duration::from_millis(retry_ms),
                })
            }
            failed => {
                tracing::warn!(error = ?failed.map(|r| r.err()), "rate limits: Redis did not answer; this process's own buckets decide for a while");
                *self
                    .redis_down_until
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + REDIS_BACKOFF);
                None
            }
        }
    }

    fn keep_lease(&self, key: Key, tokens: u32, remaining: u32, full_in: Duration) {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        if leases.len() >= MAX_LOCAL_BUCKETS && !leases.contains_key(&key) {
            leases.clear();
        }
        let now = Instant::now();
        // Concurrent requests may each take a lease: they add up, nothing is dropped.
        let kept = match leases.get(&key) {
            Some(lease) if lease.taken_at.elapsed() <= LEASE_LIFETIME => lease.tokens,
            _ => 0,
        };
        leases.insert(
            key,
            Lease {
                tokens: kept.saturating_add(tokens),
                remaining,
                full_at: now + full_in,
                taken_at: now,
            },
        );
    }

    /// This process's own bucket.
    fn own(&self, key: Key, config: BucketConfig, cost: u32) -> Charged {
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if local.len() >= MAX_LOCAL_BUCKETS && !local.contains_key(&key) {
            local.clear();
        }
        local
            .entry(key)
            .or_insert_with(|| Bucket::full(config, now_ms))
            .charge(config, cost, now_ms)
    }
}
