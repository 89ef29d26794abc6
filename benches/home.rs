//! The member app's home screen (`scripts/bench-home.sh`, or `cargo bench --bench home --
//! ...` with DATABASE_URL and REDIS_URL set).
//!
//! Seeds M members with E earns each, spread over P partners, starts a real `hub serve` and
//! drives it over HTTP with C clients, each request as a random member (its own token):
//! - `home`: the one query the app's home screen sends: `me` with balance, points expiring,
//!   tier, and the 20 latest transactions with their partners' names;
//! - `balance`: `me { balance }` alone;
//! - `expiring`, `tier`: the points expiring, and the tier, alone;
//! - `history`: the 20 latest transactions with their partners' names alone.
//!
//! `--reuse` keeps the database of the previous run when it holds the same seed.
//! Prints a table and writes a CSV. `HUB_BIN` runs another build of the hub (for example
//! the code before a change) under the same load.

mod common;

use std::time::Duration;

use coalition_hub::{
    auth::{KeySet, Principal, TokenRequest},
    config::Config,
    db,
};
use common::{Load, Measured, database_url, drive, recreate, report, start_hub};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde_json::json;

struct Args {
    members: usize,
    earns: usize,
    partners: usize,
    clients: usize,
    seconds: u64,
    warmup: u64,
    csv: String,
    reuse: bool,
}

fn args() -> Args {
    let mut args = Args {
        members: 2_000,
        earns: 30,
        partners: 8,
        clients: 32,
        seconds: 20,
        warmup: 3,
        csv: "target/bench/home.csv".into(),
        reuse: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--members" => args.members = value().parse().unwrap(),
            "--earns" => args.earns = value().parse().unwrap(),
            "--partners" => args.partners = value().parse().unwrap(),
            "--clients" => args.clients = value().parse().unwrap(),
            "--seconds" => args.seconds = value().parse().unwrap(),
            "--warmup" => args.warmup = value().parse().unwrap(),
            "--csv" => args.csv = value(),
            "--reuse" => args.reuse = true,
            "--bench" => {}
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(args.members > 0 && args.partners > 0 && args.clients > 0);
    args
}

const HOME: &str = "{ me { memberNumber \
    balance { available held debt net } \
    expiringPoints(withinDays: 90) { date points } \
    tier { tier { name } qualifyingPoints nextTier { name minPoints } } \
    transactions(first: 20) { nodes { id kind points createdAt partner { name } } } } }";
const BALANCE: &str = "{ me { balance { available held debt net } } }";
const EXPIRING: &str = "{ me { expiringPoints(withinDays: 90) { date points } } }";
const TIER: &str = "{ me { tier { tier { name } qualifyingPoints nextTier { name minPoints } } } }";
const HISTORY: &str =
    "{ me { transactions(first: 20) { nodes { id kind points createdAt partner { name } } } } }";

/// The default tier levels, P partners and M members, each member with E earns at partners taken
/// in turn (some expiring within 90 days), then analyzed, as a running deployment has.
async fn seed(url: &str, args: &Args) -> Vec<uuid::Uuid> {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let (members, earns, partners) = (args.members, args.earns, args.partners);
    let started = std::time::Instant::now();
    conn.batch_execute(&format!(
        "INSERT INTO partners (id, slug, name, category, currency, earn_rate)
         SELECT hub_uuid_v7(), 'home-' || g, 'Home Partner ' || g, 'RETAIL', 'EUR', 1
         FROM generate_series(1, {partners}) g;
         INSERT INTO members (id, member_number)
         SELECT hub_uuid_v7(), lpad(g::text, 16, '0') FROM generate_series(1, {members}) g;"
    ))
    .await
    .unwrap();
    eprintln!("seed: {partners} partners and {members} members");
    // Earns in slices, with progress: a slice is one statement.
    let per_slice = 200;
    for first in (0..members).step_by(per_slice) {
        conn.batch_execute(&format!(
            "WITH p AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM partners WHERE NOT is_coalition),
                  m AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM members
                        ORDER BY id OFFSET {first} LIMIT {per_slice})
             SELECT count(ledger_issue('seed', 'seed-' || m.id || '-' || e, '\\x00', p.id, m.id,
                                       NULL, NULL, NULL, NULL, 10 + e, NULL, NULL,
                                       now() + make_interval(days => 30 + 20 * e), NULL, now()))
             FROM m CROSS JOIN generate_series(1, {earns}) e
             JOIN p ON p.n = (m.n + e) % {partners}"
        ))
        .await
        .unwrap();
        eprint!(
            "\rseed: earns for {} of {members} members",
            (first + per_slice).min(members)
        );
    }
    conn.batch_execute("VACUUM ANALYZE").await.unwrap();
    eprintln!(" ({:.1} s)", started.elapsed().as_secs_f64());
    use coalition_hub::db::schema::members;
    members::table
        .select(members::id)
        .load(&mut conn)
        .await
        .unwrap()
}

/// With `--reuse`: the members of the previous run's database when it holds the seed these
/// flags ask for (comparing two builds then skips the minutes of seeding).
async fn seeded(url: &str, args: &Args) -> Option<Vec<uuid::Uuid>> {
    use coalition_hub::db::schema::{journal_entries, members, partners};
    let mut conn = AsyncPgConnection::establish(url).await.ok()?;
    let partner_count: i64 = partners::table
        .filter(partners::is_coalition.eq(false))
        .count()
        .get_result(&mut conn)
        .await
        .ok()?;
    let entry_count: i64 = journal_entries::table
        .count()
        .get_result(&mut conn)
        .await
        .ok()?;
    let ids: Vec<uuid::Uuid> = members::table
        .select(members::id)
        .load(&mut conn)
        .await
        .ok()?;
    let expected = (
        args.partners as i64,
        (args.members * args.earns) as i64,
        args.members,
    );
    if (partner_count, entry_count, ids.len()) != expected {
        eprintln!("seed: hub_bench_home holds another seed; seeding again");
        return None;
    }
    eprintln!("seed: reusing hub_bench_home ({} members)", ids.len());
    Some(ids)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/bench-home.sh sets it)");
    let members = match args.reuse {
        true => seeded(&database_url(&base, "hub_bench_home"), &args).await,
        false => None,
    };
    let url = database_url(&base, "hub_bench_home");
    let members = match members {
        Some(members) => members,
        None => {
            let url = recreate(&base, "hub_bench_home").await;
            db::migrate(&url).await.unwrap();
            seed(&url, &args).await
        }
    };
    let hub = start_hub(&url, 10, "bench-home:").await;
    let keys = KeySet::from_config(&Config::development(url.clone(), String::new()).jwt).unwrap();
    let tokens: Vec<String> = members
        .iter()
        .map(|member_id| {
            keys.mint(TokenRequest {
                principal: Principal::Member {
                    member_id: *member_id,
                },
                ttl: Duration::from_secs(3600),
            })
            .unwrap()
            .token
        })
        .collect();
    let tokens = std::sync::Arc::new(tokens);
    let load = Load {
        clients: args.clients,
        warmup: Duration::from_secs(args.warmup),
        measure: Duration::from_secs(args.seconds),
    };
    let mut results: Vec<Measured> = Vec::new();
    for (name, query) in [
        ("home", HOME),
        ("balance", BALANCE),
        ("expiring", EXPIRING),
        ("tier", TIER),
        ("history", HISTORY),
    ] {
        let body = json!({ "query": query }).to_string().into_bytes();
        let tokens = tokens.clone();
        eprintln!(
            "driving {name} with {} clients for {} s",
            args.clients, args.seconds
        );
        let measured = drive(&hub.base_url, name, &load, move |_, _, random| {
            let token = &tokens[(random() % tokens.len() as u64) as usize];
            (token.clone(), body.clone())
        })
        .await;
        eprintln!(
            "{name}: {:.0}/s, p99 {:.1} ms, {} errors",
            measured.throughput(),
            measured.percentile_ms(0.99),
            measured.errors
        );
        results.push(measured);
    }
    report(&results, args.clients, &[], &args.csv);
    let failed: usize = results.iter().map(|m| m.errors).sum();
    assert_eq!(
        failed, 0,
        "answers with errors: the query or the hub is broken"
    );
}
