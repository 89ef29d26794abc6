//! Live balance benchmark (`scripts/bench-live.sh`, or `cargo bench --bench live -- ...`
//! with DATABASE_URL and REDIS_URL set).
//!
//! Seeds S members, starts a real `hub serve`, opens one `balanceChanged` subscription per
//! member over the websocket (S connections), then commits R entries a second
//! (`issuePoints` over HTTP, to random subscribed members) for T seconds. Reports whether
//! every event was delivered exactly once, the delivery latency (from sending the earn to
//! receiving its event) and the hub's memory; writes a CSV.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use coalition_hub::{
    auth::{KeySet, Principal, Scopes, TokenRequest},
    config::Config,
    db,
};
use common::{Measured, recreate, rss_mib, start_hub, xorshift};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Message, client::IntoClientRequest},
};

struct Args {
    subscriptions: usize,
    rate: u64,
    seconds: u64,
    csv: String,
}

fn args() -> Args {
    let mut args = Args {
        subscriptions: 10_000,
        rate: 1_000,
        seconds: 20,
        csv: "target/bench/live.csv".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--subscriptions" => args.subscriptions = value().parse().unwrap(),
            "--rate" => args.rate = value().parse().unwrap(),
            "--seconds" => args.seconds = value().parse().unwrap(),
            "--csv" => args.csv = value(),
            "--bench" => {}
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// A partner and `n` members linked to it as customers "c1".."cn", each with a first earn:
/// a ledger with some history, analyzed, as a running deployment has (statistics of empty
/// tables would give the hub's cached plans scans that grow with the tables).
async fn seed(url: &str, n: usize) -> (uuid::Uuid, Vec<uuid::Uuid>) {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO partners (id, slug, name, category, currency, earn_rate)
         VALUES (hub_uuid_v7(), 'live', 'Live Partner', 'RETAIL', 'EUR', 1);
         WITH m AS (
             INSERT INTO members (id, member_number)
             SELECT hub_uuid_v7(), lpad(g::text, 16, '0') FROM generate_series(1, {n}) g
             RETURNING id, member_number::bigint AS g)
         INSERT INTO member_links (partner_id, partner_customer_id, member_id)
         SELECT p.id, 'c' || m.g, m.id FROM m, partners p WHERE NOT p.is_coalition;
         SELECT count(ledger_issue('seed', 'seed-' || l.member_id, '\\x00', l.partner_id, l.member_id,
                                   NULL, NULL, NULL, NULL, 100, NULL, NULL,
                                   now() + interval '365 days', NULL, now()))
         FROM member_links l;"
    ))
    .await
    .unwrap();
    conn.batch_execute("VACUUM ANALYZE").await.unwrap();
    use coalition_hub::db::schema::{member_links, partners};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let partner: uuid::Uuid = partners::table
        .filter(partners::is_coalition.eq(false))
        .select(partners::id)
        .first(&mut conn)
        .await
        .unwrap();
    let members: Vec<uuid::Uuid> = member_links::table
        .select(member_links::member_id)
        .load(&mut conn)
        .await
        .unwrap();
    (partner, members)
}

type Received = Arc<Mutex<Vec<(String, Instant)>>>;

/// One subscription: connects, subscribes and records every event's entry and arrival.
async fn subscriber(
    url: String,
    token: String,
    received: Received,
    ready: Arc<tokio::sync::Semaphore>,
) {
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = connect_async(request).await.expect("websocket connects");
    let init =
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}});
    socket
        .send(Message::Text(init.to_string().into()))
        .await
        .unwrap();
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { balanceChanged { entryId } }"}});
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await
        .unwrap();
    let mut acknowledged = false;
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let at = Instant::now();
        let value: Value = serde_json::from_str(&text).unwrap();
        match value["type"].as_str() {
            Some("connection_ack") if !acknowledged => {
                acknowledged = true;
                ready.add_permits(1);
            }
            Some("next") => {
                let entry = value["payload"]["data"]["balanceChanged"]["entryId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                received.lock().unwrap().push((entry, at));
            }
            Some("ping") => {
                let _ = socket
                    .send(Message::Text(json!({"type": "pong"}).to_string().into()))
                    .await;
            }
            _ => {}
        }
    }
}

// Two workers: thousands of sockets to read besides the load.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/bench-live.sh sets it)");
    let url = recreate(&base, "hub_bench_live").await;
    db::migrate(&url).await.unwrap();
    let (partner, members) = seed(&url, args.subscriptions).await;
    let hub = start_hub(&url, 8, "bench-live:").await;
    let config = Config::development(url.clone(), String::new());
    let keys = KeySet::from_config(&config.jwt).unwrap();
    let mint = |principal| {
        keys.mint(TokenRequest {
            principal,
            ttl: Duration::from_secs(3600),
        })
        .unwrap()
        .token
    };
    let partner_token = mint(Principal::Partner {
        partner_id: partner,
        scopes: Scopes::all(),
    });

    let rss_before = rss_mib(hub.pid());
    let received: Received = Arc::new(Mutex::new(Vec::new()));
    let ready = Arc::new(tokio::sync::Semaphore::new(0));
    let ws_url = hub.base_url.replace("http://", "ws://") + "/graphql";
    let started = Instant::now();
    for (i, member) in members.iter().enumerate() {
        let token = mint(Principal::Member { member_id: *member });
        tokio::spawn(subscriber(
            ws_url.clone(),
            token,
            received.clone(),
            ready.clone(),
        ));
        if i % 500 == 499 {
            // Pace the handshakes a little.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let _all = ready.acquire_many(members.len() as u32).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    eprintln!(
        "{} subscriptions open in {:.1} s; hub RSS {rss_before:.0} -> {:.0} MiB",
        members.len(),
        started.elapsed().as_secs_f64(),
        rss_mib(hub.pid())
    );

    // The load: `rate` earns a second to random members.
    let client = reqwest::Client::new();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    // How long each earn itself took (request to response), to tell the ledger's share of
    // the delivery latency from the fan-out's.
    let answered: Arc<Mutex<Vec<u32>>> = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / args.rate));
    let mut next = xorshift(42);
    let end = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    let mut n = 0u64;
    let mut peak_rss = 0f64;
    while Instant::now() < end {
        ticker.tick().await;
        n += 1;
        if n.is_multiple_of(args.rate) {
            peak_rss = peak_rss.max(rss_mib(hub.pid()));
        }
        let m = 1 + (next() % members.len() as u64);
        let body = json!({"query": "mutation($i: IssuePointsInput!) { issuePoints(input: $i) { entryId } }",
                          "variables": {"i": {"member": {"partnerCustomerId": format!("c{m}")}, "points": 1, "idempotencyKey": format!("live-{n}")}}});
        let (client, url, token, sent, answered, failures) = (
            client.clone(),
            format!("{}/graphql", hub.base_url),
            partner_token.clone(),
            sent.clone(),
            answered.clone(),
            failures.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let at = Instant::now();
            let response: Option<Value> =
                match client.post(url).bearer_auth(token).json(&body).send().await {
                    Ok(r) => r.json().await.ok(),
                    Err(_) => None,
                };
            match response
                .as_ref()
                .and_then(|v| v["data"]["issuePoints"]["entryId"].as_str())
            {
                Some(entry) => {
                    sent.lock().unwrap().insert(entry.to_owned(), at);
                    answered
                        .lock()
                        .unwrap()
                        .push(at.elapsed().as_micros() as u32);
                }
                None => {
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // Let the last events arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    peak_rss = peak_rss.max(rss_mib(hub.pid()));

    let sent = sent.lock().unwrap();
    let received = received.lock().unwrap();
    let mut deliveries: HashMap<&str, usize> = HashMap::new();
    let mut latencies = Vec::new();
    for (entry, at) in received.iter() {
        *deliveries.entry(entry.as_str()).or_default() += 1;
        if let Some(sent_at) = sent.get(entry) {
            latencies.push(at.saturating_duration_since(*sent_at).as_micros() as u32);
        }
    }
    let missing = sent
        .keys()
        .filter(|e| !deliveries.contains_key(e.as_str()))
        .count();
    let duplicated = deliveries.values().filter(|n| **n > 1).count();
    let stray = deliveries
        .keys()
        .filter(|e| !sent.contains_key(**e))
        .count();
    let committed = sent.len();
    drop(hub);
    let measured = [
        Measured::new("balanceChanged delivery", latencies, 0, args.seconds as f64),
        Measured::new(
            "issuePoints response",
            answered.lock().unwrap().clone(),
            0,
            args.seconds as f64,
        ),
    ];
    println!(
        "\n{} subscriptions, {committed} entries committed in {} s ({} failed), {} events received: {missing} missing, {duplicated} delivered twice, {stray} unexpected",
        members.len(),
        args.seconds,
        failures.load(std::sync::atomic::Ordering::Relaxed),
        received.len()
    );
    println!("hub RSS: {rss_before:.0} MiB before subscribing, {peak_rss:.0} MiB peak\n");
    let (missing, duplicated, peak) = (
        missing.to_string(),
        duplicated.to_string(),
        format!("{peak_rss:.0}"),
    );
    let subs = members.len().to_string();
    common::report(
        &measured,
        members.len(),
        &[
            ("subscriptions", &|_: &Measured| subs.clone()),
            ("missing", &|_: &Measured| missing.clone()),
            ("duplicated", &|_: &Measured| duplicated.clone()),
            ("hub_peak_rss_mib", &|_: &Measured| peak.clone()),
        ],
        &args.csv,
    );
}
