//! PostgreSQL access: the pool, embedded migrations and SQL files, the diesel schema and
//! the models.

pub mod ledger;
pub mod models;
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
use diesel::{
    ConnectionError,
    connection::{Instrumentation, InstrumentationEvent},
    sql_query,
};
use diesel_async::{
    AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
    pooled_connection::{
        AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
        deadpool::{Object, Pool},
    },
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbConn = Object<AsyncPgConnection>;

/// The connection pool, and a count of the statements its connections sent to PostgreSQL
/// (each one a round trip; `/metrics` exports it, the tests read it). It dereferences to
/// the deadpool [`Pool`], so `db.get()` and `db.status()` work as on the pool itself.
#[derive(Clone)]
pub struct DbPool {
    pool: Pool<AsyncPgConnection>,
    queries: Arc<AtomicU64>,
}

impl DbPool {
    /// Statements sent so far by this pool's connections (queries, and the `BEGIN` /
    /// `COMMIT` of transactions); connection setup and liveness checks are not counted.
    pub fn queries(&self) -> u64 {
        AtomicU64::load(&self.queries, Ordering::Relaxed)
    }
}

impl Deref for DbPool {
    type Target = Pool<AsyncPgConnection>;

    fn deref(&self) -> &Self::Target {
        &self.pool
    }
}

const LIVENESS_CHECK: &str = "SELECT 1";

/// Counts the statements a connection starts, except liveness checks (`SELECT 1`: the
/// pool's check of a connection it hands out again, `/readyz`'s).
struct QueryCounter(Arc<AtomicU64>);

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let text = query.to_string();
            if text.split(" -- binds").next() != Some(LIVENESS_CHECK) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A pool whose every connection has `statement_timeout` set, so that no query can hold a
/// connection (and its locks) longer than that.
///
/// Recycling stays verified: a checkout costs a liveness query (`SELECT 1`, not counted).
/// `Fast` would save that round trip, but a connection whose backend was just terminated
/// can be handed out again before diesel-async's `is_broken` sees its socket closed, and the
/// group commit's retry on "a fresh connection" then fails (tests/it/ledger.rs
/// `a_call_cut_off_mid_transaction_is_finished_by_the_hub`).
pub fn pool(url: &str, size: usize, statement_timeout: Duration) -> anyhow::Result<DbPool> {
    let timeout_ms = statement_timeout.as_millis();
    let queries = Arc::new(AtomicU64::new(0));
    let counter = queries.clone();
    let mut config = ManagerConfig::default();
    // Verified, with a query the counter recognises as a liveness check.
    config.recycling_method = RecyclingMethod::CustomQuery(LIVENESS_CHECK.into());
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
    let manager = AsyncDieselConnectionManager::new_with_config(url, config);
    let pool = Pool::builder(manager)
        .max_size(size)
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
