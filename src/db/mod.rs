//! PostgreSQL access: the pool, embedded migrations and SQL files, the diesel schema and
//! the models.

pub mod ledger;
pub mod models;
pub mod schema;
pub mod sql_files;

use std::time::Duration;

use anyhow::Context;
use diesel::{ConnectionError, sql_query};
use diesel_async::{
    AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
    pooled_connection::{
        AsyncDieselConnectionManager, ManagerConfig,
        deadpool::{Object, Pool},
    },
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

/// A pool whose every connection has `statement_timeout` set, so that no query can hold a
/// connection (and its locks) longer than that.
pub fn pool(url: &str, size: usize, statement_timeout: Duration) -> anyhow::Result<DbPool> {
    let timeout_ms = statement_timeout.as_millis();
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(move |url| {
        async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            conn.batch_execute(&format!(
                "SET statement_timeout = {timeout_ms}; SET idle_in_transaction_session_timeout = {timeout_ms}"
            ))
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::new_with_config(url, config);
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the database pool")
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
