//! Attempts per key (a client id, a source address) in fixed one-minute windows, in this
//! process: `/oauth/token` costs an Argon2id verification (19 MiB, tens of milliseconds)
//! per attempt, so guessing secrets or exhausting memory must be slow. Each hub process
//! keeps its own counts (N processes allow N times the rate; docs/OPERATIONS.md).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

const WINDOW: Duration = Duration::from_secs(60);

/// Bounds the map: a flood of distinct keys (spoofed client ids) cannot grow it for ever.
const MAX_KEYS: usize = 100_000;

pub(crate) struct Attempts {
    per_window: u32,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Attempts {
    pub(crate) fn new(per_minute: u32) -> Attempts {
        Attempts {
            per_window: per_minute,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt for `key`; `Err(wait)` when its window is already full.
    pub(crate) fn attempt(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= MAX_KEYS {
            counts.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if counts.len() >= MAX_KEYS {
                counts.clear();
            }
        }
        let (start, count) = counts.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            (*start, *count) = (now, 0);
        }
        if *count >= self.per_window {
            return Err(WINDOW.saturating_sub(now.duration_since(*start)));
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_fills_and_each_key_has_its_own() {
        let attempts = Attempts::new(3);
        for _ in 0..3 {
            assert!(attempts.attempt("a").is_ok());
        }
        let wait = attempts.attempt("a").unwrap_err();
        assert!(wait > Duration::from_secs(58) && wait <= WINDOW);
        assert!(attempts.attempt("b").is_ok());
    }
}
