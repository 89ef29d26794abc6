//! Redis access with bounded waits, and the key prefix of this hub. Redis holds derived
//! views only (leaderboards, balance events): everything in it can be rebuilt.

use std::{sync::Arc, time::Duration};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use anyhow::Context;

#[derive(Clone)]
pub struct Redis {
    pub manager: ConnectionManager,
    pub prefix: Arc<str>,
}

impl Redis {
    /// Connects lazily and reconnects on its own: the hub serves ledger traffic while
    /// Redis is down.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Redis> {
        let client = ::redis::Client::open(url).context("REDIS_URL")?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let manager = ConnectionManager::new_lazy_with_config(client, manager_config)
            .context("creating the Redis connection manager")?;
        Ok(Redis {
            manager,
            prefix: prefix.into(),
        })
    }

    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    pub async fn ping(&self) -> bool {
        let mut conn = self.manager.clone();
        ::redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .is_ok()
    }
}
