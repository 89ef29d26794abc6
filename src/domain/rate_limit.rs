//! Token buckets: a caller's budget of query cost. Each request pays its cost; the bucket
//! refills at a steady rate up to its capacity. The same rule runs in Redis (the shared
//! bucket, services::rate_limits) and here (each process's own, while Redis is down).

use std::time::Duration;

/// A bucket's size and refill.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketConfig {
    /// Cost a full bucket holds (a burst); 0: no limit.
    pub capacity: u32,
    /// Cost added back per second.
    pub refill_per_sec: u32,
}

impl BucketConfig {
    pub fn is_off(&self) -> bool {
        self.capacity == 0 || self.refill_per_sec == 0
    }
}

/// What a charge left: whether it was allowed, the cost left, and when to come back.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Charged {
    pub allowed: bool,
    pub remaining: u32,
    /// Until the bucket is full again.
    pub full_in: Duration,
    /// Refused: until the cost fits.
    pub retry_in: Duration,
}

/// A bucket's tokens as of a moment (milliseconds on any clock that does not go back).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    pub tokens: f64,
    pub at_ms: u64,
}

impl Bucket {
    pub fn full(config: BucketConfig, now_ms: u64) -> Bucket {
        Bucket {
            tokens: f64::from(config.capacity),
            at_ms: now_ms,
        }
    }

    /// Refills to `now_ms`, then takes `cost` if it fits (a refused charge takes nothing).
    pub fn charge(&mut self, config: BucketConfig, cost: u32, now_ms: u64) -> Charged {
        let capacity = f64::from(config.capacity);
        let rate = f64::from(config.refill_per_sec.max(1)) / 1000.0;
        let elapsed = now_ms.saturating_sub(self.at_ms) as f64;
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.at_ms = self.at_ms.max(now_ms);
        let cost = f64::from(cost);
        let allowed = self.tokens >= cost;
        if allowed {
            self.tokens -= cost;
        }
        let millis = |tokens: f64| Duration::from_millis((tokens.max(0.0) / rate).ceil() as u64);
        Charged {
            allowed,
            remaining: self.tokens.floor() as u32,
            full_in: millis(capacity - self.tokens),
            retry_in: if allowed {
                Duration::ZERO
            } else {
                millis(cost - self.tokens)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CONFIG: BucketConfig = BucketConfig {
        capacity: 100,
        refill_per_sec: 10,
    };

    #[test]
    fn a_full_bucket_pays_its_capacity_then_refuses_until_it_refills() {
        let mut bucket = Bucket::full(CONFIG, 0);
        assert!(bucket.charge(CONFIG, 60, 0).allowed);
        let refused = bucket.charge(CONFIG, 60, 0);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 40);
        // 20 more are needed at 10 per second.
        assert_eq!(refused.retry_in, Duration::from_secs(2));
        assert!(bucket.charge(CONFIG, 60, 2_000).allowed);
        assert_eq!(
            bucket.charge(CONFIG, 0, 2_000).full_in,
            Duration::from_secs(10)
        );
    }

    proptest! {
        /// Whatever the charges, what was allowed never passes the capacity plus what
        /// the time elapsed refilled.
        #[test]
        fn allowed_cost_never_passes_capacity_plus_refill(
            charges in prop::collection::vec((0u32..80, 0u64..500), 1..60)
        ) {
            let mut bucket = Bucket::full(CONFIG, 0);
            let (mut now, mut paid) = (0u64, 0u64);
            for (cost, wait) in charges {
                now += wait;
                if bucket.charge(CONFIG, cost, now).allowed {
                    paid += u64::from(cost);
                }
                let budget = u64::from(CONFIG.capacity) + now * u64::from(CONFIG.refill_per_sec) / 1000;
                prop_assert!(paid <= budget + 1, "paid {paid} of {budget}");
                prop_assert!(bucket.tokens >= 0.0 && bucket.tokens <= f64::from(CONFIG.capacity));
            }
        }
    }
}
