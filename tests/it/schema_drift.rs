//! Generated files checked for drift: `schema.graphql` from the one schema builder, and
//! `src/db/schema.rs` from `diesel print-schema` over the migrated database.
//! Set `UPDATE_SCHEMAS=1` to rewrite them.

use std::{path::PathBuf, process::Command};

use crate::support::{env_url, template_database, url_for_database};

fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn check(relative: &str, generated: &str) {
    let file = path(relative);
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&file, generated).unwrap();
        return;
    }
    assert!(
        committed == generated,
        "{relative} is out of date: run `UPDATE_SCHEMAS=1 scripts/test.sh schema_drift` and commit it"
    );
}

#[test]
fn graphql_schema_file_matches_the_code() {
    check("schema.graphql", &coalition_hub::graphql::sdl());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diesel_schema_matches_the_migrations() {
    let database = template_database().await;
    let url = url_for_database(&env_url("DATABASE_URL"), database);
    let output = Command::new(std::env::var("DIESEL").unwrap_or_else(|_| "diesel".into()))
        .args(["print-schema", "--database-url", &url])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the diesel CLI runs (scripts/test.sh installs it)");
    assert!(
        output.status.success(),
        "diesel print-schema failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    check(
        "src/db/schema.rs",
        &String::from_utf8(output.stdout).unwrap(),
    );
}
