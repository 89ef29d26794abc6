//! `AppState`: what every request needs, built once per process.

use std::sync::Arc;

use anyhow::Context;

use crate::{
    auth::KeySet,
    config::Config,
    db::{self, partner_cache::PartnerCache, redis::Redis},
    services::{
        ambassadors::Ambassadors,
        batch::Batcher,
        leaderboards::Leaderboards,
        ledger::Ledger,
        live::{LiveBalances, Publisher},
        members::Members,
        rate_limits::RateLimits,
        settlement::Settlement,
        webhooks::Webhooks,
    },
};

/// What the HTTP and GraphQL layers and the CLI hand to the services: the narrow handles
/// (ledger, leaderboards, ambassadors, live balances) and the shared parts they are built
/// from. The services themselves never see this type.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: db::DbPool,
    pub redis: Redis,
    pub keys: Arc<KeySet>,
    pub partners: Arc<PartnerCache>,
    pub ledger: Ledger,
    pub leaderboards: Leaderboards,
    pub ambassadors: Ambassadors,
    pub members: Members,
    pub settlement: Settlement,
    /// `balanceChanged` subscriptions served by this process.
    pub live: Arc<LiveBalances>,
    /// Query-cost budgets of partners and members.
    pub rate_limits: Arc<RateLimits>,
    pub webhooks: Webhooks,
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
        let redis = Redis::new(
            &config.redis_url,
            &config.redis_prefix,
            config.redis_timeout,
        )?;
        let partners = Arc::new(PartnerCache::new(config.partner_cache_ttl));
        let publisher = Publisher::start(redis.clone());
        let batcher = Batcher::start(
            db.clone(),
            publisher.clone(),
            config.ledger.batch_workers,
            config.ledger.batch_linger,
            config.ledger.queue_capacity,
        );
        let ledger = Ledger {
            db: db.clone(),
            batcher,
            publisher: publisher.clone(),
            config: Arc::new(config.ledger.clone()),
            partners: partners.clone(),
            campaigns: Arc::new(crate::services::campaigns::LiveCampaigns::new(
                config.ledger.campaign_copy_ttl,
            )),
        };
        let leaderboards = Leaderboards::new(
            db.clone(),
            redis.clone(),
            &config.database_url,
            config.leaderboard_relay_interval,
        );
        let ambassadors = Ambassadors {
            db: db.clone(),
            publisher,
            points_lifetime: config.ledger.points_lifetime,
        };
        let keys = Arc::new(keys);
        let members = Members {
            db: db.clone(),
            keys: keys.clone(),
        };
        let settlement = Settlement { db: db.clone() };
        let rate_limits = Arc::new(RateLimits::new(redis.clone(), config.rate_limits.clone()));
        let webhooks = Webhooks {
            db: db.clone(),
            config: Arc::new(config.webhooks.clone()),
        };
        Ok(AppState {
            config: Arc::new(config),
            db,
            redis,
            keys,
            members,
            settlement,
            partners,
            ledger,
            leaderboards,
            ambassadors,
            live: Arc::default(),
            rate_limits,
            webhooks,
        })
    }
}
