//! Settlement close benchmark (`scripts/bench-settlement.sh`, or `cargo bench --bench
//! settlement -- ...` with DATABASE_URL and REDIS_URL set).
//!
//! Seeds a database with N partners (two rate cards each, one changing mid-period) and
//! `--slices` redemption slices between random pairs of them (plus one issue record per ten
//! slices), written straight into `settlement_records` as the ledger's triggers would write
//! them, spread over the last 20 days. Then closes the period through the same service the
//! API and `hub settle` use, and reports the time, the number of counterparty pairs and the
//! process's memory before and after (peak RSS), printed and written as CSV.

use std::{io::Write, time::Instant};

use chrono::Utc;
use coalition_hub::{AppState, auth::Principal, config::Config, db, services::settlement};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

struct Args {
    slices: u64,
    partners: u64,
    csv: String,
}

fn args() -> Args {
    let mut args = Args {
        slices: 1_000_000,
        partners: 50,
        csv: "target/bench/settlement.csv".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--slices" => args.slices = value().parse().unwrap(),
            "--partners" => args.partners = value().parse().unwrap(),
            "--csv" => args.csv = value(),
            "--bench" => {}
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// (VmRSS, VmHWM) of this process in MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[tokio::main]
async fn main() {
    let args = args();
    let base =
        std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/bench-settlement.sh sets it)");
    let redis = std::env::var("REDIS_URL").expect("REDIS_URL");
    let name = "hub_bench_settlement";
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let mut admin = AsyncPgConnection::establish(&base).await.unwrap();
    for statement in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.batch_execute(&statement).await.unwrap();
    }
    db::migrate(&url).await.unwrap();

    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    let p = args.partners;
    eprintln!("seed: {p} partners with two rate cards each");
    conn.batch_execute(&format!(
        "INSERT INTO partners (id, slug, name, category, currency, earn_rate)
         SELECT gen_random_uuid(), 'bench-' || i, 'Bench partner ' || i, 'RETAIL', 'EUR', 1
         FROM generate_series(1, {p}) i;
         INSERT INTO partner_rates (id, partner_id, redemption_value, issuance_fee, effective_from, set_by)
         SELECT gen_random_uuid(), id, 0.0075 + (random() * 100)::int / 10000.0, 0.001, now() - interval '30 days', 'bench'
         FROM partners WHERE NOT is_coalition
         UNION ALL
         SELECT gen_random_uuid(), id, 0.0080 + (random() * 100)::int / 10000.0, 0.0015, now() - interval '10 days', 'bench'
         FROM partners WHERE NOT is_coalition;
         CREATE TEMP TABLE bench_partners AS
             SELECT row_number() OVER (ORDER BY id) AS n, id FROM partners WHERE NOT is_coalition;"
    ))
    .await
    .unwrap();
    let chunk = 100_000u64;
    let started = Instant::now();
    let mut done = 0;
    while done < args.slices {
        let n = chunk.min(args.slices - done);
        conn.batch_execute(&format!(
            "INSERT INTO settlement_records (kind, entry_id, issuer_partner_id, redeeming_partner_id, points, occurred_at)
             SELECT 'REDEMPTION', gen_random_uuid(), i.id, r.id, 1 + (random() * 200)::int,
                    now() - interval '20 days' + (g.x::float8 / {total}) * interval '20 days'
             FROM (SELECT x, 1 + (random() * ({p} - 1))::int AS a, 1 + (random() * ({p} - 1))::int AS b
                   FROM generate_series({from}, {to}) x) g
             JOIN bench_partners i ON i.n = g.a JOIN bench_partners r ON r.n = g.b;
             INSERT INTO settlement_records (kind, entry_id, issuer_partner_id, points, occurred_at)
             SELECT 'ISSUE', gen_random_uuid(), i.id, 1 + (random() * 500)::int,
                    now() - interval '20 days' + (g.x::float8 / {total}) * interval '20 days'
             FROM (SELECT x, 1 + (random() * ({p} - 1))::int AS a FROM generate_series({from}, {to}, 10) x) g
             JOIN bench_partners i ON i.n = g.a;",
            total = args.slices,
            from = done,
            to = done + n - 1,
        ))
        .await
        .unwrap();
        done += n;
        eprintln!(
            "seed: {done}/{} redemption slices ({:.0} s)",
            args.slices,
            started.elapsed().as_secs_f64()
        );
    }
    conn.batch_execute("VACUUM ANALYZE settlement_records")
        .await
        .unwrap();
    let records: i64 = diesel_async::RunQueryDsl::get_result(
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM settlement_records"),
        &mut conn,
    )
    .await
    .unwrap();

    let mut config = Config::development(url, redis);
    config.ledger.expiry_interval = std::time::Duration::ZERO;
    let state = AppState::new(config).unwrap();
    let operator = Principal::Operator {
        subject: "bench".into(),
    };
    let (rss_before, _) = memory_mib();
    let cutoff = Utc::now();
    let t = Instant::now();
    let view = settlement::close(
        &state.settlement,
        &state.config.currency,
        &operator,
        cutoff,
        &mut |p| {
            eprintln!(
                "close: [{:>2}/{}] {} records ({:.2} s)",
                p.chunk,
                p.chunks,
                p.records,
                t.elapsed().as_secs_f64()
            )
        },
    )
    .await
    .unwrap_or_else(|e| panic!("close failed: {e:?}"));
    let close_s = t.elapsed().as_secs_f64();
    let (rss_after, peak) = memory_mib();
    let t = Instant::now();
    let again = settlement::close(
        &state.settlement,
        &state.config.currency,
        &operator,
        cutoff,
        &mut |_| {},
    )
    .await
    .unwrap();
    let reclose_s = t.elapsed().as_secs_f64();
    assert_eq!(again.content_hash, view.content_hash);
    let s = &view.statement;
    assert_eq!(s.record_count, records, "the close counted every record");
    let pairs = s.lines.len() + s.internal_redemptions.len();

    println!(
        "\nsettlement close: {records} records ({} redemption slices), {p} partners",
        args.slices
    );
    println!("  pairs in the statement     {pairs}");
    println!("  transfers in the plan      {}", s.transfers.len());
    println!("  close                      {close_s:.2} s");
    println!("  close again (same cut-off) {reclose_s:.3} s");
    println!(
        "  process RSS before/after   {rss_before:.1} / {rss_after:.1} MiB (peak {peak:.1} MiB)"
    );
    std::fs::create_dir_all(std::path::Path::new(&args.csv).parent().unwrap()).unwrap();
    let mut csv = std::fs::File::create(&args.csv).unwrap();
    writeln!(
        csv,
        "records,redemption_slices,partners,pairs,transfers,close_seconds,reclose_seconds,rss_before_mib,rss_after_mib,peak_rss_mib"
    )
    .unwrap();
    writeln!(
        csv,
        "{records},{},{p},{pairs},{},{close_s:.3},{reclose_s:.3},{rss_before:.1},{rss_after:.1},{peak:.1}",
        args.slices,
        s.transfers.len()
    )
    .unwrap();
    println!("  csv: {}", args.csv);
}
