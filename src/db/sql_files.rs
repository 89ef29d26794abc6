//! The SQL functions and triggers: every one lives in exactly one file under `sql/`,
//! embedded in the binary (build.rs lists them) and applied by [`apply`] after the diesel
//! migrations, which hold the tables only.
//!
//! `hub_sql_files` records the SHA-256 of each file as last applied: a file whose text
//! changed is applied again (its functions are `CREATE OR REPLACE`, its triggers
//! `CREATE OR REPLACE TRIGGER`), an unchanged one is skipped. Everything is applied in one
//! transaction under an advisory lock, so two hubs migrating at once apply each change once
//! and never see half of it.

use diesel::{
    QueryableByName, sql_query,
    sql_types::{Bytea, Text},
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use sha2::{Digest, Sha256};

include!(concat!(env!("OUT_DIR"), "/sql_files.rs"));

/// The advisory lock `hub migrate` holds while it migrates and applies (any number: it
/// only has to be the same in every hub).
pub const MIGRATE_LOCK: i64 = 0x0068_7562_5f6d_6967; // "hub_mig"

#[derive(QueryableByName)]
struct Applied {
    #[diesel(sql_type = Text)]
    path: String,
    #[diesel(sql_type = Bytea)]
    sha256: Vec<u8>,
}

/// The hash recorded for each applied file, by path.
pub async fn recorded(
    conn: &mut AsyncPgConnection,
) -> diesel::QueryResult<std::collections::BTreeMap<String, Vec<u8>>> {
    let rows: Vec<Applied> = sql_query("SELECT path, sha256 FROM hub_sql_files")
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|a| (a.path, a.sha256)).collect())
}

pub fn sha256(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

/// Applies the given files (path, text) whose hash differs from the one recorded, in the
/// order given, in one transaction; returns the paths applied. `hub migrate` passes
/// [`SQL_FILES`]; tests may pass other texts.
pub async fn apply_files(
    conn: &mut AsyncPgConnection,
    files: &[(&str, &str)],
) -> anyhow::Result<Vec<String>> {
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        conn.batch_execute(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATE_LOCK}); \
                 SET LOCAL check_function_bodies = off"
        ))
        .await?;
        let applied = recorded(conn).await?;
        let mut done = Vec::new();
        for (path, text) in files {
            let hash = sha256(text);
            if applied.get(*path) == Some(&hash) {
                continue;
            }
            conn.batch_execute(text)
                .await
                .map_err(|e| anyhow::anyhow!("applying sql/{path}: {e}"))?;
            sql_query(
                "INSERT INTO hub_sql_files (path, sha256, applied_at) VALUES ($1, $2, now()) \
                     ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, applied_at = now()",
            )
            .bind::<Text, _>(*path)
            .bind::<Bytea, _>(hash.as_slice())
            .execute(conn)
            .await?;
            done.push(path.to_string());
        }
        Ok(done)
    })
    .await
}

/// Applies the embedded `sql/` files that changed since they were last applied.
pub async fn apply(conn: &mut AsyncPgConnection) -> anyhow::Result<Vec<String>> {
    apply_files(conn, SQL_FILES).await
}
