//! `AppState`: what every request needs, built once per process.

use std::sync::Arc;

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{
    auth::{KeySet, partner_status::PartnerStatusCache},
    config::Config,
    db,
    services::{
        batch::Batcher,
        leaderboards::Leaderboards,
        live::{LiveBalances, Publisher},
    },
};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: db::DbPool,
    pub redis: Redis,
    pub keys: Arc<KeySet>,
    pub partner_status: Arc<PartnerStatusCache>,
    pub batcher: Batcher,
    pub leaderboards: Arc<Leaderboards>,
    /// `balanceChanged` subscriptions served by this process.
    pub live: Arc<LiveBalances>,
    /// Publishes balance changes after commit (for every process's `live`).
    pub publisher: Publisher,
}

impl AppState {
    /// Statements sent to PostgreSQL by this process's pool so far (round trips).
    pub fn db_queries(&self) -> u64 {
        self.db.queries()
    }

    /// Builds the state (within a tokio runtime: it starts the ledger's batch workers)
    /// without waiting for Redis: the hub serves ledger traffic while
    /// Redis is down (DESIGN.md), so Redis connects lazily and reconnects on its own.
    pub fn new(config: Config) -> anyhow::Result<AppState> {
        let keys = KeySet::from_config(&config.jwt).context("loading JWT keys")?;
        let db = db::pool(
            &config.database_url,
            config.db_pool_size,
            config.db_statement_timeout,
        )?;
        let redis = Redis::new(&config)?;
        let partner_status = Arc::new(PartnerStatusCache::new(config.partner_status_ttl));
        let publisher = Publisher::start(redis.clone());
        let batcher = Batcher::start(
            db.clone(),
            publisher.clone(),
            config.ledger.batch_workers,
            config.ledger.batch_linger,
            config.ledger.queue_capacity,
        );
        Ok(AppState {
            config: Arc::new(config),
            db,
            redis,
            keys: Arc::new(keys),
            partner_status,
            batcher,
            leaderboards: Arc::default(),
            live: Arc::default(),
            publisher,
        })
    }
}

/// Redis access with bounded waits, and the key prefix of this hub.
#[derive(Clone)]
pub struct Redis {
    pub manager: ConnectionManager,
    pub prefix: Arc<str>,
}

impl Redis {
    fn new(config: &Config) -> anyhow::Result<Redis> {
        let client = redis::Client::open(config.redis_url.as_str()).context("REDIS_URL")?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.redis_timeout))
            .set_response_timeout(Some(config.redis_timeout))
            .set_number_of_retries(1);
        let manager = ConnectionManager::new_lazy_with_config(client, manager_config)
            .context("creating the Redis connection manager")?;
        Ok(Redis {
            manager,
            prefix: config.redis_prefix.as_str().into(),
        })
    }

    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    pub async fn ping(&self) -> bool {
        let mut conn = self.manager.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .is_ok()
    }
}
