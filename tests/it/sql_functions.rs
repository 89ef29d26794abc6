//! The SQL functions have one source: every function in the migrated database is defined
//! in exactly one file under `sql/` (or, for the two kind lists that CHECK constraints
//! call, in the baseline migration), with the same signature and body as that file; and
//! `hub migrate` re-applies a file when, and only when, its text changed.

use std::collections::BTreeMap;

use coalition_hub::db::sql_files::{self, SQL_FILES, apply_files, sha256};
use diesel::{QueryableByName, sql_query, sql_types::Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::support::fresh_database;

/// Functions the baseline migration defines: the tables' CHECK constraints call them, so
/// they exist before any sql/ file is applied.
const BASELINE_FUNCTIONS: &[&str] = &[
    "hub_is_entry_kind(p_kind text)",
    "hub_is_settlement_kind(p_kind text)",
];

#[derive(QueryableByName, Debug)]
struct Function {
    /// name(identity arguments)
    #[diesel(sql_type = Text)]
    signature: String,
    /// The whole definition (result type, language, volatility, settings, body), with the
    /// schema name taken out.
    #[diesel(sql_type = Text)]
    definition: String,
}

/// The functions of `schema` that no extension owns, as `pg_get_functiondef` prints them.
fn functions_query(schema: &str) -> String {
    format!(
        "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature,
                replace(pg_get_functiondef(p.oid), 'FUNCTION {schema}.', 'FUNCTION ') AS definition
         FROM pg_proc p
         WHERE p.pronamespace = '{schema}'::regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
         ORDER BY 1"
    )
}

/// How many function definitions a file's text holds.
fn create_function_count(text: &str) -> usize {
    let lower = text.to_lowercase();
    lower.matches("create or replace function").count()
        + lower
            .match_indices("create function")
            .filter(|(i, _)| !lower[..*i].ends_with("or replace "))
            .count()
}

/// What each sql/ file defines, found by applying it alone into an empty schema placed
/// first on the search path (in a transaction rolled back afterwards).
async fn functions_by_file(conn: &mut AsyncPgConnection) -> BTreeMap<String, Vec<Function>> {
    let mut found = BTreeMap::new();
    for (path, text) in SQL_FILES {
        conn.batch_execute(
            "BEGIN; CREATE SCHEMA hub_probe; SET LOCAL search_path = hub_probe, public; \
             SET LOCAL check_function_bodies = off",
        )
        .await
        .unwrap();
        conn.batch_execute(text)
            .await
            .unwrap_or_else(|e| panic!("sql/{path} does not apply: {e}"));
        let functions: Vec<Function> = sql_query(functions_query("hub_probe"))
            .load(conn)
            .await
            .unwrap();
        conn.batch_execute("ROLLBACK").await.unwrap();
        assert_eq!(
            create_function_count(text),
            functions.len(),
            "sql/{path} defines a function more than once"
        );
        found.insert(path.to_string(), functions);
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_is_defined_once_in_a_sql_file_with_its_current_body() {
    let url = fresh_database().await;
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    // The same search path as the probes, so that both print type names alike.
    conn.batch_execute("SET search_path = hub_probe, public")
        .await
        .unwrap();
    let installed: BTreeMap<String, String> = sql_query(functions_query("public"))
        .load::<Function>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.signature, f.definition))
        .collect();

    let mut source: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (path, functions) in functions_by_file(&mut conn).await {
        assert!(!functions.is_empty(), "sql/{path} defines no function");
        for f in functions {
            assert!(
                !BASELINE_FUNCTIONS.contains(&f.signature.as_str()),
                "{} is defined by the baseline migration and again in sql/{path}",
                f.signature
            );
            if let Some((other, _)) = source.get(&f.signature) {
                panic!(
                    "{} is defined in sql/{other} and in sql/{path}",
                    f.signature
                );
            }
            source.insert(f.signature, (path.clone(), f.definition));
        }
    }

    for (signature, definition) in &installed {
        if BASELINE_FUNCTIONS.contains(&signature.as_str()) {
            continue;
        }
        let Some((path, file_definition)) = source.get(signature) else {
            panic!("{signature} is in the database but in no sql/ file");
        };
        assert_eq!(
            definition, file_definition,
            "{signature} in the database differs from sql/{path}"
        );
    }
    for (signature, (path, _)) in &source {
        assert!(
            installed.contains_key(signature),
            "{signature} of sql/{path} is not in the database"
        );
    }
    for signature in BASELINE_FUNCTIONS {
        assert!(installed.contains_key(*signature), "{signature} is missing");
    }
}

async fn recorded(conn: &mut AsyncPgConnection) -> BTreeMap<String, Vec<u8>> {
    sql_files::recorded(conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_is_applied_again_and_unchanged_ones_are_skipped() {
    let url = fresh_database().await;
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();

    // Every embedded file is recorded with its hash.
    let expected: BTreeMap<String, Vec<u8>> = SQL_FILES
        .iter()
        .map(|(path, text)| (path.to_string(), sha256(text)))
        .collect();
    assert_eq!(recorded(&mut conn).await, expected);

    // Nothing changed: nothing is applied.
    assert!(apply_files(&mut conn, SQL_FILES).await.unwrap().is_empty());

    // One file edited (a body changed): that file alone is applied, and recorded.
    let path = "ledger/results.sql";
    let original = SQL_FILES.iter().find(|(p, _)| *p == path).unwrap().1;
    let edited = original.replacen(
        "v.replayed := p_replayed;",
        "v.replayed := p_replayed; -- edited",
        1,
    );
    assert_ne!(
        edited, original,
        "{path} still has the line this test edits"
    );
    let files: Vec<(&str, &str)> = SQL_FILES
        .iter()
        .map(|(p, t)| (*p, if *p == path { edited.as_str() } else { *t }))
        .collect();
    assert_eq!(
        apply_files(&mut conn, &files).await.unwrap(),
        vec![path.to_string()]
    );
    let body: String =
        diesel::dsl::sql::<Text>("SELECT prosrc FROM pg_proc WHERE proname = 'hub_result_for'")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert!(body.contains("-- edited"));
    assert_eq!(recorded(&mut conn).await[path], sha256(&edited));
    assert!(apply_files(&mut conn, &files).await.unwrap().is_empty());

    // And back.
    assert_eq!(
        apply_files(&mut conn, SQL_FILES).await.unwrap(),
        vec![path.to_string()]
    );
    assert_eq!(recorded(&mut conn).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hubs_migrating_an_empty_database_at_once_both_succeed() {
    use crate::support::{env_url, url_for_database};
    let base = env_url("DATABASE_URL");
    let name = format!("hub_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = AsyncPgConnection::establish(&base).await.unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = url_for_database(&base, &name);
    let hub = |url: String| tokio::spawn(async move { coalition_hub::db::migrate(&url).await });
    let (a, b) = (hub(url.clone()), hub(url.clone()));
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
    // One of them did everything, the other found nothing left to do.
    assert!(a.is_empty() || b.is_empty(), "{a:?} {b:?}");
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(
        a.len() + b.len(),
        migrations + SQL_FILES.len(),
        "{a:?} {b:?}"
    );
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    assert_eq!(recorded(&mut conn).await.len(), SQL_FILES.len());
}
