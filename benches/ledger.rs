//! Ledger load generator (`scripts/bench.sh`, or `cargo bench --bench ledger -- ...` with
//! DATABASE_URL and REDIS_URL set).
//!
//! 1. The raw limit: pgbench runs a minimal double-entry transfer (two balance UPDATEs with a
//!    non-negative check, one transfer INSERT, two posting INSERTs, COMMIT) with C clients.
//! 2. The hub: a real `hub serve` process on a seeded database, driven over HTTP by C
//!    concurrent clients: issuePoints spread over 20 partners, over 2,000 partners, and
//!    redeemPoints (`--rounds N` repeats the three, the two issue phases in turn first);
//!    then, once, issuePoints with purchase lines while 50 campaigns are live, 10 of which
//!    match every earn (each of those books a bonus entry and lot of its own).
//!
//! With `--hubs N` (1 by default) N hub processes serve the same database and Redis, the
//! clients spread over them in turn; the CPU and counters reported are their sums.
//!
//! With `--webhooks N` (100 by default) the first 20 partners hold N webhook subscriptions
//! to every event type between them, all delivered to a receiver in this process that
//! checks each signature; each phase reports the events received and their lag from
//! creation to arrival. After each of the hub's slices the delivery backlog is drained
//! before pgbench runs, so that pgbench never shares the machine with the hub's deliveries.
//!
//! Within a phase the two take turns: the hub's `--seconds` are cut into `--slices`, with a
//! pgbench run of the same length before each and after the last, so that each slice is
//! compared with the raw limit measured just around it. Throughput and p50/p95/p99 latency
//! per operation, and the ratio to the raw limit, printed and written as CSV.

mod common;

use std::{
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use coalition_hub::{
    auth::{KeySet, Principal, Scopes, TokenRequest},
    config::Config,
    db,
};
use common::{
    Hub, MachineCpu, Measured, PostgresCpu, process_cpu_seconds, receiver::Receiver, recreate,
    start_hub,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::json;

struct Args {
    clients: usize,
    seconds: u64,
    slices: u64,
    warmup: u64,
    members: usize,
    partners: usize,
    pool: usize,
    rounds: usize,
    webhooks: usize,
    /// Hub processes on the same services, the clients spread over them.
    hubs: usize,
    csv: String,
}

fn args() -> Args {
    let mut args = Args {
        clients: 32,
        seconds: 20,
        slices: 4,
        warmup: 3,
        members: 50_000,
        partners: 2_000,
        pool: 10,
        rounds: 1,
        webhooks: 100,
        hubs: 1,
        csv: "target/bench/ledger.csv".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--clients" => args.clients = value().parse().unwrap(),
            "--seconds" => args.seconds = value().parse().unwrap(),
            "--slices" => args.slices = value().parse().unwrap(),
            "--warmup" => args.warmup = value().parse().unwrap(),
            "--members" => args.members = value().parse().unwrap(),
            "--partners" => args.partners = value().parse().unwrap(),
            "--pool" => args.pool = value().parse().unwrap(),
            "--rounds" => args.rounds = value().parse().unwrap(),
            "--webhooks" => args.webhooks = value().parse().unwrap(),
            "--hubs" => args.hubs = value().parse().unwrap(),
            "--csv" => args.csv = value(),
            "--bench" => {}
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(args.partners >= 20, "--partners must be at least 20");
    assert!(args.rounds >= 1, "--rounds must be at least 1");
    assert!(args.hubs >= 1, "--hubs must be at least 1");
    assert!(
        args.slices >= 1 && args.seconds.is_multiple_of(args.slices),
        "--seconds must be a multiple of --slices (pgbench runs whole seconds)"
    );
    args
}

fn pg_bin(tool: &str) -> String {
    format!(
        "{}/{tool}",
        std::env::var("HUB_PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into())
    )
}

/// The raw-limit database and pgbench script: the minimal double-entry transfer.
struct RawLimit {
    url: String,
    script: std::path::PathBuf,
}

async fn prepare_raw_limit(base: &str, args: &Args) -> RawLimit {
    let url = recreate(base, "hub_pgbench").await;
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    conn.batch_execute(&format!(
        "CREATE TABLE balances (id int PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
         CREATE TABLE transfers (id bigserial PRIMARY KEY, src int NOT NULL, dst int NOT NULL,
                                 amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE postings (transfer_id bigint NOT NULL, account int NOT NULL, amount bigint NOT NULL);
         INSERT INTO balances SELECT g, 1000000000 FROM generate_series(1, {}) g;",
        args.members
    ))
    .await
    .unwrap();
    conn.batch_execute("VACUUM ANALYZE balances").await.unwrap();
    let script = std::env::temp_dir().join("hub-transfer.sql");
    std::fs::write(
        &script,
        format!(
            "\\set a random(1, {n})\n\\set b random(1, {n})\n\\set lo least(:a, :b)\n\\set hi greatest(:a, :b)\n\
             BEGIN;\n\
             UPDATE balances SET balance = balance - 1 WHERE id = :lo;\n\
             UPDATE balances SET balance = balance + 1 WHERE id = :hi;\n\
             INSERT INTO transfers (src, dst, amount) VALUES (:lo, :hi, 1);\n\
             INSERT INTO postings VALUES (currval('transfers_id_seq'), :lo, -1);\n\
             INSERT INTO postings VALUES (currval('transfers_id_seq'), :hi, 1);\n\
             COMMIT;\n",
            n = args.members
        ),
    )
    .unwrap();
    RawLimit { url, script }
}

/// One pgbench run of the transfer.
struct RawRun {
    transfers_per_s: f64,
    transfers: f64,
    /// the machine's CPU during the run (pgbench's backends are gone when it ends, so their
    /// CPU can only be read from the whole machine's)
    cpu: MachineCpu,
}

/// pgbench's transfers per second, now, over `seconds`: the hub's slices are run between
/// these, because this machine's speed drifts by tens of percent within minutes.
async fn raw_limit(raw: &RawLimit, clients: usize, seconds: u64) -> RawRun {
    let cpu_before = MachineCpu::now();
    let output = Command::new(pg_bin("pgbench"))
        .args(["-n", "-M", "prepared", "-j", "2"])
        .args(["-c", &clients.to_string(), "-T", &seconds.to_string()])
        .arg("-f")
        .arg(&raw.script)
        .arg(&raw.url)
        .output()
        .expect("pgbench runs");
    let cpu = MachineCpu::now().since(cpu_before);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "pgbench failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figure = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no \"{prefix}\" in pgbench output: {text}"))
    };
    RawRun {
        transfers_per_s: figure("tps = "),
        transfers: figure("number of transactions actually processed: "),
        cpu,
    }
}

struct Seeded {
    url: String,
    partners: Vec<uuid::Uuid>,
    members: Vec<uuid::Uuid>,
}

/// A migrated database with `partners` partners and `members` members; member g enrolled at
/// partner g % 20 as customer "c<g>" (linked, consent given) and holds a large balance to
/// redeem from (and so the top tier, marked as the tier watch would have it).
async fn seed(base: &str, args: &Args) -> Seeded {
    let url = recreate(base, "hub_bench").await;
    db::migrate(&url).await.unwrap();
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    let started = Instant::now();
    conn.batch_execute(&format!(
        "INSERT INTO partners (id, slug, name, category, currency, earn_rate)
         SELECT hub_uuid_v7(), 'p-' || g, 'Partner ' || g, 'RETAIL', 'EUR', 1
         FROM generate_series(1, {}) g;",
        args.partners
    ))
    .await
    .unwrap();
    let partners: Vec<uuid::Uuid> = {
        use coalition_hub::db::schema::partners::dsl::*;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        partners
            .filter(is_coalition.eq(false))
            .select(id)
            .order_by(slug)
            .load(&mut conn)
            .await
            .unwrap()
    };
    let chunk = 5_000;
    let mut done = 0;
    while done < args.members {
        let upto = (done + chunk).min(args.members);
        conn.batch_execute(&format!(
            "WITH m AS (
                INSERT INTO members (id, member_number)
                SELECT hub_uuid_v7(), lpad(g::text, 16, '0') FROM generate_series({from}, {to}) g
                RETURNING id, member_number
             )
             INSERT INTO member_links (partner_id, partner_customer_id, member_id)
             SELECT p.id, 'c' || (m.member_number::bigint), m.id
             FROM m JOIN (SELECT id, row_number() OVER (ORDER BY slug) - 1 AS n FROM partners WHERE NOT is_coalition) p
               ON p.n = (m.member_number::bigint % 20);
             SELECT count(ledger_issue('seed', 'seed-' || m.member_number, '\\x00', l.partner_id, m.id,
                                       NULL, NULL, hub_uuid_v7(), '0', 1000000000, NULL, NULL,
                                       now() + interval '365 days', NULL, now()))
             FROM members m JOIN member_links l ON l.member_id = m.id
             WHERE m.member_number BETWEEN lpad('{from}', 16, '0') AND lpad('{to}', 16, '0');",
            from = done + 1,
            to = upto
        ))
        .await
        .unwrap();
        if done == 0 {
            // Statistics before the cached plans of this session settle on scans of tables
            // that were empty when first planned (what autovacuum does within a minute in a
            // long-running deployment).
            conn.batch_execute("ANALYZE").await.unwrap();
        }
        done = upto;
        eprint!(
            "\rseed: {done}/{} members ({:.0} s)",
            args.members,
            started.elapsed().as_secs_f64()
        );
    }
    eprintln!();
    // Each member signed up at its partner, which therefore holds its consent to redeem.
    conn.batch_execute(
        "INSERT INTO member_consents (member_id, partner_id, source, granted_at)
         SELECT member_id, partner_id, 'ENROLMENT', now() FROM member_links",
    )
    .await
    .unwrap();
    // Their tiers as a running hub's tier watch has seen them (webhooks' `tier.changed`): the
    // first look at a coalition's members is a one-off, not the load of a phase.
    conn.batch_execute(
        "INSERT INTO member_tier_marks (member_id, tier, marked_at)
         SELECT member_id, hub_tier_name(member_id, now()), now() FROM member_balances",
    )
    .await
    .unwrap();
    conn.batch_execute("VACUUM ANALYZE").await.unwrap();
    let members: Vec<uuid::Uuid> = {
        use coalition_hub::db::schema::members::dsl::*;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        members
            .select(id)
            .order_by(member_number)
            .load(&mut conn)
            .await
            .unwrap()
    };
    Seeded {
        url,
        partners,
        members,
    }
}

#[derive(Clone, Copy)]
enum Scenario {
    Issue {
        partners: usize,
    },
    Redeem,
    /// Earns with purchase lines at 20 partners while the campaigns of
    /// [`seed_campaigns`] are live.
    Campaigns,
}

/// Bonus entries booked so far (each earn of the campaign phase books 10).
async fn bonus_entries(url: &str) -> u64 {
    use diesel::QueryableByName;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let count: Count =
        diesel::sql_query("SELECT count(*) AS n FROM journal_entries WHERE kind = 'BONUS'")
            .get_result(&mut conn)
            .await
            .unwrap();
    count.n as u64
}

/// 50 live campaigns: 10 for every partner's earns that match every earn of the campaign
/// phase (a line of category "fruit"; 1 bonus point each, sponsored by partners 1-10), and
/// 40 for single partners that match none (a SKU never sold). No budgets: a budget is a row
/// every matching earn locks, a choice a partner makes knowingly.
async fn seed_campaigns(url: &str, partners: &[uuid::Uuid]) {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let mut sql = String::new();
    for i in 0..50 {
        let (partner, condition) = if i < 10 {
            ("NULL".to_owned(), "category")
        } else {
            (format!("'{}'", partners[i % 20]), "sku")
        };
        let value = if i < 10 { "fruit" } else { "never-sold" };
        sql += &format!(
            "INSERT INTO campaigns (id, name, partner_id, sponsor_partner_id, starts_at, ends_at,
                 audience, {condition}, reward_kind, reward_points, created_at, updated_at)
             VALUES (hub_uuid_v7(), 'bench {i}', {partner}, '{sponsor}', now() - interval '1 hour',
                 now() + interval '1 day', 'EVERYONE', '{value}', 'FIXED', 1, now(), now());\n",
            sponsor = partners[i % 10 + 1],
        );
    }
    conn.batch_execute(&sql).await.unwrap();
}

const ISSUE: &str =
    "mutation($i: IssuePointsInput!) { issuePoints(input: $i) { entryId balance { available } } }";
const REDEEM: &str = "mutation($i: RedeemPointsInput!) { redeemPoints(input: $i) { entryId balance { available } } }";

async fn drive(
    hubs: &[Hub],
    seeded: &Seeded,
    tokens: &Arc<Vec<String>>,
    scenario: Scenario,
    name: &str,
    load: common::Load,
) -> Measured {
    let members = seeded.members.clone();
    let tokens = tokens.clone();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let urls: Vec<String> = hubs.iter().map(|h| h.base_url.clone()).collect();
    common::drive_spread(&urls, name, &load, move |client_no, n, next| {
        let m = (next() % members.len() as u64) as usize;
        let key = format!("{run}-{client_no}-{n}");
        let (token, body) = match scenario {
            Scenario::Issue { partners } => {
                let p = (next() % partners as u64) as usize;
                (&tokens[p], json!({"query": ISSUE, "variables": {"i": {
                    "member": {"memberId": members[m]}, "points": 10, "idempotencyKey": key}}}))
            }
            Scenario::Redeem => (&tokens[(m + 1) % 20], json!({"query": REDEEM, "variables": {"i": {
                "member": {"partnerCustomerId": format!("c{}", m + 1)}, "points": 1, "idempotencyKey": key}}})),
            Scenario::Campaigns => {
                let p = (next() % 20) as usize;
                (&tokens[p], json!({"query": ISSUE, "variables": {"i": {
                    "member": {"memberId": members[m]}, "points": 10, "idempotencyKey": key,
                    "lines": [{"sku": "apple", "category": "fruit", "quantity": 2, "amount": "3.00"},
                              {"sku": "bread", "category": "bakery", "quantity": 1, "amount": "2.50"}]}}}))
            }
        };
        (token.clone(), serde_json::to_vec(&body).unwrap())
    })
    .await
}

// Two threads, as pgbench gets (-j 2): one thread alone stalls all 32 clients whenever it
// waits for a core.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/bench.sh sets it)");
    let raw_db = prepare_raw_limit(&base, &args).await;

    let seeded = seed(&base, &args).await;
    // One deployment: every process on the same database and Redis prefix.
    let mut hubs = Vec::new();
    for _ in 0..args.hubs {
        hubs.push(start_hub(&seeded.url, args.pool, "bench:").await);
    }
    let hub = &hubs[0];
    let config = Config::development(seeded.url.clone(), String::new());
    let keys = KeySet::from_config(&config.jwt).unwrap();
    let tokens: Arc<Vec<String>> = Arc::new(
        seeded
            .partners
            .iter()
            .map(|id| {
                keys.mint(TokenRequest {
                    principal: Principal::Partner {
                        partner_id: *id,
                        scopes: Scopes::all(),
                    },
                    ttl: Duration::from_secs(3600),
                })
                .unwrap()
                .token
            })
            .collect(),
    );
    let receiver = Receiver::start().await;
    subscribe(hub, &tokens, &receiver, args.webhooks).await;
    let many = format!("issuePoints ({} partners)", args.partners);
    let scenarios = [
        (
            "issuePoints (20 partners)",
            Scenario::Issue { partners: 20 },
        ),
        (
            many.as_str(),
            Scenario::Issue {
                partners: args.partners,
            },
        ),
        ("redeemPoints", Scenario::Redeem),
    ];
    let phase = Phase {
        hubs: &hubs,
        seeded: &seeded,
        tokens: &tokens,
        raw: &raw_db,
        args: &args,
        receiver: &receiver,
    };
    let mut results = Vec::new();
    let mut figures = Vec::new();
    for round in 1..=args.rounds {
        // The two issue phases swap places every other round: the phase that comes first
        // after the seeding or a redemption phase also meets autovacuum cleaning up after
        // it, and that should not always be the same one.
        let mut order = scenarios;
        if round % 2 == 0 {
            order.swap(0, 1);
        }
        for (name, scenario) in &order {
            let name = if args.rounds > 1 {
                format!("{name} #{round}")
            } else {
                name.to_string()
            };
            let (measured, figured) = phase.run(*scenario, &name).await;
            results.push(measured);
            figures.push(figured);
        }
    }
    seed_campaigns(&seeded.url, &seeded.partners).await;
    let name = "issuePoints with lines (10 of 50 campaigns match)";
    let (measured, figured) = phase.run(Scenario::Campaigns, name).await;
    let bonuses = bonus_entries(&seeded.url).await;
    assert!(
        bonuses >= 10 * measured.ops as u64,
        "the campaign phase booked {bonuses} bonuses for {} earns",
        measured.ops
    );
    eprintln!("campaign phase: {bonuses} bonus entries");
    results.push(measured);
    figures.push(figured);
    assert_eq!(
        receiver.bad_signatures(),
        0,
        "a webhook POST was badly signed"
    );
    assert!(
        args.webhooks == 0 || receiver.events() > 0,
        "no webhook event arrived"
    );
    // The clean-up after the last phase (each phase's own vacuum is the one before it).
    let last_vacuum = settle(&seeded.url, "hub").await;
    drop(hubs);

    let raws = figures.iter().flat_map(|f| &f.raws);
    let (min, max) = raws.fold((f64::INFINITY, 0.0f64), |(min, max), r| {
        (min.min(r.transfers_per_s), max.max(r.transfers_per_s))
    });
    println!(
        "\nraw limit (pgbench, 6-statement double-entry transfer, {} clients), {} runs of {} s: {min:.0}-{max:.0}/s\n",
        args.clients,
        figures.iter().map(|f| f.raws.len()).sum::<usize>(),
        args.seconds / args.slices,
    );
    let of = |m: &Measured| {
        let i = results
            .iter()
            .position(|r| std::ptr::eq(r, m))
            .expect("a reported result");
        (&figures[i], figures.get(i + 1))
    };
    let raw_column = |m: &Measured| format!("{:.1}", of(m).0.raw_limit());
    let ratio = |m: &Measured| format!("{:.3}", m.throughput() / of(m).0.raw_limit());
    let slice_ratios = |m: &Measured| {
        let ratios = of(m).0.slice_ratios();
        let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let max = ratios.iter().copied().fold(0.0, f64::max);
        format!("{min:.2}-{max:.2}")
    };
    let mean_batch = |m: &Measured| format!("{:.1}", of(m).0.mean_batch);
    let batch_ms = |m: &Measured| format!("{:.2}", of(m).0.batch_ms);
    let hub_ms = |m: &Measured| format!("{:.2}", of(m).0.hub_ms);
    let hub_cpu = |m: &Measured| format!("{:.0}", of(m).0.hub_cpu_us);
    let postgres_cpu = |m: &Measured| format!("{:.0}", of(m).0.pg_cpu_us);
    let machine_cpu = |m: &Measured| format!("{:.0}", of(m).0.machine_cpu_us);
    let raw_machine_cpu = |m: &Measured| format!("{:.0}", of(m).0.raw_machine_cpu_us());
    let steal = |m: &Measured| format!("{:.1}", of(m).0.machine.steal_pct());
    let raw_steal = |m: &Measured| format!("{:.1}", of(m).0.raw_cpu().steal_pct());
    let webhook_events = |m: &Measured| of(m).0.webhook_events.to_string();
    let lag = |p: f64| move |m: &Measured| format!("{:.0}", percentile(&of(m).0.lags_ms, p));
    let (lag_p50, lag_p99, lag_max) = (lag(0.5), lag(0.99), lag(1.0));
    let drain = |m: &Measured| format!("{:.1}", of(m).0.drain_s);
    let hub_count = |_: &Measured| args.hubs.to_string();
    let vacuum_after = |m: &Measured| {
        let after = of(m).1.map_or(last_vacuum, |next| next.vacuum_before_s);
        format!("{after:.1}")
    };
    common::report(
        &results,
        args.clients,
        &[
            ("raw_limit_per_s", &raw_column),
            ("ratio", &ratio),
            ("slice_ratios", &slice_ratios),
            ("mean_batch", &mean_batch),
            ("batch_ms", &batch_ms),
            ("hub_ms", &hub_ms),
            ("hub_cpu_us", &hub_cpu),
            ("pg_cpu_us", &postgres_cpu),
            ("cpu_us", &machine_cpu),
            ("raw_cpu_us", &raw_machine_cpu),
            ("steal_pct", &steal),
            ("raw_steal_pct", &raw_steal),
            ("vacuum_after_s", &vacuum_after),
            ("webhook_events", &webhook_events),
            ("lag_p50_ms", &lag_p50),
            ("lag_p99_ms", &lag_p99),
            ("lag_max_ms", &lag_max),
            ("webhook_drain_s", &drain),
            ("hubs", &hub_count),
        ],
        &args.csv,
    );
}

/// A hub slice after the first needs only a moment's warm-up: the hub and its connections
/// are warm, only the 32 clients ramp up again.
const LATER_WARMUP: Duration = Duration::from_secs(1);

/// What one phase needs: the running hub, its seeded database and tokens, and pgbench's.
struct Phase<'a> {
    hubs: &'a [Hub],
    seeded: &'a Seeded,
    tokens: &'a Arc<Vec<String>>,
    raw: &'a RawLimit,
    args: &'a Args,
    receiver: &'a Receiver,
}

/// A phase's figures besides the hub's throughput and latencies.
struct Figures {
    /// pgbench's runs: before the first slice, between slices, after the last
    raws: Vec<RawRun>,
    /// the hub's throughput in each slice
    slice_rates: Vec<f64>,
    mean_batch: f64,
    /// the mean time a batch holds its worker, and the hub's mean time per request (ms)
    batch_ms: f64,
    hub_ms: f64,
    /// CPU per answered request (warm-ups included), in µs: the hub's, and PostgreSQL's
    /// (all its processes, autovacuum too). Steadier than throughput on a machine whose
    /// speed drifts.
    hub_cpu_us: f64,
    pg_cpu_us: f64,
    /// the whole machine's busy CPU per answered request, in µs (the hub, PostgreSQL, the
    /// load generator, Redis): to set against `raw_machine_cpu_us`
    machine_cpu_us: f64,
    /// the whole machine's CPU time in the hub's slices
    machine: MachineCpu,
    /// the hub database's vacuum before this phase: the clean-up after the one before
    vacuum_before_s: f64,
    /// webhook events received during the phase and their lags (ms), sorted
    webhook_events: usize,
    lags_ms: Vec<u32>,
    /// the longest wait after a slice for the webhook backlog to be delivered
    drain_s: f64,
}

impl Figures {
    /// Each slice against the mean of the pgbench runs just before and just after it.
    fn slice_limits(&self) -> impl Iterator<Item = f64> + '_ {
        self.raws
            .windows(2)
            .map(|pair| (pair[0].transfers_per_s + pair[1].transfers_per_s) / 2.0)
    }

    /// The raw limit the phase is compared with: the mean of its slices' limits.
    fn raw_limit(&self) -> f64 {
        self.slice_limits().sum::<f64>() / self.slice_rates.len() as f64
    }

    fn slice_ratios(&self) -> Vec<f64> {
        self.slice_rates
            .iter()
            .zip(self.slice_limits())
            .map(|(rate, limit)| rate / limit)
            .collect()
    }

    /// The whole machine's busy CPU per pgbench transfer (pgbench, PostgreSQL), in µs.
    fn raw_machine_cpu_us(&self) -> f64 {
        1e6 * self.raw_cpu().busy / self.raws.iter().map(|r| r.transfers).sum::<f64>().max(1.0)
    }

    /// The whole machine's CPU time in pgbench's runs.
    fn raw_cpu(&self) -> MachineCpu {
        self.raws
            .iter()
            .fold(MachineCpu::default(), |sum, r| sum.add(r.cpu))
    }
}

impl Phase<'_> {
    /// Both databases settled, then pgbench and the hub take turns in slices of equal
    /// length, pgbench first and last: a stretch in which this machine runs slower falls on
    /// both, not on the hub's phase alone.
    async fn run(&self, scenario: Scenario, name: &str) -> (Measured, Figures) {
        let args = self.args;
        let slice = args.seconds / args.slices;
        eprintln!(
            "{name}: {} clients, {} slices of {slice} s, each after a pgbench run",
            args.clients, args.slices
        );
        let vacuum_before_s = settle(&self.seeded.url, "hub").await;
        settle(&self.raw.url, "pgbench").await;
        let mut raws = vec![raw_limit(self.raw, args.clients, slice).await];
        let before = batch_counts(self.hubs).await;
        self.receiver.take_lags();
        let mut drain_s = 0.0f64;
        let (mut parts, mut hub_cpu, mut pg_cpu) = (Vec::new(), 0.0, 0.0);
        let mut machine = MachineCpu::default();
        for i in 0..args.slices as usize {
            let first_warmup = Duration::from_secs(args.warmup);
            let load = common::Load {
                clients: args.clients,
                warmup: if i == 0 {
                    first_warmup
                } else {
                    LATER_WARMUP.min(first_warmup)
                },
                measure: Duration::from_secs(slice),
            };
            let cpu_before = (
                hubs_cpu_seconds(self.hubs),
                PostgresCpu::now(),
                MachineCpu::now(),
            );
            let part = drive(self.hubs, self.seeded, self.tokens, scenario, name, load).await;
            hub_cpu += hubs_cpu_seconds(self.hubs) - cpu_before.0;
            pg_cpu += PostgresCpu::now().since(&cpu_before.1);
            let cpu = MachineCpu::now().since(cpu_before.2);
            machine = machine.add(cpu);
            drain_s = drain_s.max(drain_webhooks(&self.seeded.url).await);
            raws.push(raw_limit(self.raw, args.clients, slice).await);
            let limit = (raws[i].transfers_per_s + raws[i + 1].transfers_per_s) / 2.0;
            eprintln!(
                "  slice {}/{}: {:.0}/s against pgbench {:.0} and {:.0}: ratio {:.3} (steal {:.0}%, pgbench's {:.0}%)",
                i + 1,
                args.slices,
                part.throughput(),
                raws[i].transfers_per_s,
                raws[i + 1].transfers_per_s,
                part.throughput() / limit,
                cpu.steal_pct(),
                raws[i + 1].cpu.steal_pct(),
            );
            parts.push(part);
        }
        let after = batch_counts(self.hubs).await;
        let mut lags_ms = self.receiver.take_lags();
        lags_ms.sort_unstable();
        let batches = (after.0 - before.0).max(1) as f64;
        let answered = (after.4 - before.4).max(1.0);
        let figures = Figures {
            slice_rates: parts.iter().map(Measured::throughput).collect(),
            raws,
            mean_batch: (after.1 - before.1) as f64 / batches,
            batch_ms: 1e3 * (after.2 - before.2) / batches,
            hub_ms: 1e3 * (after.3 - before.3) / answered,
            hub_cpu_us: 1e6 * hub_cpu / answered,
            pg_cpu_us: 1e6 * pg_cpu / answered,
            machine_cpu_us: 1e6 * machine.busy / answered,
            machine,
            vacuum_before_s,
            webhook_events: lags_ms.len(),
            lags_ms,
            drain_s,
        };
        (Measured::combined(name, parts), figures)
    }
}

/// `count` subscriptions to every event type, spread over the first 20 partners, each
/// delivered to its own path of the receiver.
async fn subscribe(hub: &Hub, tokens: &[String], receiver: &Receiver, count: usize) {
    let client = reqwest::Client::new();
    for i in 0..count {
        let name = format!("s{i}");
        let body = json!({"query": "mutation($i: CreateWebhookSubscriptionInput!) { createWebhookSubscription(input: $i) { secret } }",
                          "variables": {"i": {"url": receiver.url(&name), "eventTypes": ["*"]}}});
        let answer: serde_json::Value = client
            .post(format!("{}/graphql", hub.base_url))
            .bearer_auth(&tokens[i % 20])
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secret = answer["data"]["createWebhookSubscription"]["secret"]
            .as_str()
            .unwrap_or_else(|| panic!("subscription refused: {answer}"));
        receiver.know_secret(&name, secret);
    }
    if count > 0 {
        eprintln!("webhooks: {count} subscriptions to every event, over 20 partners");
    }
}

/// Waits until the watermark has passed every event and every subscription (all of them a
/// partner's here) has been sent its partner's events up to it; answers the seconds it took.
async fn drain_webhooks(url: &str) -> f64 {
    #[derive(diesel::QueryableByName)]
    struct Pending {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let started = Instant::now();
    loop {
        let pending: Pending = diesel_async::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT (SELECT count(*) FROM webhook_subscriptions s
                         JOIN webhook_cursors c ON c.subscription_id = s.id, webhook_dispatch w
                         WHERE s.status = 'ACTIVE' AND EXISTS (
                             SELECT 1 FROM webhook_events e
                             WHERE (e.txid, e.id) > (c.cursor_txid, c.cursor_event_id)
                               AND (e.txid, e.id) <= (w.txid, w.event_id)
                               AND (s.partner_id IS NULL OR s.partner_id = ANY (e.partner_ids))))
                      + (SELECT count(*) FROM webhook_events e, webhook_dispatch w
                         WHERE (e.txid, e.id) > (w.txid, w.event_id)) AS n",
            ),
            &mut conn,
        )
        .await
        .unwrap();
        if pending.n == 0 {
            return started.elapsed().as_secs_f64();
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{} webhook events or deliveries still waiting after 5 minutes",
            pending.n
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `p` quantile of sorted values (0 when there are none).
fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i])
}

/// Every phase, the hub's and pgbench's alike, starts from a vacuumed and analyzed database
/// and a fresh checkpoint: no phase pays for the previous one's dead rows or dirty pages, and
/// autovacuum of the hub's tables of a million rows does not land in whichever phase happens
/// to run then (pgbench's own tables are small). The vacuum's time is printed: it is the
/// clean-up a running hub does in the background.
async fn settle(url: &str, whose: &str) -> f64 {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let started = Instant::now();
    conn.batch_execute("VACUUM (ANALYZE)").await.unwrap();
    let vacuumed = started.elapsed();
    conn.batch_execute("CHECKPOINT").await.unwrap();
    eprintln!(
        "{whose} database: VACUUM (ANALYZE) {:.1} s, CHECKPOINT {:.1} s",
        vacuumed.as_secs_f64(),
        (started.elapsed() - vacuumed).as_secs_f64()
    );
    vacuumed.as_secs_f64()
}

/// From the hub's `/metrics`: group commits (batches, operations, seconds busy) and GraphQL
/// operations answered (seconds, count).
/// The group commit's and the GraphQL handler's counters, summed over the hub processes.
async fn batch_counts(hubs: &[Hub]) -> (u64, u64, f64, f64, f64) {
    let mut sum = (0, 0, 0.0, 0.0, 0.0);
    for hub in hubs {
        let one = hub_counts(hub).await;
        sum = (
            sum.0 + one.0,
            sum.1 + one.1,
            sum.2 + one.2,
            sum.3 + one.3,
            sum.4 + one.4,
        );
    }
    sum
}

/// CPU seconds of all the hub processes.
fn hubs_cpu_seconds(hubs: &[Hub]) -> f64 {
    hubs.iter().map(|hub| process_cpu_seconds(hub.pid())).sum()
}

async fn hub_counts(hub: &Hub) -> (u64, u64, f64, f64, f64) {
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", hub.base_url))
        .bearer_auth(&hub.operator_token)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("/metrics answers")
        .text()
        .await
        .unwrap();
    let counter = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("/metrics has no {name}"))
    };
    (
        counter("hub_ledger_batches_total") as u64,
        counter("hub_ledger_batched_operations_total") as u64,
        counter("hub_ledger_batch_busy_seconds_total"),
        counter("hub_graphql_duration_seconds_sum"),
        counter("hub_graphql_duration_seconds_count"),
    )
}
