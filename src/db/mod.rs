//! PostgreSQL access: the pool, embedded migrations and SQL files, the diesel schema and
//! the models.

pub(crate) mod announcements;
pub(crate) mod ledger;
pub mod models;
pub(crate) mod partner_cache;
pub(crate) mod prepared;
pub(crate) mod redis;
pub mod schema;
pub mod sql_files;

use std::{
    ops::Deref,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use deadpool::managed::{Metrics, Object, Pool, QueueMode, RecycleResult};
use diesel::{
    ConnectionError,
    connection::{Instrumentation, InstrumentationEvent},
    sql_query,
};
use diesel_async::{
    AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
    pooled_connection::{
        AsyncDieselConnectionManager, ManagerConfig, PoolError, PoolableConnection,
    },
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbConn = Object<Manager>;

/// The connection pool, and a count of the statements its connections sent to PostgreSQL
/// (each one a round trip; `/metrics` exports it, the tests read it). It dereferences to
/// the deadpool [`Pool`], so `db.get()` and `db.status()` work as on the pool itself.
#[derive(Clone)]
pub struct DbPool {
    pool: Pool<Manager>,
    queries: Arc<AtomicU64>,
}

impl DbPool {
    /// Statements sent so far by this pool's connections (queries, liveness checks, and the
    /// `BEGIN` / `COMMIT` of transactions): its round trips. Connection setup is not counted.
    pub fn queries(&self) -> u64 {
        AtomicU64::load(&self.queries, Ordering::Relaxed)
    }
}

impl Deref for DbPool {
    type Target = Pool<Manager>;

    fn deref(&self) -> &Self::Target {
        &self.pool
    }
}

/// Counts the statements a connection starts.
struct QueryCounter(Arc<AtomicU64>);

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A connection handed out again within this long of its last checkout skips the liveness
/// round trip (as HikariCP's alive-bypass window): it was just working, and under load a
/// request takes several connections in turn, each check a round trip as dear as a query.
/// An older connection is checked with `SELECT 1` first; a broken one is never handed out.
const RECENTLY_USED: Duration = Duration::from_millis(500);

/// diesel-async's pool manager with the alive-bypass window above.
pub struct Manager(AsyncDieselConnectionManager<AsyncPgConnection>);

impl deadpool::managed::Manager for Manager {
    type Type = AsyncPgConnection;
    type Error = PoolError;

    async fn create(&self) -> Result<AsyncPgConnection, PoolError> {
        self.0.create().await
    }

    async fn recycle(
        &self,
        conn: &mut AsyncPgConnection,
        metrics: &Metrics,
    ) -> RecycleResult<PoolError> {
        if metrics.last_used() < RECENTLY_USED && !conn.is_broken() {
            return Ok(());
        }
        self.0.recycle(conn, metrics).await
    }
}

/// A pool whose every connection has `statement_timeout` set, so that no query can hold a
/// connection (and its locks) longer than that.
/// A connection idle for a while is checked before it is handed out ([`Manager`]).
pub fn pool(url: &str, size: usize, statement_timeout: Duration) -> anyhow::Result<DbPool> {
    let timeout_ms = statement_timeout.as_millis();
    let queries = Arc::new(AtomicU64::new(0));
    let counter = queries.clone();
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(move |url| {
        let counter = counter.clone();
        async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            conn.batch_execute(&format!(
                "SET statement_timeout = {timeout_ms}; SET idle_in_transaction_session_timeout = {timeout_ms}"
            ))
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            conn.set_instrumentation(QueryCounter(counter));
            Ok(conn)
        }
        .boxed()
    });
    let manager = Manager(AsyncDieselConnectionManager::new_with_config(url, config));
    let pool = Pool::builder(manager)
        .max_size(size)
        // The connection given back last is handed out first: it is the one most likely
        // within the alive-bypass window, and idle ones age at the bottom of the stack.
        .queue_mode(QueueMode::Lifo)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the database pool")?;
    Ok(DbPool { pool, queries })
}

/// Runs pending migrations (the tables), then applies the `sql/` files that changed (the
/// functions and triggers, [`sql_files`]); returns the migration versions and the
/// `sql/` paths it applied. A session advisory lock covers both, so two hubs migrating at
/// once take turns.
pub async fn migrate(url: &str) -> anyhow::Result<Vec<String>> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connecting to PostgreSQL to migrate")?;
    conn.batch_execute(&format!(
        "SELECT pg_advisory_lock({})",
        sql_files::MIGRATE_LOCK
    ))
    .await
    .context("taking the migration lock")?;
    // The harness blocks in place: this needs the multi-threaded tokio runtime.
    let mut harness = AsyncMigrationHarness::new(conn);
    let migrated = harness
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(|v| v.to_string()).collect::<Vec<_>>())
        .map_err(|e| anyhow::anyhow!("running migrations: {e}"));
    let mut conn = harness.into_inner();
    let result = match migrated {
        Ok(mut applied) => sql_files::apply(&mut conn).await.map(|files| {
            applied.extend(files.into_iter().map(|f| format!("sql/{f}")));
            applied
        }),
        Err(e) => Err(e),
    };
    conn.batch_execute(&format!(
        "SELECT pg_advisory_unlock({})",
        sql_files::MIGRATE_LOCK
    ))
    .await
    .context("releasing the migration lock")?;
    result
}

/// True when PostgreSQL answers a trivial query within the pool's timeouts.
pub async fn ping(pool: &DbPool) -> bool {
    match pool.get().await {
        Ok(mut conn) => sql_query("SELECT 1").execute(&mut conn).await.is_ok(),
        Err(_) => false,
    }
}
