//! Webhooks against a real receiver: an HTTP server on loopback that checks every
//! signature with its own HMAC. Events come from the transaction that caused them, reach
//! only the partners party to them, arrive after the receiver was down, are retried after
//! timeouts, are sent again (same ids) after a hub dies mid-delivery, and are sent once by
//! two hubs delivering together.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use chrono::Utc;
use coalition_hub::config::Config;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::{ALL_SCOPES, TestApp, fresh_database};

/// What the receiver does with a POST.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Answer,
    /// Answer after this long (longer than the hub waits).
    Slow(Duration),
    /// 500 to everything.
    Fail,
}

/// One POST as the receiver saw it.
#[derive(Clone, Debug)]
struct Post {
    hook: String,
    delivery_id: String,
    events: Vec<Value>,
    signed: bool,
}

#[derive(Default)]
struct Seen {
    secrets: HashMap<String, String>,
    /// Every POST, as it arrived (answered or not).
    arrivals: Vec<Post>,
    /// The POSTs answered with 200.
    posts: Vec<Post>,
}

struct Shared {
    seen: Mutex<Seen>,
    mode: Mutex<Mode>,
    arrived: tokio::sync::Notify,
}

/// An HTTP receiver on loopback; `/hooks/<name>` per subscription.
struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// A receiver whose port is known but closed (down) until [`Receiver::start`].
    async fn reserved() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        Receiver {
            addr,
            shared: Arc::new(Shared {
                seen: Mutex::default(),
                mode: Mutex::new(Mode::Answer),
                arrived: tokio::sync::Notify::new(),
            }),
            server: None,
        }
    }

    async fn up() -> Receiver {
        let mut receiver = Receiver::reserved().await;
        receiver.start().await;
        receiver
    }

    async fn start(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        let router = Router::new()
            .route("/hooks/{name}", post(receive))
            .with_state(self.shared.clone());
        self.server = Some(tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        }));
    }

    fn url(&self, name: &str) -> String {
        format!("http://{}/hooks/{name}", self.addr)
    }

    fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    fn know_secret(&self, name: &str, secret: &str) {
        let mut seen = self.shared.seen.lock().unwrap();
        seen.secrets.insert(name.to_owned(), secret.to_owned());
    }

    fn arrivals(&self, name: &str) -> Vec<Post> {
        let seen = self.shared.seen.lock().unwrap();
        seen.arrivals
            .iter()
            .filter(|p| p.hook == name)
            .cloned()
            .collect()
    }

    fn posts(&self, name: &str) -> Vec<Post> {
        let seen = self.shared.seen.lock().unwrap();
        seen.posts
            .iter()
            .filter(|p| p.hook == name)
            .cloned()
            .collect()
    }

    /// The events of correctly signed POSTs to `name`, in arrival order.
    fn events(&self, name: &str) -> Vec<Value> {
        let posts = self.posts(name);
        assert!(posts.iter().all(|p| p.signed), "a POST had a bad signature");
        posts.into_iter().flat_map(|p| p.events).collect()
    }

    /// Waits until `name` has received `count` events (any repeats included).
    async fn wait_for(&self, name: &str, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let arrived = self.shared.arrived.notified();
            let events = self.events(name);
            if events.len() >= count {
                return events;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!(
                    "{name}: {} of {count} events arrived: {events:?}",
                    events.len()
                );
            }
        }
    }
}

/// The receiver's own check of the `Hub-Signature` header (Stripe's scheme): HMAC-SHA256 of
/// "<t>.<body>" with the subscription's secret, and a timestamp within five minutes.
fn signature_ok(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (Utc::now().timestamp() - t).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == v1
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (axum::http::StatusCode, &'static str) {
    let signed = {
        let seen = shared.seen.lock().unwrap();
        let header = headers.get("hub-signature").and_then(|v| v.to_str().ok());
        match (seen.secrets.get(&name), header) {
            (Some(secret), Some(header)) => signature_ok(secret, header, &body),
            _ => false,
        }
    };
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let post = Post {
        hook: name,
        delivery_id: parsed["deliveryId"].as_str().unwrap_or("").to_owned(),
        events: parsed["events"].as_array().cloned().unwrap_or_default(),
        signed,
    };
    assert_eq!(
        headers.get("hub-delivery-id").and_then(|v| v.to_str().ok()),
        Some(post.delivery_id.as_str())
    );
    shared.seen.lock().unwrap().arrivals.push(post.clone());
    shared.arrived.notify_waiters();
    let mode = *shared.mode.lock().unwrap();
    match mode {
        Mode::Slow(wait) => {
            tokio::time::sleep(wait).await;
            (axum::http::StatusCode::OK, "late")
        }
        Mode::Fail => (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "receiver broken",
        ),
        Mode::Answer => {
            shared.seen.lock().unwrap().posts.push(post);
            shared.arrived.notify_waiters();
            (axum::http::StatusCode::OK, "ok")
        }
    }
}

/// Quick polls, short timeouts and leases, retries in a fraction of a second.
fn quick(c: &mut Config) {
    c.webhooks.poll_interval = Duration::from_millis(50);
    c.webhooks.connect_timeout = Duration::from_millis(500);
    c.webhooks.timeout = Duration::from_millis(1000);
    c.webhooks.lease = Duration::from_secs(2);
    c.webhooks.retry.base = Duration::from_millis(100);
    c.webhooks.retry.max = Duration::from_millis(500);
    c.webhooks.jobs_interval = Duration::from_millis(200);
    c.webhooks.tier_settle = Duration::ZERO;
}

const CREATE: &str = "mutation($input: CreateWebhookSubscriptionInput!) { createWebhookSubscription(input: $input) { secret subscription { id partnerId url eventTypes status } } }";
const ISSUE: &str =
    "mutation($input: IssuePointsInput!) { issuePoints(input: $input) { entry { id } } }";
const REDEEM: &str =
    "mutation($input: RedeemPointsInput!) { redeemPoints(input: $input) { entry { id } } }";
const DELIVERIES: &str = "query($s: ID!) { webhookDeliveries(subscriptionId: $s, first: 50) { nodes { id eventIds statusCode succeeded error responseBody latencyMs redelivery } } }";

/// Subscribes `token`'s owner (or, for the operator, `partner`) to `types` at the
/// receiver's `name`; answers the subscription id.
async fn subscribe(
    app: &TestApp,
    token: &str,
    receiver: &Receiver,
    name: &str,
    types: &[&str],
) -> String {
    let created = app
        .gql(
            token,
            CREATE,
            json!({"input": {"url": receiver.url(name), "eventTypes": types}}),
        )
        .await;
    let created = &created.data()["createWebhookSubscription"];
    receiver.know_secret(name, created["secret"].as_str().unwrap());
    created["subscription"]["id"].as_str().unwrap().to_owned()
}

async fn issue(app: &TestApp, token: &str, customer: &str, points: i64, key: &str) -> String {
    let input =
        json!({"member": {"partnerCustomerId": customer}, "points": points, "idempotencyKey": key});
    let answer = app.gql(token, ISSUE, json!({ "input": input })).await;
    answer.data()["issuePoints"]["entry"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Polls `check` until it answers something, for at most `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The subscription's POSTs as `webhookDeliveries` lists them, newest first.
async fn attempts(app: &TestApp, token: &str, hook: &str) -> Vec<Value> {
    let listed = app.gql(token, DELIVERIES, json!({"s": hook})).await;
    listed.data()["webhookDeliveries"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

fn types_of(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn entry_ids(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| e["data"]["entryId"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_signed_and_reach_only_the_partners_party_to_them() {
    let app = TestApp::builder().await.config(quick).spawn().await;
    let receiver = Receiver::up().await;
    let operator = app.operator_token();
    let shop = app.create_partner("hook-shop").await;
    let cafe = app.create_partner("hook-cafe").await;
    let shop_token = app.partner_token(&shop, ALL_SCOPES);
    let cafe_token = app.partner_token(&cafe, ALL_SCOPES);
    let shop_hook = subscribe(&app, &shop_token, &receiver, "shop", &["*"]).await;
    subscribe(&app, &cafe_token, &receiver, "cafe", &["points.issued"]).await;
    subscribe(&app, &operator, &receiver, "coalition", &["*"]).await;

    let (member, _) = app.enroll(&shop_token, "S-1").await;
    let shop_earn = issue(&app, &shop_token, "S-1", 100, "e1").await;
    let cafe_earn = issue(&app, &cafe_token, "C-9", 40, "e2").await;
    let redeem_input =
        json!({"member": {"partnerCustomerId": "S-1"}, "points": 30, "idempotencyKey": "r1"});
    let redeemed = app
        .gql(&shop_token, REDEEM, json!({"input": redeem_input}))
        .await;
    let redemption = redeemed.data()["redeemPoints"]["entry"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Refused, so rolled back: no event.
    let too_much =
        json!({"member": {"partnerCustomerId": "S-1"}, "points": 5000, "idempotencyKey": "r2"});
    let refused = app
        .gql(&shop_token, REDEEM, json!({"input": too_much}))
        .await;
    assert_eq!(refused.code(), "INSUFFICIENT_POINTS");

    let shop_events = receiver.wait_for("shop", 3).await;
    assert_eq!(
        types_of(&shop_events),
        ["member.enrolled", "points.issued", "points.redeemed"]
    );
    assert_eq!(shop_events[0]["data"]["memberId"], member);
    assert_eq!(
        entry_ids(&shop_events),
        [shop_earn.as_str(), redemption.as_str()]
    );
    assert_eq!(shop_events[1]["data"]["points"], 100);
    let cafe_events = receiver.wait_for("cafe", 1).await;
    assert_eq!(types_of(&cafe_events), ["points.issued"]);
    assert_eq!(entry_ids(&cafe_events), [cafe_earn.as_str()]);
    // The coalition's subscription hears everything: two enrolments, two earns, a redemption.
    let all = receiver.wait_for("coalition", 5).await;
    let mut kinds = types_of(&all);
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "member.enrolled",
            "member.enrolled",
            "points.issued",
            "points.issued",
            "points.redeemed"
        ]
    );
    // Nothing else arrives, and every event id is unique.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.events("shop").len(), 3);
    assert_eq!(receiver.events("cafe").len(), 1);
    let ids: std::collections::BTreeSet<String> = all.iter().map(|e| e["id"].to_string()).collect();
    assert_eq!(ids.len(), 5);

    // The attempts are listed for the owner, and hidden from everyone else.
    let listed = app
        .gql(&shop_token, DELIVERIES, json!({"s": shop_hook}))
        .await;
    let attempts = listed.data()["webhookDeliveries"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!attempts.is_empty());
    assert!(
        attempts
            .iter()
            .all(|a| a["statusCode"] == 200 && a["succeeded"] == true)
    );
    assert!(attempts.iter().all(|a| a["responseBody"] == "ok"));
    let carried: usize = attempts
        .iter()
        .map(|a| a["eventIds"].as_array().unwrap().len())
        .sum();
    assert_eq!(carried, 3);
    // Each listed attempt is a POST the receiver got, under its Hub-Delivery-Id.
    let mut listed_ids: Vec<&str> = attempts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let posts = receiver.posts("shop");
    let mut received_ids: Vec<&str> = posts.iter().map(|p| p.delivery_id.as_str()).collect();
    listed_ids.sort();
    received_ids.sort();
    assert_eq!(listed_ids, received_ids);
    let hidden = app
        .gql(&cafe_token, DELIVERIES, json!({"s": shop_hook}))
        .await;
    assert_eq!(hidden.code(), "NOT_FOUND");
    let member_token = app.member_token(&member);
    let refused = app
        .gql(&member_token, "{ webhookSubscriptions { id } }", json!({}))
        .await;
    assert_eq!(refused.code(), "FORBIDDEN");
    let own = app
        .gql(&cafe_token, "{ webhookSubscriptions { url } }", json!({}))
        .await;
    assert_eq!(
        own.data()["webhookSubscriptions"],
        json!([{"url": receiver.url("cafe")}])
    );
    // A partner cannot send itself another partner's event.
    let stolen = app
        .gql(
            &cafe_token,
            "mutation($e: ID!, $s: ID!) { redeliverWebhookEvent(eventId: $e, subscriptionId: $s) }",
            json!({"e": shop_events[1]["id"], "s": shop_hook}),
        )
        .await;
    assert_eq!(stolen.code(), "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_then_up_gets_every_event_in_order() {
    let app = TestApp::builder().await.config(quick).spawn().await;
    let mut receiver = Receiver::reserved().await;
    let shop = app.create_partner("down-shop").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    let hook = subscribe(&app, &token, &receiver, "shop", &["points.issued"]).await;
    let mut earns = Vec::new();
    for i in 0..20 {
        earns.push(
            issue(
                &app,
                &token,
                &format!("D-{}", i % 4),
                10 + i,
                &format!("d{i}"),
            )
            .await,
        );
    }
    // Attempts fail while nothing listens...
    let failed = eventually(10, "no failed attempts recorded", || async {
        Some(attempts(&app, &token, &hook).await).filter(|a| a.len() >= 2)
    })
    .await;
    assert!(
        failed
            .iter()
            .all(|a| a["succeeded"] == false && a["statusCode"].is_null())
    );
    let error = failed[0]["error"].as_str().unwrap();
    assert!(error.contains("could not connect"), "{error}");
    let failing = app
        .gql(&token, "query($id: ID!) { webhookSubscription(id: $id) { status failedAttempts failingSince } }", json!({"id": hook}))
        .await;
    let failing = &failing.data()["webhookSubscription"];
    assert_eq!(failing["status"], "ACTIVE");
    assert!(failing["failedAttempts"].as_i64().unwrap() >= 1);
    assert!(failing["failingSince"].is_string());
    // ...and once it listens, everything arrives, in the order the earns were made.
    receiver.start().await;
    let events = receiver.wait_for("shop", 20).await;
    assert_eq!(
        entry_ids(&events),
        earns.iter().map(String::as_str).collect::<Vec<_>>()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.events("shop").len(), 20, "an event arrived twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_behind_the_tail_read_their_own_events_then_the_tails() {
    // A tail of 3 events and POSTs of 2: after the outage both subscriptions are far behind
    // the tail, read their own events from PostgreSQL, and go on from the tail.
    let app = TestApp::builder()
        .await
        .config(|c| {
            quick(c);
            c.webhooks.tail_events = 3;
            c.webhooks.events_per_delivery = 2;
        })
        .spawn()
        .await;
    let mut receiver = Receiver::reserved().await;
    let shop = app.create_partner("tail-shop").await;
    let cafe = app.create_partner("tail-cafe").await;
    let idle = app.create_partner("tail-idle").await;
    let shop_token = app.partner_token(&shop, ALL_SCOPES);
    let cafe_token = app.partner_token(&cafe, ALL_SCOPES);
    let idle_token = app.partner_token(&idle, ALL_SCOPES);
    subscribe(&app, &shop_token, &receiver, "shop", &["points.issued"]).await;
    subscribe(&app, &cafe_token, &receiver, "cafe", &["points.issued"]).await;
    let idle_hook = subscribe(&app, &idle_token, &receiver, "idle", &["*"]).await;
    let (mut shop_earns, mut cafe_earns) = (Vec::new(), Vec::new());
    for i in 0..12 {
        let (token, earns) = if i % 3 == 0 {
            (&cafe_token, &mut cafe_earns)
        } else {
            (&shop_token, &mut shop_earns)
        };
        earns.push(
            issue(
                &app,
                token,
                &format!("T-{}", i % 5),
                10 + i,
                &format!("t{i}"),
            )
            .await,
        );
    }
    receiver.start().await;
    let shop_events = receiver.wait_for("shop", 8).await;
    let cafe_events = receiver.wait_for("cafe", 4).await;
    assert_eq!(
        entry_ids(&shop_events),
        shop_earns.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        entry_ids(&cafe_events),
        cafe_earns.iter().map(String::as_str).collect::<Vec<_>>()
    );
    // Then new events come from the tail, once each.
    let later = issue(&app, &shop_token, "T-9", 99, "t-later").await;
    let shop_events = receiver.wait_for("shop", 9).await;
    assert_eq!(entry_ids(&shop_events)[8], later);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.events("shop").len(), 9, "an event arrived twice");
    assert_eq!(receiver.events("cafe").len(), 4, "an event arrived twice");
    assert!(receiver.events("idle").is_empty());
    assert!(
        attempts(&app, &idle_token, &idle_hook).await.is_empty(),
        "an empty POST was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_times_out_is_retried_and_a_dead_one_is_disabled_with_its_reason() {
    let app = TestApp::builder()
        .await
        .config(|c| {
            quick(c);
            c.webhooks.retry_for = Duration::from_secs(2);
        })
        .spawn()
        .await;
    let receiver = Receiver::up().await;
    let shop = app.create_partner("slow-shop").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    let hook = subscribe(&app, &token, &receiver, "shop", &["points.issued"]).await;
    receiver.set_mode(Mode::Slow(Duration::from_secs(3)));
    let earn = issue(&app, &token, "S-1", 25, "s1").await;
    // The hub gives up after its timeout and says so.
    let last = eventually(10, "no attempt recorded", || async {
        attempts(&app, &token, &hook).await.first().cloned()
    })
    .await;
    assert_eq!(last["succeeded"], false);
    assert!(
        last["error"].as_str().unwrap().contains("timed out"),
        "{last}"
    );
    assert!(last["latencyMs"].as_i64().unwrap() >= 900, "{last}");
    // Answered in time, the retry delivers the same event.
    receiver.set_mode(Mode::Answer);
    let events = receiver.wait_for("shop", 1).await;
    assert_eq!(entry_ids(&events), [earn.as_str()]);

    // A receiver that only fails: after retry_for the subscription is disabled, with why.
    receiver.set_mode(Mode::Fail);
    issue(&app, &token, "S-1", 5, "s2").await;
    let status_query = "query($id: ID!) { webhookSubscription(id: $id) { status disabledReason } }";
    let disabled = eventually(15, "never disabled", || async {
        let read = app.gql(&token, status_query, json!({"id": hook})).await;
        Some(read.data()["webhookSubscription"].clone()).filter(|s| s["status"] == "DISABLED")
    })
    .await;
    let reason = disabled["disabledReason"].as_str().unwrap();
    assert!(reason.contains("HTTP 500"), "{reason}");
    // Resumed by its owner, it receives what comes from then on; the event it missed comes
    // when asked for.
    receiver.set_mode(Mode::Answer);
    let resume = "mutation($id: ID!) { updateWebhookSubscription(id: $id, input: {paused: false}) { status disabledReason } }";
    let resumed = app.gql(&token, resume, json!({"id": hook})).await;
    assert_eq!(
        resumed.data()["updateWebhookSubscription"],
        json!({"status": "ACTIVE", "disabledReason": null})
    );
    let later = issue(&app, &token, "S-1", 7, "s3").await;
    let events = receiver.wait_for("shop", 2).await;
    assert_eq!(entry_ids(&events[1..]), [later.as_str()]);
    // The second of the three earns, made while the receiver failed.
    let missed = app
        .sql_text(
            "SELECT id::text FROM webhook_events WHERE type = 'points.issued' \
             ORDER BY txid, id OFFSET 1 LIMIT 1",
        )
        .await;
    let redeliver =
        "mutation($e: ID!, $s: ID!) { redeliverWebhookEvent(eventId: $e, subscriptionId: $s) }";
    app.gql(&token, redeliver, json!({"e": missed, "s": hook}))
        .await
        .data();
    let events = receiver.wait_for("shop", 3).await;
    assert_eq!(events[2]["id"], missed.as_str());
    assert_eq!(events[2]["data"]["points"], 5);
    // Listed once the hub has recorded the answer.
    let newest = eventually(5, "redelivery not listed", || async {
        attempts(&app, &token, &hook)
            .await
            .into_iter()
            .next()
            .filter(|a| a["redelivery"] == true)
    })
    .await;
    assert_eq!(newest["eventIds"], json!([missed]));
    assert_eq!(newest["succeeded"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hub_killed_mid_delivery_leaves_the_event_to_another_which_sends_the_same_id() {
    let database = fresh_database().await;
    let receiver = Receiver::up().await;
    let slow_hub = |c: &mut Config| {
        quick(c);
        c.webhooks.timeout = Duration::from_secs(5);
        c.webhooks.lease = Duration::from_secs(10);
    };
    let first = TestApp::builder_on(database.clone())
        .config(slow_hub)
        .spawn()
        .await;
    let shop = first.create_partner("kill-shop").await;
    let token = first.partner_token(&shop, ALL_SCOPES);
    subscribe(&first, &token, &receiver, "shop", &["points.issued"]).await;
    // The receiver takes the POST and holds it; the hub dies while it waits.
    receiver.set_mode(Mode::Slow(Duration::from_secs(30)));
    issue(&first, &token, "K-1", 70, "k1").await;
    eventually(10, "nothing was sent", || async {
        (!receiver.arrivals("shop").is_empty()).then_some(())
    })
    .await;
    drop(first);
    receiver.set_mode(Mode::Answer);
    // Another hub takes the subscription over once the dead one's lease runs out.
    let second = TestApp::builder_on(database).config(quick).spawn().await;
    let events = receiver.wait_for("shop", 1).await;
    assert_eq!(events.len(), 1);
    let arrivals = receiver.arrivals("shop");
    assert_eq!(arrivals.len(), 2, "sent by the dead hub, then by the other");
    assert_eq!(
        arrivals[0].events, arrivals[1].events,
        "the same event, with the same id"
    );
    assert_ne!(
        arrivals[0].delivery_id, arrivals[1].delivery_id,
        "each POST has its own id"
    );
    let recorded = second
        .sql_text("SELECT id::text FROM webhook_events WHERE type = 'points.issued'")
        .await;
    assert_eq!(events[0]["id"], recorded.as_str());
    // The hub records the answer right after it.
    let succeeded = "SELECT count(*) FROM webhook_attempts WHERE succeeded";
    eventually(5, "never recorded", || async {
        (second.sql_count(succeeded).await > 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hubs_delivering_together_send_each_event_once() {
    let database = fresh_database().await;
    let receiver = Receiver::up().await;
    let one = Arc::new(
        TestApp::builder_on(database.clone())
            .config(quick)
            .spawn()
            .await,
    );
    let two = Arc::new(TestApp::builder_on(database).config(quick).spawn().await);
    let operator = one.operator_token();
    let mut partners = Vec::new();
    for name in ["a", "b", "c"] {
        let partner = one.create_partner(&format!("two-{name}")).await;
        let token = one.partner_token(&partner, ALL_SCOPES);
        subscribe(&one, &token, &receiver, name, &["points.issued"]).await;
        partners.push(token);
    }
    subscribe(&one, &operator, &receiver, "all", &["points.issued"]).await;
    for token in &partners {
        for i in 0..10 {
            one.enroll(token, &format!("T-{i}")).await;
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..150 {
        let app = if i % 2 == 0 { one.clone() } else { two.clone() };
        let token = partners[i % 3].clone();
        tasks.spawn(async move {
            issue(&app, &token, &format!("T-{}", i % 10), 1, &format!("t{i}")).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let all = receiver.wait_for("all", 150).await;
    for name in ["a", "b", "c"] {
        assert_eq!(receiver.wait_for(name, 50).await.len(), 50);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ids: Vec<_> = receiver
        .events("all")
        .iter()
        .map(|e| e["id"].to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 150, "an event was lost or sent twice");
    assert_eq!(receiver.events("all").len(), 150);
    for name in ["a", "b", "c"] {
        assert_eq!(receiver.events(name).len(), 50, "{name} got an event twice");
    }
    assert_eq!(all.len(), 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_points_tier_changes_and_settlement_closes_are_announced() {
    let app = TestApp::builder().await.config(quick).spawn().await;
    let receiver = Receiver::up().await;
    let operator = app.operator_token();
    let levels = json!([
        {"name": "Member", "minPoints": "0", "earnMultiplier": "1"},
        {"name": "Silver", "minPoints": "100", "earnMultiplier": "1"},
    ]);
    app.gql(
        &operator,
        "mutation($t: [TierInput!]!) { setTiers(tiers: $t) { name } }",
        json!({"t": levels}),
    )
    .await
    .data();
    let shop = app.create_partner("jobs-shop").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    subscribe(
        &app,
        &token,
        &receiver,
        "shop",
        &["points.expiring", "tier.changed", "settlement.closed"],
    )
    .await;
    let (member, _) = app.enroll(&token, "J-1").await;
    let soon = (Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let later = (Utc::now() + chrono::Duration::days(300)).to_rfc3339();
    for (key, points, expires) in [("j1", 60, &soon), ("j2", 70, &later)] {
        let input = json!({"member": {"partnerCustomerId": "J-1"}, "points": points, "idempotencyKey": key, "expiresAt": expires});
        app.gql(&token, ISSUE, json!({"input": input})).await.data();
    }
    let events = receiver.wait_for("shop", 2).await;
    let mut kinds = types_of(&events);
    kinds.sort();
    assert_eq!(kinds, ["points.expiring", "tier.changed"]);
    let expiring = events
        .iter()
        .find(|e| e["type"] == "points.expiring")
        .unwrap();
    assert_eq!(expiring["data"]["points"], 60);
    assert_eq!(expiring["data"]["memberId"], member);
    let tier = events.iter().find(|e| e["type"] == "tier.changed").unwrap();
    assert_eq!(tier["data"]["previousTier"], "Member");
    assert_eq!(tier["data"]["tier"], "Silver");
    // Once per lot, once per change: the jobs keep running and send nothing more.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.events("shop").len(), 2);

    let cutoff = (Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let closed = app
        .gql(
            &operator,
            "mutation($c: DateTime!) { closeSettlementPeriod(cutoff: $c) { id } }",
            json!({"c": cutoff}),
        )
        .await;
    let statement = closed.data()["closeSettlementPeriod"]["id"].clone();
    let events = receiver.wait_for("shop", 3).await;
    assert_eq!(events[2]["type"], "settlement.closed");
    assert_eq!(events[2]["data"]["statementId"], statement);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_refuse_urls_that_reach_inside_and_every_change_is_audited() {
    let app = TestApp::builder()
        .await
        .config(|c| c.webhooks.addresses.allow_loopback = false)
        .spawn()
        .await;
    let operator = app.operator_token();
    let shop = app.create_partner("url-shop").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    for url in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00:ec2::254]/x",
        "https://user:pass@hooks.example.com/x",
        "not a url",
    ] {
        let refused = app
            .gql(
                &token,
                CREATE,
                json!({"input": {"url": url, "eventTypes": ["points.issued"]}}),
            )
            .await;
        assert_eq!(refused.code(), "BAD_USER_INPUT", "{url} was accepted");
    }
    let unknown = app
        .gql(&token, CREATE, json!({"input": {"url": "https://hooks.example.com/x", "eventTypes": ["points.minted"]}}))
        .await;
    assert_eq!(unknown.code(), "BAD_USER_INPUT");
    let other = app.create_partner("url-other").await;
    let foreign = app
        .gql(&token, CREATE, json!({"input": {"partnerId": other, "url": "https://hooks.example.com/x", "eventTypes": ["*"]}}))
        .await;
    assert_eq!(foreign.code(), "FORBIDDEN");

    let created = app
        .gql(&token, CREATE, json!({"input": {"url": "https://hooks.example.com/x", "eventTypes": ["points.issued", "hold.captured"]}}))
        .await;
    let created = created.data()["createWebhookSubscription"].clone();
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    let id = created["subscription"]["id"].as_str().unwrap();
    let pause = "mutation($id: ID!) { updateWebhookSubscription(id: $id, input: {paused: true}) { status } }";
    let paused = app.gql(&token, pause, json!({"id": id})).await;
    assert_eq!(
        paused.data()["updateWebhookSubscription"]["status"],
        "PAUSED"
    );
    let delete = "mutation($id: ID!) { deleteWebhookSubscription(id: $id) }";
    assert_eq!(
        app.gql(&token, delete, json!({"id": id})).await.data()["deleteWebhookSubscription"],
        true
    );

    let log = app
        .gql(&operator, "{ auditLog(first: 10, filter: {partnerId: null}) { nodes { action partnerId before after } } }", json!({}))
        .await;
    let entries: Vec<Value> = log.data()["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("webhook."))
        .cloned()
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["webhook.deleted", "webhook.updated", "webhook.created"]
    );
    assert_eq!(entries[1]["before"]["status"], "ACTIVE");
    assert_eq!(entries[1]["after"]["status"], "PAUSED");
    assert_eq!(
        entries[2]["after"]["event_types"],
        json!(["hold.captured", "points.issued"])
    );
    // The secret is in no entry.
    assert!(!log.body.to_string().contains(secret));
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_log WHERE before::text LIKE '%whsec_%' OR after::text LIKE '%whsec_%'").await, 0);
}
