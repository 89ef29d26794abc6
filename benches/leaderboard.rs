//! Leaderboard benchmark (`scripts/bench-leaderboard.sh`, or `cargo bench --bench leaderboard
//! -- ...` with DATABASE_URL and REDIS_URL set).
//!
//! 1. Seeds N ambassadors (enrolled for the whole coalition) and A activity rows over the
//!    last D days at one partner, straight into PostgreSQL (bulk SQL, triggers off: this
//!    measures the rebuild and the reads, not the seeding).
//! 2. Rebuilds every board from the activity log into Redis (`leaderboards rebuild`), timed.
//! 3. Starts a real `hub serve` and drives it over HTTP with C concurrent clients:
//!    `leaderboard(first: 10)` on the coalition's all-time board (N ambassadors), then
//!    `ambassadorStanding` for random ambassadors. Throughput and p50/p95/p99, printed and
//!    written as CSV.

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use coalition_hub::{
    AppState,
    auth::{KeySet, Principal, TokenRequest},
    config::Config,
    db,
    services::leaderboards::rebuild,
};
use common::{Hub, Measured, recreate, rss_mib, start_hub};
use diesel::{prelude::*, sql_types::Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde_json::json;

struct Args {
    ambassadors: usize,
    activities: usize,
    days: i64,
    clients: usize,
    seconds: u64,
    warmup: u64,
    tokens: usize,
    skip_seed: bool,
    csv: String,
}

fn args() -> Args {
    let mut args = Args {
        ambassadors: 1_000_000,
        activities: 10_000_000,
        days: 28,
        clients: 32,
        seconds: 20,
        warmup: 3,
        tokens: 20_000,
        skip_seed: false,
        csv: "target/bench/leaderboard.csv".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--ambassadors" => args.ambassadors = value().parse().unwrap(),
            "--activities" => args.activities = value().parse().unwrap(),
            "--days" => args.days = value().parse().unwrap(),
            "--clients" => args.clients = value().parse().unwrap(),
            "--seconds" => args.seconds = value().parse().unwrap(),
            "--warmup" => args.warmup = value().parse().unwrap(),
            "--tokens" => args.tokens = value().parse().unwrap(),
            "--skip-seed" => args.skip_seed = true,
            "--csv" => args.csv = value(),
            "--bench" => {}
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

const DATABASE: &str = "hub_bench_lb";
const PREFIX: &str = "bench-lb:";

/// Bulk seeding in chunks, with progress. Ambassadors get no ledger accounts and
/// activities no foreign-key checks (`session_replication_role = replica` skips triggers):
/// neither is what is measured here.
async fn seed(url: &str, args: &Args) {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let started = Instant::now();
    conn.batch_execute(
        "SET session_replication_role = replica;
         INSERT INTO partners (id, slug, name, category, currency, earn_rate)
         VALUES (hub_uuid_v7(), 'bench', 'Bench Partner', 'RETAIL', 'EUR', 1);
         CREATE UNLOGGED TABLE bench_ambassadors (n int PRIMARY KEY, id uuid NOT NULL, member_id uuid NOT NULL);",
    )
    .await
    .unwrap();
    let chunk = 100_000;
    let mut done = 0;
    while done < args.ambassadors {
        let upto = (done + chunk).min(args.ambassadors);
        conn.batch_execute(&format!(
            "WITH m AS (
                 INSERT INTO members (id, member_number)
                 SELECT gen_random_uuid(), lpad(g::text, 16, '0') FROM generate_series({from}, {upto}) g
                 RETURNING id, member_number::bigint AS n)
             INSERT INTO bench_ambassadors SELECT n, gen_random_uuid(), id FROM m;
             INSERT INTO ambassadors (id, member_id, handle, created_at)
             SELECT id, member_id, 'amb' || n, now() FROM bench_ambassadors WHERE n BETWEEN {from} AND {upto};
             INSERT INTO ambassador_enrollments (ambassador_id, partner_id, enrolled_at)
             SELECT id, NULL, now() FROM bench_ambassadors WHERE n BETWEEN {from} AND {upto};",
            from = done + 1
        ))
        .await
        .unwrap();
        done = upto;
        eprint!(
            "\rseed: {done}/{} ambassadors ({:.0} s)",
            args.ambassadors,
            started.elapsed().as_secs_f64()
        );
    }
    eprintln!();
    let chunk = 500_000;
    let mut done = 0;
    while done < args.activities {
        let upto = (done + chunk).min(args.activities);
        // Ambassador g % N gets activity g: every ambassador is on the boards, with ties.
        conn.batch_execute(&format!(
            "INSERT INTO ambassador_activities (id, ambassador_id, partner_id, kind, score, occurred_at,
                                                recorded_at, caller, key, fingerprint)
             SELECT gen_random_uuid(), a.id, p.id, 'REVIEW', 1 + (g * 7919) % 50,
                    now() - (((g * 104729) % ({days} * 86400)) || ' seconds')::interval,
                    now(), 'bench', 'k' || g, '\\x00'
             FROM generate_series({from}::bigint, {upto}) g
             JOIN bench_ambassadors a ON a.n = 1 + g % {n}
             CROSS JOIN (SELECT id FROM partners WHERE slug = 'bench') p;",
            from = done + 1,
            n = args.ambassadors,
            days = args.days
        ))
        .await
        .unwrap();
        done = upto;
        eprint!(
            "\rseed: {done}/{} activities ({:.0} s)",
            args.activities,
            started.elapsed().as_secs_f64()
        );
    }
    eprintln!();
    conn.batch_execute("SET session_replication_role = origin")
        .await
        .unwrap();
    conn.batch_execute("VACUUM ANALYZE").await.unwrap();
    eprintln!("seeded in {:.0} s", started.elapsed().as_secs_f64());
}

const TOP: &str = "query { leaderboard(period: ALL_TIME, first: 10) { totalRanked entries { rank handle score } } }";
const STANDING: &str = "query { ambassadorStanding(period: ALL_TIME, neighbors: 2) { rank score totalRanked pointsToNextRank above { rank handle score } below { rank handle score } } }";

async fn drive(
    hub: &Hub,
    tokens: &Arc<Vec<String>>,
    query: &'static str,
    name: &str,
    args: &Args,
) -> Measured {
    let load = common::Load {
        clients: args.clients,
        warmup: Duration::from_secs(args.warmup),
        measure: Duration::from_secs(args.seconds),
    };
    let tokens = tokens.clone();
    let body = serde_json::to_vec(&json!({ "query": query })).unwrap();
    common::drive(&hub.base_url, name, &load, move |_, _, next| {
        let token = &tokens[(next() % tokens.len() as u64) as usize];
        (token.clone(), body.clone())
    })
    .await
}

// One worker: the load generator should not take the hub's and Redis's CPU.
#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args = args();
    let base =
        std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/bench-leaderboard.sh sets it)");
    let url = if args.skip_seed {
        common::database_url(&base, DATABASE)
    } else {
        let url = recreate(&base, DATABASE).await;
        db::migrate(&url).await.unwrap();
        seed(&url, &args).await;
        url
    };

    let mut config = Config::development(url.clone(), std::env::var("REDIS_URL").unwrap());
    config.redis_prefix = PREFIX.into();
    let state = AppState::new(config.clone()).unwrap();
    let rss_before = rss_mib(std::process::id());
    let mut last = Instant::now();
    let report = rebuild::rebuild(&state.leaderboards, |p| {
        if last.elapsed() > Duration::from_secs(2) {
            eprintln!(
                "rebuild: {}/{} ambassadors, {} scores",
                p.ambassadors_done, p.ambassadors_total, p.scores
            );
            last = Instant::now();
        }
    })
    .await
    .unwrap();
    let activity_rows: i64 =
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM ambassador_activities")
            .get_result(&mut state.db.get().await.unwrap())
            .await
            .unwrap();
    let rebuild_seconds = report.elapsed.as_secs_f64();
    println!(
        "\nrebuild: {activity_rows} activity rows -> {} boards, {} scores of {} ambassadors in {rebuild_seconds:.1} s (bench process RSS {rss_before:.0} -> {:.0} MiB)",
        report.boards,
        report.scores,
        report.ambassadors,
        rss_mib(std::process::id())
    );

    // Member tokens of random ambassadors.
    let keys = KeySet::from_config(&config.jwt).unwrap();
    let mut conn = state.db.get().await.unwrap();
    let members: Vec<uuid::Uuid> = diesel::sql_query(format!(
        "SELECT member_id FROM ambassadors ORDER BY random() LIMIT {}",
        args.tokens
    ))
    .load::<MemberRow>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.member_id)
    .collect();
    drop(conn);
    let tokens: Arc<Vec<String>> = Arc::new(
        members
            .iter()
            .map(|id| {
                keys.mint(TokenRequest {
                    principal: Principal::Member { member_id: *id },
                    ttl: Duration::from_secs(3600),
                })
                .unwrap()
                .token
            })
            .collect(),
    );

    let hub = start_hub(&url, 4, PREFIX).await;
    let mut results = Vec::new();
    for (name, query) in [
        ("leaderboard(first: 10)", TOP),
        ("ambassadorStanding(neighbors: 2)", STANDING),
    ] {
        eprintln!(
            "hub: {name}, {} clients, {} s (+{} s warm-up)",
            args.clients, args.seconds, args.warmup
        );
        results.push(drive(&hub, &tokens, query, name, &args).await);
    }
    let hub_rss = rss_mib(hub.pid());
    drop(hub);
    println!(
        "\n{} ambassadors on the coalition's all-time board, {} clients\n",
        report.ambassadors, args.clients
    );
    let rows = activity_rows.to_string();
    let seconds = format!("{rebuild_seconds:.1}");
    let rss = format!("{hub_rss:.0}");
    common::report(
        &results,
        args.clients,
        &[
            ("activity_rows", &|_: &Measured| rows.clone()),
            ("rebuild_s", &|_: &Measured| seconds.clone()),
            ("hub_rss_mib", &|_: &Measured| rss.clone()),
        ],
        &args.csv,
    );
}

#[derive(QueryableByName)]
struct MemberRow {
    #[diesel(sql_type = SqlUuid)]
    member_id: uuid::Uuid,
}
