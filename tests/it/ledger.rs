//! The points ledger through the API, on real PostgreSQL: earn, redeem, holds, reversals,
//! lots and expiry, idempotency, invariants, concurrency, a killed connection and a lost answer.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use chrono::{DateTime, Duration, Utc};
use coalition_hub::services::{expiry, verify};
use serde_json::{Value, json};

use crate::live;
use crate::support::{ALL_SCOPES, Gql, TestApp, fresh_database};

pub const RESULT: &str = "balance { available held debt lifetimeEarned net } replayed entry { id kind points } hold { id status points capturedPoints }";

pub fn issue_query() -> String {
    format!("mutation($input: IssuePointsInput!) {{ issuePoints(input: $input) {{ {RESULT} }} }}")
}
pub fn redeem_query() -> String {
    format!("mutation($input: RedeemPointsInput!) {{ redeemPoints(input: $input) {{ {RESULT} }} }}")
}
pub fn authorize_query() -> String {
    format!(
        "mutation($input: AuthorizeRedemptionInput!) {{ authorizeRedemption(input: $input) {{ {RESULT} }} }}"
    )
}
pub fn capture_query() -> String {
    format!("mutation($input: CaptureHoldInput!) {{ captureHold(input: $input) {{ {RESULT} }} }}")
}
pub fn void_query() -> String {
    format!("mutation($input: VoidHoldInput!) {{ voidHold(input: $input) {{ {RESULT} }} }}")
}
pub fn reverse_query() -> String {
    format!("mutation($input: ReverseEntryInput!) {{ reverseEntry(input: $input) {{ {RESULT} }} }}")
}

/// A coalition of partners (all scopes) and a member linked to all of them as "M".
pub struct Coalition {
    pub app: Arc<TestApp>,
    pub tokens: Vec<String>,
    pub member: String,
}

impl Coalition {
    pub async fn new(app: TestApp, partners: usize) -> Coalition {
        let app = Arc::new(app);
        let mut tokens = Vec::new();
        let mut ids = Vec::new();
        for i in 0..partners {
            let id = app.create_partner(&format!("partner-{i}")).await;
            tokens.push(app.partner_token(&id, ALL_SCOPES));
            ids.push(id);
        }
        // The member enrols at the first partner and consents to the others (which then
        // link it and redeem without a presence code).
        let (member, _) = app.enroll(&tokens[0], "M").await;
        let link = "mutation($m: ID!) { linkMember(input: {member: {memberId: $m}, partnerCustomerId: \"M\"}) { id } }";
        for (token, id) in tokens.iter().zip(&ids).skip(1) {
            app.grant_consent(&member, id).await;
            app.gql(token, link, json!({"m": member})).await.data();
        }
        Coalition {
            app,
            tokens,
            member,
        }
    }

    pub async fn issue(&self, partner: usize, points: i64, key: &str) -> Gql {
        self.issue_with(
            partner,
            json!({"member": {"partnerCustomerId": "M"}, "points": points, "idempotencyKey": key}),
        )
        .await
    }

    pub async fn issue_with(&self, partner: usize, input: Value) -> Gql {
        self.app
            .gql(
                &self.tokens[partner],
                &issue_query(),
                json!({ "input": input }),
            )
            .await
    }

    pub async fn redeem(&self, partner: usize, points: i64, key: &str) -> Gql {
        let input =
            json!({"member": {"partnerCustomerId": "M"}, "points": points, "idempotencyKey": key});
        self.app
            .gql(
                &self.tokens[partner],
                &redeem_query(),
                json!({ "input": input }),
            )
            .await
    }

    pub async fn authorize(&self, partner: usize, points: i64, key: &str) -> Gql {
        let input =
            json!({"member": {"partnerCustomerId": "M"}, "points": points, "idempotencyKey": key});
        self.app
            .gql(
                &self.tokens[partner],
                &authorize_query(),
                json!({ "input": input }),
            )
            .await
    }

    pub async fn reverse(
        &self,
        partner: usize,
        entry: &str,
        points: Option<i64>,
        key: &str,
    ) -> Gql {
        let input = json!({"entryId": entry, "points": points, "idempotencyKey": key});
        self.app
            .gql(
                &self.tokens[partner],
                &reverse_query(),
                json!({ "input": input }),
            )
            .await
    }

    pub async fn balance(&self) -> Value {
        let response = self
            .app
            .gql(
                &self.app.operator_token(),
                "query($m: ID!) { member(ref: {memberId: $m}) { balance { available held debt lifetimeEarned net } } }",
                json!({"m": self.member}),
            )
            .await;
        response.data()["member"]["balance"].clone()
    }

    pub async fn verify(&self) {
        let report = verify::run(&self.app.state.db).await.unwrap();
        assert!(report.is_clean(), "invariants violated:\n{report}");
    }

    pub async fn entries(&self) -> i64 {
        self.app
            .sql_count("SELECT count(*) FROM journal_entries")
            .await
    }

    pub async fn entries_of(&self, kind: &str) -> i64 {
        self.app
            .sql_count(&format!(
                "SELECT count(*) FROM journal_entries WHERE kind = '{kind}'"
            ))
            .await
    }
}

pub fn balance(available: i64, held: i64, debt: i64, lifetime: i64) -> Value {
    json!({
        "available": available.to_string(), "held": held.to_string(), "debt": debt.to_string(),
        "lifetimeEarned": lifetime.to_string(), "net": (available - debt).to_string(),
    })
}

fn entry_id(response: &Gql, field: &str) -> String {
    response.data()[field]["entry"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earn_spend_and_replay() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    let earned = c.issue(0, 120, "earn-1").await;
    assert_eq!(
        earned.data()["issuePoints"]["balance"],
        balance(120, 0, 0, 120)
    );
    assert_eq!(earned.data()["issuePoints"]["replayed"], false);
    assert_eq!(earned.data()["issuePoints"]["entry"]["kind"], "ISSUE");

    // The same key and input replays: same entry, nothing new written.
    let again = c.issue(0, 120, "earn-1").await;
    assert_eq!(again.data()["issuePoints"]["replayed"], true);
    assert_eq!(
        entry_id(&again, "issuePoints"),
        entry_id(&earned, "issuePoints")
    );
    assert_eq!(c.entries().await, 1);
    // The same key with another input is refused.
    let reused = c.issue(0, 121, "earn-1").await;
    assert_eq!(reused.code(), "IDEMPOTENCY_KEY_REUSED");
    // Keys are scoped to the caller: partner 1 may use "earn-1" too.
    assert_eq!(
        c.issue(1, 30, "earn-1").await.data()["issuePoints"]["replayed"],
        false
    );

    let spent = c.redeem(1, 100, "spend-1").await;
    assert_eq!(
        spent.data()["redeemPoints"]["balance"],
        balance(50, 0, 0, 150)
    );
    let short = c.redeem(1, 51, "spend-2").await;
    assert_eq!(short.code(), "INSUFFICIENT_POINTS");
    assert_eq!(short.body["errors"][0]["extensions"]["available"], "50");
    assert_eq!(short.body["errors"][0]["extensions"]["requested"], "51");
    // A refused operation does not claim its key: the same call can succeed later.
    c.issue(0, 1, "earn-2").await.data();
    assert_eq!(
        c.redeem(1, 51, "spend-2").await.data()["redeemPoints"]["balance"],
        balance(0, 0, 0, 151)
    );

    // Earning by purchase: the partner's earn rate (1.5 in tests), rounded down.
    let by_purchase = c
        .issue_with(0, json!({"member": {"partnerCustomerId": "M"}, "purchase": {"amount": "10.99", "currency": "EUR"}, "idempotencyKey": "buy-1"}))
        .await;
    assert_eq!(by_purchase.data()["issuePoints"]["entry"]["points"], "16");
    let wrong_currency = c
        .issue_with(0, json!({"member": {"partnerCustomerId": "M"}, "purchase": {"amount": "10", "currency": "USD"}, "idempotencyKey": "buy-2"}))
        .await;
    assert_eq!(wrong_currency.code(), "BAD_USER_INPUT");
    c.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuing_to_a_new_customer_id_enrols_the_member() {
    let c = Coalition::new(TestApp::new().await, 1).await;
    let input =
        json!({"member": {"partnerCustomerId": "NEW-7"}, "points": 10, "idempotencyKey": "k"});
    let first = c.app.gql(&c.tokens[0], "mutation($input: IssuePointsInput!) { issuePoints(input: $input) { member { id partnerCustomerId } balance { available } } }", json!({"input": input})).await;
    let member = &first.data()["issuePoints"]["member"];
    assert_eq!(member["partnerCustomerId"], "NEW-7");
    assert_eq!(c.app.sql_count("SELECT count(*) FROM members").await, 2);
    c.verify().await;
}

/// Member "M" earns 100 points at partner 0 (A's lot, expiring in 300 days) and
/// `sooner_points` at partner 1 (B's lot, expiring in 10 days). Answers A's and B's lot ids.
async fn two_lots(c: &Coalition, now: DateTime<Utc>, sooner_points: i64) -> (String, String) {
    let later = (now + Duration::days(300)).to_rfc3339();
    let sooner = (now + Duration::days(10)).to_rfc3339();
    let a = c.issue_with(0, json!({"member": {"partnerCustomerId": "M"}, "points": 100, "idempotencyKey": "a", "expiresAt": later})).await;
    let b = c.issue_with(1, json!({"member": {"partnerCustomerId": "M"}, "points": sooner_points, "idempotencyKey": "b", "expiresAt": sooner})).await;
    (entry_id(&a, "issuePoints"), entry_id(&b, "issuePoints"))
}

/// Points redeemed from a lot so far.
async fn redeemed_from(c: &Coalition, lot: &str) -> i64 {
    c.app
        .sql_count(&format!(
            "SELECT coalesce(sum(points), 0)::bigint FROM lot_consumptions WHERE lot_id = '{lot}' AND kind = 'REDEEM'"
        ))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lots_are_spent_first_expiring_first_and_expire_only_their_remainder() {
    let c = Coalition::new(TestApp::new().await, 3).await;
    let now = Utc::now();
    let (lot_a, lot_b) = two_lots(&c, now, 100).await;

    c.redeem(2, 60, "spend").await.data();
    assert_eq!(
        redeemed_from(&c, &lot_b).await,
        60,
        "B's lot expires sooner and goes first"
    );
    assert_eq!(redeemed_from(&c, &lot_a).await, 0);

    let expiring = c
        .app
        .gql(
            &c.app.member_token(&c.member),
            "{ me { expiringPoints(withinDays: 30) { date points } } }",
            json!({}),
        )
        .await;
    assert_eq!(expiring.data()["me"]["expiringPoints"][0]["points"], "40");

    // Eleven days on, B's lot has expired: only its 40-point remainder.
    let run = expiry::run(&c.app.state.db, None, now + Duration::days(11), |_| {})
        .await
        .unwrap();
    assert_eq!((run.members_expired, run.points_expired), (1, 40));
    assert_eq!(c.balance().await, balance(100, 0, 0, 200));
    // Running it again changes nothing.
    let again = expiry::run(&c.app.state.db, None, now + Duration::days(11), |_| {})
        .await
        .unwrap();
    assert_eq!(again, expiry::ExpiryRun::default());
    let breakage = c
        .app
        .sql_count("SELECT count(*) FROM journal_entries WHERE kind = 'EXPIRY' AND points = 40")
        .await;
    assert_eq!(breakage, 1);
    c.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redemption_larger_than_its_first_lot_takes_the_rest_from_the_next() {
    let c = Coalition::new(TestApp::new().await, 3).await;
    let (lot_a, lot_b) = two_lots(&c, Utc::now(), 30).await;

    let spent = c.redeem(2, 50, "spend").await;
    assert_eq!(
        spent.data()["redeemPoints"]["balance"],
        balance(80, 0, 0, 130)
    );
    assert_eq!(
        redeemed_from(&c, &lot_b).await,
        30,
        "all of B's lot, which expires first"
    );
    assert_eq!(redeemed_from(&c, &lot_a).await, 20, "the rest from A's");
    c.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clawback_leaves_a_debt_that_the_next_earn_repays() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    let earn = c.issue(0, 100, "earn").await;
    let earn_id = entry_id(&earn, "issuePoints");
    c.redeem(1, 80, "spend").await.data();

    let clawback = c.reverse(0, &earn_id, None, "refund").await;
    assert_eq!(
        clawback.data()["reverseEntry"]["balance"],
        balance(0, 0, 80, 0)
    );
    assert_eq!(clawback.data()["reverseEntry"]["balance"]["net"], "-80");
    assert_eq!(
        clawback.data()["reverseEntry"]["entry"]["kind"],
        "REVERSE_ISSUE"
    );

    let refused = c.redeem(1, 1, "while-in-debt").await;
    assert_eq!(refused.code(), "INSUFFICIENT_POINTS");
    let refused_hold = c.authorize(1, 1, "hold-in-debt").await;
    assert_eq!(refused_hold.code(), "INSUFFICIENT_POINTS");

    let next = c.issue(0, 100, "earn-2").await;
    assert_eq!(
        next.data()["issuePoints"]["balance"],
        balance(20, 0, 0, 100)
    );
    // The entry was fully reversed: nothing is left to reverse.
    assert_eq!(
        c.reverse(0, &earn_id, Some(1), "refund-2").await.code(),
        "BAD_USER_INPUT"
    );
    c.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_capture_in_part_void_and_refunds_return_points() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    c.issue(0, 100, "earn").await.data();
    let hold = c.authorize(1, 70, "hold").await;
    let hold_id = hold.data()["authorizeRedemption"]["hold"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        hold.data()["authorizeRedemption"]["balance"],
        balance(30, 70, 0, 100)
    );

    let capture = c
        .app
        .gql(
            &c.tokens[1],
            &capture_query(),
            json!({"input": {"holdId": hold_id, "points": 50, "idempotencyKey": "cap"}}),
        )
        .await;
    let captured = &capture.data()["captureHold"];
    assert_eq!(captured["balance"], balance(50, 0, 0, 100));
    assert_eq!(captured["hold"]["status"], "CAPTURED");
    assert_eq!(captured["hold"]["capturedPoints"], "50");
    let capture_id = captured["entry"]["id"].as_str().unwrap().to_owned();

    // A settled hold cannot be settled again.
    let void = c
        .app
        .gql(
            &c.tokens[1],
            &void_query(),
            json!({"input": {"holdId": hold_id, "idempotencyKey": "void"}}),
        )
        .await;
    assert_eq!(void.code(), "HOLD_NOT_PENDING");
    // Another partner cannot touch it.
    let foreign = c
        .app
        .gql(
            &c.tokens[0],
            &void_query(),
            json!({"input": {"holdId": hold_id, "idempotencyKey": "void"}}),
        )
        .await;
    assert_eq!(foreign.code(), "NOT_FOUND");

    // Refund 20 of the 50 captured: they come back; no more than 50 can ever come back.
    let refund = c.reverse(1, &capture_id, Some(20), "refund").await;
    assert_eq!(
        refund.data()["reverseEntry"]["balance"],
        balance(70, 0, 0, 100)
    );
    assert_eq!(
        c.reverse(1, &capture_id, Some(31), "refund-2").await.code(),
        "BAD_USER_INPUT"
    );
    assert_eq!(
        c.reverse(1, &capture_id, None, "refund-3").await.data()["reverseEntry"]["balance"],
        balance(100, 0, 0, 100)
    );
    // A partner reverses only its own entries.
    assert_eq!(
        c.reverse(0, &capture_id, None, "not-mine").await.code(),
        "NOT_FOUND"
    );

    // A hold that times out returns its points.
    let short = c.app.gql(&c.tokens[1], &authorize_query(), json!({"input": {"member": {"partnerCustomerId": "M"}, "points": 40, "idempotencyKey": "short", "expiresInSeconds": 60}})).await;
    let short_id = short.data()["authorizeRedemption"]["hold"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = expiry::run(
        &c.app.state.db,
        None,
        Utc::now() + Duration::minutes(2),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(run.holds_released, 1);
    assert_eq!(c.balance().await, balance(100, 0, 0, 100));
    let late = c
        .app
        .gql(
            &c.tokens[1],
            &capture_query(),
            json!({"input": {"holdId": short_id, "idempotencyKey": "late"}}),
        )
        .await;
    assert_eq!(late.code(), "HOLD_NOT_PENDING");
    c.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_writes_nothing() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    let earn = c.issue(0, 100, "earn").await;
    let earn_id = entry_id(&earn, "issuePoints");
    let hold = c.authorize(1, 10, "hold").await;
    let hold_id = hold.data()["authorizeRedemption"]["hold"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.app
        .gql(
            &c.tokens[1],
            &void_query(),
            json!({"input": {"holdId": hold_id, "idempotencyKey": "void"}}),
        )
        .await
        .data();
    let before = (
        c.entries().await,
        c.app
            .sql_count("SELECT count(*) FROM idempotency_keys")
            .await,
        c.balance().await,
    );

    let m = json!({"partnerCustomerId": "M"});
    let cases: Vec<(&str, usize, String, Value, &str)> = vec![
        (
            "zero points",
            0,
            issue_query(),
            json!({"member": m, "points": 0, "idempotencyKey": "x1"}),
            "BAD_USER_INPUT",
        ),
        (
            "negative points",
            0,
            issue_query(),
            json!({"member": m, "points": -5, "idempotencyKey": "x2"}),
            "BAD_USER_INPUT",
        ),
        (
            "huge points",
            0,
            issue_query(),
            json!({"member": m, "points": 2_000_000_000, "idempotencyKey": "x3"}),
            "BAD_USER_INPUT",
        ),
        (
            "beyond Int",
            0,
            issue_query(),
            json!({"member": m, "points": 9_000_000_000i64, "idempotencyKey": "x4"}),
            "BAD_USER_INPUT",
        ),
        (
            "points and purchase",
            0,
            issue_query(),
            json!({"member": m, "points": 5, "purchase": {"amount": "1", "currency": "EUR"}, "idempotencyKey": "x5"}),
            "BAD_USER_INPUT",
        ),
        (
            "negative purchase",
            0,
            issue_query(),
            json!({"member": m, "purchase": {"amount": "-1", "currency": "EUR"}, "idempotencyKey": "x6"}),
            "BAD_USER_INPUT",
        ),
        (
            "expiresAt in the past",
            0,
            issue_query(),
            json!({"member": m, "points": 5, "idempotencyKey": "x7", "expiresAt": "2020-01-01T00:00:00Z"}),
            "BAD_USER_INPUT",
        ),
        (
            "over-long key",
            0,
            issue_query(),
            json!({"member": m, "points": 5, "idempotencyKey": "k".repeat(256)}),
            "BAD_USER_INPUT",
        ),
        (
            "empty key",
            0,
            issue_query(),
            json!({"member": m, "points": 5, "idempotencyKey": ""}),
            "BAD_USER_INPUT",
        ),
        (
            "unknown member id",
            0,
            issue_query(),
            json!({"member": {"memberId": "01a20990-0000-7000-8000-000000000000"}, "points": 5, "idempotencyKey": "x8"}),
            "NOT_FOUND",
        ),
        (
            "unknown member number",
            0,
            issue_query(),
            json!({"member": {"memberNumber": "4111111111111111"}, "points": 5, "idempotencyKey": "x9"}),
            "NOT_FOUND",
        ),
        (
            "mistyped member number",
            0,
            redeem_query(),
            json!({"member": {"memberNumber": "4111111111111112"}, "points": 5, "idempotencyKey": "x10"}),
            "BAD_USER_INPUT",
        ),
        (
            "unknown customer to redeem from",
            0,
            redeem_query(),
            json!({"member": {"partnerCustomerId": "nobody"}, "points": 5, "idempotencyKey": "x11"}),
            "NOT_FOUND",
        ),
        (
            "over-long reference",
            0,
            redeem_query(),
            json!({"member": m, "points": 5, "idempotencyKey": "x12", "reference": "r".repeat(201)}),
            "BAD_USER_INPUT",
        ),
        (
            "another partner's entry",
            1,
            reverse_query(),
            json!({"entryId": earn_id, "idempotencyKey": "x13"}),
            "NOT_FOUND",
        ),
        (
            "reversing more than the entry",
            0,
            reverse_query(),
            json!({"entryId": earn_id, "points": 101, "idempotencyKey": "x14"}),
            "BAD_USER_INPUT",
        ),
        (
            "capture of a voided hold",
            1,
            capture_query(),
            json!({"holdId": hold_id, "idempotencyKey": "x15"}),
            "HOLD_NOT_PENDING",
        ),
        (
            "capture of nothing",
            1,
            capture_query(),
            json!({"holdId": hold_id, "points": 0, "idempotencyKey": "x16"}),
            "BAD_USER_INPUT",
        ),
        (
            "hold for too long",
            1,
            authorize_query(),
            json!({"member": m, "points": 5, "idempotencyKey": "x17", "expiresInSeconds": 100_000_000}),
            "BAD_USER_INPUT",
        ),
        (
            "unknown hold",
            1,
            void_query(),
            json!({"holdId": "01a20990-0000-7000-8000-000000000000", "idempotencyKey": "x18"}),
            "NOT_FOUND",
        ),
        (
            "not an id",
            1,
            void_query(),
            json!({"holdId": "hold-1", "idempotencyKey": "x19"}),
            "BAD_USER_INPUT",
        ),
    ];
    for (name, partner, query, input, code) in cases {
        let response = c
            .app
            .gql(&c.tokens[partner], &query, json!({"input": input}))
            .await;
        assert_eq!(response.code(), code, "{name}: {}", response.body);
        assert!(response.has_no_data(), "{name}");
    }
    let after = (
        c.entries().await,
        c.app
            .sql_count("SELECT count(*) FROM idempotency_keys")
            .await,
        c.balance().await,
    );
    assert_eq!(before, after, "a refused operation wrote something");
    // Scopes: a partner without points:redeem cannot redeem; members cannot issue.
    let issue_only = c.app.partner_token(
        &c.app
            .sql_text("SELECT id::text FROM partners ORDER BY created_at LIMIT 1")
            .await,
        "points:issue",
    );
    let input = json!({"member": m, "points": 1, "idempotencyKey": "s1"});
    assert_eq!(
        c.app
            .gql(&issue_only, &redeem_query(), json!({"input": input}))
            .await
            .code(),
        "FORBIDDEN"
    );
    let member = c.app.member_token(&c.member);
    assert_eq!(
        c.app
            .gql(&member, &issue_query(), json!({"input": input}))
            .await
            .code(),
        "FORBIDDEN"
    );
    c.verify().await;
}

/// The balance covers 20 redemptions of 7; 50 arrive at once on 50 connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_never_overdraw() {
    let app = TestApp::builder()
        .await
        .config(|c| c.db_pool_size = 50)
        .spawn()
        .await;
    let c = Coalition::new(app, 2).await;
    c.issue(0, 140, "earn").await.data();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let app = c.app.clone();
            let token = c.tokens[1].clone();
            tokio::spawn(async move {
                let input = json!({"member": {"partnerCustomerId": "M"}, "points": 7, "idempotencyKey": format!("r{i}")});
                app.gql(&token, &redeem_query(), json!({"input": input})).await
            })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for task in tasks {
        let response = task.await.unwrap();
        match response.body.get("errors") {
            None => ok += 1,
            Some(_) => {
                assert_eq!(response.code(), "INSUFFICIENT_POINTS", "{}", response.body);
                refused += 1;
            }
        }
    }
    assert_eq!((ok, refused), (20, 30));
    assert_eq!(c.balance().await, balance(0, 0, 0, 140));
    c.verify().await;

    // The operator sees the group commit at work: the 51 operations (the earn and the 50
    // redemptions, refused ones included) went in fewer transactions than operations.
    let metrics = c.app.metrics().await;
    let counter = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    assert_eq!(counter("hub_ledger_batched_operations_total"), 51);
    let batches = counter("hub_ledger_batches_total");
    assert!(
        (2..51).contains(&batches),
        "{batches} batches for 51 operations"
    );
    // and how long the batches kept their workers: more than nothing, less than the test
    let busy: f64 = metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix("hub_ledger_batch_busy_seconds_total ")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no busy seconds in {metrics}"));
    assert!(busy > 0.0 && busy < 60.0, "{busy} s busy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_operation_never_waits_for_a_batch_to_fill() {
    // The group commit waits for more operations only while another batch is in flight: with
    // a wait far longer than the test, one earn or redemption at a time still answers at once.
    let app = TestApp::builder()
        .await
        .config(|c| c.ledger.batch_linger = std::time::Duration::from_secs(600))
        .spawn()
        .await;
    let c = Coalition::new(app, 2).await;
    let answered = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        for i in 0..3 {
            c.issue(0, 10, &format!("e{i}")).await.data();
            c.redeem(1, 5, &format!("r{i}")).await.data();
        }
    })
    .await;
    assert!(answered.is_ok(), "a lone operation waited for a batch");
    assert_eq!(c.balance().await, balance(15, 0, 0, 30));
}

#[tokio::test]
async fn a_quiet_hub_gets_the_group_commit_connections_back() {
    // Busy group-commit workers keep their connections from batch to batch; once they wait
    // for work longer than a second, every connection is back in the pool.
    let app = TestApp::builder()
        .await
        .config(|c| {
            c.db_pool_size = 4;
            c.ledger.batch_workers = 2;
        })
        .spawn()
        .await;
    let c = Coalition::new(app, 2).await;
    let keys: Vec<String> = (0..8).map(|i| format!("e{i}")).collect();
    let earns = keys
        .iter()
        .enumerate()
        .map(|(i, key)| c.issue(i % 2, 10, key));
    for earned in futures_util::future::join_all(earns).await {
        earned.data();
    }
    let gauge = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("/metrics has no {name}"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let metrics = c.app.metrics().await;
        let (open, idle) = (
            gauge(&metrics, "hub_db_pool_connections"),
            gauge(&metrics, "hub_db_pool_idle_connections"),
        );
        if open > 0 && idle == open {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{idle} of {open} connections idle 15 s after the last earn"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(c.balance().await, balance(80, 0, 0, 80));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_captures_and_voids_settle_a_hold_once() {
    let app = TestApp::builder()
        .await
        .config(|c| c.db_pool_size = 30)
        .spawn()
        .await;
    let c = Coalition::new(app, 2).await;
    c.issue(0, 100, "earn").await.data();
    let hold = c.authorize(1, 60, "hold").await;
    let hold_id = hold.data()["authorizeRedemption"]["hold"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let app = c.app.clone();
            let token = c.tokens[1].clone();
            let hold_id = hold_id.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    let input = json!({"holdId": hold_id, "points": 10 + i, "idempotencyKey": format!("c{i}")});
                    (i, app.gql(&token, &capture_query(), json!({"input": input})).await)
                } else {
                    let input = json!({"holdId": hold_id, "idempotencyKey": format!("v{i}")});
                    (i, app.gql(&token, &void_query(), json!({"input": input})).await)
                }
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, response) = task.await.unwrap();
        match response.body.get("errors") {
            None => winners.push(i),
            Some(_) => assert_eq!(response.code(), "HOLD_NOT_PENDING", "{}", response.body),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one settlement wins: {winners:?}");
    let captured = if winners[0] % 2 == 0 {
        10 + winners[0]
    } else {
        0
    };
    assert_eq!(c.balance().await, balance(100 - captured, 0, 0, 100));
    c.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_key_sent_twenty_times_at_once_makes_one_entry() {
    let app = TestApp::builder()
        .await
        .config(|c| c.db_pool_size = 20)
        .spawn()
        .await;
    let c = Coalition::new(app, 1).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = c.app.clone();
            let token = c.tokens[0].clone();
            tokio::spawn(async move {
                let input = json!({"member": {"partnerCustomerId": "M"}, "points": 25, "idempotencyKey": "once"});
                app.gql(&token, &issue_query(), json!({"input": input})).await
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    let mut fresh = 0;
    for task in tasks {
        let response = task.await.unwrap();
        let result = &response.data()["issuePoints"];
        ids.insert(result["entry"]["id"].as_str().unwrap().to_owned());
        fresh += usize::from(result["replayed"] == false);
    }
    assert_eq!((ids.len(), fresh), (1, 1));
    assert_eq!(c.entries().await, 1);
    assert_eq!(c.balance().await, balance(25, 0, 0, 25));
    c.verify().await;
}

const BATCH_WAITING: &str =
    "FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%ledger_batch%'";

/// Waits until a `ledger_batch` call waits for a lock.
pub async fn wait_for_a_blocked_batch(app: &TestApp) {
    let mut waiting = 0;
    for _ in 0..250 {
        waiting = app
            .sql_count(&format!("SELECT count(*) {BATCH_WAITING}"))
            .await;
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(waiting, 1, "no ledger_batch call reached the lock");
}

/// A redemption of 30 (from 100) stopped half way, inside its `ledger_batch` call, after it
/// has claimed its key: another connection holds the member's balance row.
struct StuckRedemption {
    c: Coalition,
    blocker: diesel_async::AsyncPgConnection,
    killer: diesel_async::AsyncPgConnection,
    request: tokio::task::JoinHandle<Gql>,
}

impl StuckRedemption {
    async fn new(key: &str) -> StuckRedemption {
        use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
        let c = Coalition::new(TestApp::new().await, 2).await;
        c.issue(0, 100, "earn").await.data();
        let url = c.app.state.config.database_url.clone();
        let mut blocker = AsyncPgConnection::establish(&url).await.unwrap();
        blocker
            .batch_execute(&format!(
                "BEGIN; SELECT 1 FROM member_balances WHERE member_id = '{}' FOR UPDATE",
                c.member
            ))
            .await
            .unwrap();
        let (app, token) = (c.app.clone(), c.tokens[1].clone());
        let input =
            json!({"member": {"partnerCustomerId": "M"}, "points": 30, "idempotencyKey": key});
        let request = tokio::spawn(async move {
            app.gql(&token, &redeem_query(), json!({"input": input}))
                .await
        });
        let killer = AsyncPgConnection::establish(&url).await.unwrap();
        StuckRedemption {
            c,
            blocker,
            killer,
            request,
        }
    }

    /// Kills the connection of the call that waits for the member's row, and waits until
    /// that backend is gone (so that the next waiting call seen is another one).
    async fn kill_the_call(&mut self) {
        use diesel_async::SimpleAsyncConnection;
        wait_for_a_blocked_batch(&self.c.app).await;
        let app = &self.c.app;
        let pid = app
            .sql_count(&format!("SELECT max(pid)::bigint {BATCH_WAITING}"))
            .await;
        self.killer
            .batch_execute(&format!("SELECT pg_terminate_backend({pid})"))
            .await
            .unwrap();
        for _ in 0..250 {
            let alive = app
                .sql_count(&format!(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}"
                ))
                .await;
            if alive == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("backend {pid} outlived pg_terminate_backend");
    }

    async fn release(&mut self) {
        use diesel_async::SimpleAsyncConnection;
        self.blocker.batch_execute("ROLLBACK").await.unwrap();
    }
}

/// The client's answer to the stuck redemption of 30 (from 100) is a booking of its own,
/// and its retry with the same key replays that entry. Returns the first answer.
async fn booked_then_replayed(c: &Coalition, response: &Gql, key: &str) -> Value {
    let first = response.data()["redeemPoints"].clone();
    assert_eq!(first["replayed"], false);
    assert_eq!(first["balance"]["available"], "70");
    let again = c.redeem(1, 30, key).await;
    assert_eq!(again.data()["redeemPoints"]["replayed"], true);
    assert_eq!(
        again.data()["redeemPoints"]["entry"]["id"],
        first["entry"]["id"]
    );
    first
}

/// The connection running a money-moving call is killed mid-transaction, and so is the
/// hub's second attempt: nothing partial is left, and a retry with the same key succeeds
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_connection_leaves_nothing_and_the_retry_succeeds_once() {
    let mut stuck = StuckRedemption::new("killed").await;
    stuck.kill_the_call().await;
    stuck.kill_the_call().await;
    let response = (&mut stuck.request).await.unwrap();
    assert_eq!(response.code(), "INTERNAL");
    stuck.release().await;
    let c = &stuck.c;

    assert_eq!(
        c.app
            .sql_count("SELECT count(*) FROM idempotency_keys WHERE key = 'killed'")
            .await,
        0
    );
    assert_eq!(c.entries_of("REDEEM").await, 0);
    assert_eq!(c.balance().await, balance(100, 0, 0, 100));

    let retry = c.redeem(1, 30, "killed").await;
    assert_eq!(retry.data()["redeemPoints"]["replayed"], false);
    assert_eq!(
        c.redeem(1, 30, "killed").await.data()["redeemPoints"]["replayed"],
        true
    );
    assert_eq!(c.balance().await, balance(70, 0, 0, 100));
    c.verify().await;
}

/// A call whose connection is killed mid-transaction is sent once more by the hub: the
/// client gets its answer, and the redemption is booked once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_cut_off_mid_transaction_is_finished_by_the_hub() {
    let mut stuck = StuckRedemption::new("cut-off").await;
    stuck.kill_the_call().await;
    // The hub's second attempt waits where the first one was killed; nothing shows yet.
    wait_for_a_blocked_batch(&stuck.c.app).await;
    assert_eq!(stuck.c.entries_of("REDEEM").await, 0);
    stuck.release().await;

    let response = (&mut stuck.request).await.unwrap();
    let c = &stuck.c;
    booked_then_replayed(c, &response, "cut-off").await;
    assert_eq!(c.entries_of("REDEEM").await, 1);
    assert_eq!(c.balance().await, balance(70, 0, 0, 100));
    c.verify().await;
}

/// The group commit keeps its connection between batches; one that the database dropped in
/// the meantime (a restart, a terminated backend) must not fail the next batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_that_died_between_batches_does_not_fail_the_next_one() {
    // One worker, so that the next batch goes out on the connection that was killed.
    let app = TestApp::builder()
        .await
        .config(|c| c.ledger.batch_workers = 1)
        .spawn()
        .await;
    let c = Coalition::new(app, 2).await;
    c.issue(0, 100, "first").await.data();
    let killed = c
        .app
        .sql_count(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
               AND state = 'idle' AND query LIKE '%ledger_batch%'",
        )
        .await;
    assert_eq!(killed, 1, "the batch worker kept no connection");
    let second = c.issue(0, 50, "second").await;
    assert_eq!(second.data()["issuePoints"]["balance"]["available"], "150");
    assert_eq!(c.balance().await, balance(150, 0, 0, 150));
    c.verify().await;
}

/// A TCP relay in front of PostgreSQL that, once armed, swallows the first reply carrying a
/// `ledger_batch` result and drops that connection: the call committed, but its answer
/// never reaches the hub.
struct AnswerThief {
    url: String,
    armed: Arc<AtomicBool>,
    stolen: Arc<AtomicUsize>,
}

impl AnswerThief {
    async fn in_front_of(database_url: &str) -> AnswerThief {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (scheme_and_user, rest) = database_url
            .rsplit_once('@')
            .expect("DATABASE_URL names a user");
        let (server, database) = rest.split_once('/').unwrap();
        let server = server.to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "{scheme_and_user}@{}/{database}",
            listener.local_addr().unwrap()
        );
        let armed = Arc::new(AtomicBool::new(false));
        let stolen = Arc::new(AtomicUsize::new(0));
        let (armed_, stolen_) = (armed.clone(), Arc::clone(&stolen));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = tokio::net::TcpStream::connect(&server).await.unwrap();
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = upstream.into_split();
                let requests = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
                });
                let (armed, stolen) = (armed_.clone(), Arc::clone(&stolen_));
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let n = match from_server.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let reply = &buffer[..n];
                        let answer = reply.windows(10).any(|w| w == b"\"entry_id\"");
                        if answer && armed.swap(false, Ordering::SeqCst) {
                            stolen.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        if to_client.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                    // Both directions close: the hub sees its connection die.
                    requests.abort();
                });
            }
        });
        AnswerThief { url, armed, stolen }
    }

    fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    fn stolen(&self) -> usize {
        self.stolen.load(Ordering::SeqCst)
    }
}

/// A call commits but its answer is lost with the connection: the hub's second attempt
/// finds the entry under its key, so the client gets the redemption that was booked (once)
/// and the member hears of it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_whose_answer_is_lost_after_it_committed_is_answered_once() {
    let thief = AnswerThief::in_front_of(&fresh_database().await).await;
    let c = Coalition::new(TestApp::builder_on(thief.url.clone()).spawn().await, 2).await;
    let mut socket = live::subscribe(&c.app, &c.app.member_token(&c.member)).await;
    // The subscription registers when its operation starts; give it a moment.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    c.issue(0, 100, "earn").await.data();

    thief.arm();
    let response = c.redeem(1, 30, "lost").await;
    assert_eq!(
        thief.stolen(),
        1,
        "no ledger_batch answer went through the relay"
    );
    let first = booked_then_replayed(&c, &response, "lost").await;
    // Every balance event until a second of silence (the earn's comes too, in its own time).
    let mut announced = Vec::new();
    let quiet = std::time::Duration::from_secs(1);
    while let Some(message) = live::next(&mut socket, quiet).await {
        let event = &message["payload"]["data"]["balanceChanged"];
        if event["entryId"] == first["entry"]["id"] {
            announced.push(event["balance"]["available"].clone());
        }
    }
    assert_eq!(
        announced,
        vec![json!("70")],
        "the redemption announced once"
    );
    assert_eq!(c.entries_of("REDEEM").await, 1);
    assert_eq!(c.balance().await, balance(70, 0, 0, 100));
    c.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_are_visible_only_to_their_parties() {
    let c = Coalition::new(TestApp::new().await, 3).await;
    let earn = c.issue(0, 100, "earn").await;
    c.redeem(1, 40, "spend").await.data();
    let earn_id = entry_id(&earn, "issuePoints");
    let list = "{ ledgerEntries { nodes { kind points partner { slug } } } }";

    let mine = c.app.gql(&c.tokens[0], list, json!({})).await;
    assert_eq!(
        mine.data()["ledgerEntries"]["nodes"],
        json!([{"kind": "ISSUE", "points": "100", "partner": {"slug": "partner-0"}}])
    );
    let nothing = c.app.gql(&c.tokens[2], list, json!({})).await;
    assert_eq!(nothing.data()["ledgerEntries"]["nodes"], json!([]));
    let hidden = c
        .app
        .gql(
            &c.tokens[2],
            "query($id: ID!) { ledgerEntry(id: $id) { id } }",
            json!({"id": earn_id}),
        )
        .await;
    assert_eq!(hidden.code(), "NOT_FOUND");

    let member = c.app.member_token(&c.member);
    let history = c.app.gql(&member, "{ me { balance { available } transactions { nodes { kind points partner { name } } } } }", json!({})).await;
    let me = &history.data()["me"];
    assert_eq!(me["balance"]["available"], "60");
    assert_eq!(me["transactions"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(
        me["transactions"]["nodes"][0]["kind"], "REDEEM",
        "newest first"
    );
    let all = c
        .app
        .gql(
            &c.app.operator_token(),
            "{ ledgerEntries(filter: {kinds: [REDEEM]}) { nodes { kind } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        all.data()["ledgerEntries"]["nodes"],
        json!([{"kind": "REDEEM"}])
    );
}

/// Found by the property test: a hold timing out repays a debt from lots that are already
/// past due; the repayment must take those lots, or the wallet drifts from the balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_hold_repays_a_debt_from_past_due_lots() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    let now = Utc::now();
    let in_days = |d: i64| (now + Duration::days(d)).to_rfc3339();
    let earn = c.issue_with(0, json!({"member": {"partnerCustomerId": "M"}, "points": 40, "idempotencyKey": "a", "expiresAt": in_days(1)})).await;
    c.issue_with(0, json!({"member": {"partnerCustomerId": "M"}, "points": 21, "idempotencyKey": "b", "expiresAt": in_days(2)})).await.data();
    c.authorize(1, 61, "hold").await.data();
    let clawback = c
        .reverse(0, &entry_id(&earn, "issuePoints"), None, "refund")
        .await;
    assert_eq!(
        clawback.data()["reverseEntry"]["balance"],
        balance(0, 61, 40, 21)
    );

    let run = expiry::run(&c.app.state.db, None, now + Duration::days(40), |_| {})
        .await
        .unwrap();
    // The hold returns 61: 40 repay the debt, 21 were left, and those 21 have expired.
    assert_eq!((run.holds_released, run.points_expired), (1, 21));
    assert_eq!(c.balance().await, balance(0, 0, 0, 21));
    c.verify().await;
}

/// Found by the property test: a refund that repays a debt gives points back to a lot and
/// takes them again in one entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_into_a_debt_restores_and_takes_back_in_one_entry() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    let earn = c.issue(0, 100, "earn").await;
    let spend = c.redeem(1, 60, "spend").await;
    c.reverse(0, &entry_id(&earn, "issuePoints"), None, "clawback")
        .await
        .data();
    assert_eq!(c.balance().await, balance(0, 0, 60, 0));
    // B refunds the redemption: 60 points return to the lot they came from and repay the debt.
    let refund = c
        .reverse(1, &entry_id(&spend, "redeemPoints"), None, "refund")
        .await;
    assert_eq!(
        refund.data()["reverseEntry"]["balance"],
        balance(0, 0, 0, 0)
    );
    c.verify().await;
}

/// Double entry is the database's rule, not only the functions': postings that leave an
/// entry unbalanced, an entry without postings, and changes to the journal are refused by
/// PostgreSQL itself, whoever writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_itself_refuses_unbalanced_or_changed_entries() {
    use diesel_async::SimpleAsyncConnection;
    let app = TestApp::new().await;
    let partner = app.create_partner("double-entry").await;
    let token = app.partner_token(&partner, ALL_SCOPES);
    let earned = app
        .gql(
            &token,
            &issue_query(),
            json!({"input": {"member": {"partnerCustomerId": "de"}, "points": 100, "idempotencyKey": "de-1"}}),
        )
        .await;
    let entry = earned.data()["issuePoints"]["entry"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = app
        .sql_text(&format!(
            "SELECT member_id::text FROM journal_entries WHERE id = '{entry}'"
        ))
        .await;
    let account = app
        .sql_count(&format!(
            "SELECT available_account FROM member_balances WHERE member_id = '{member}'"
        ))
        .await;
    let breakage = app
        .sql_count("SELECT id FROM accounts WHERE kind = 'COALITION_BREAKAGE'")
        .await;
    let mut conn = app.state.db.get().await.unwrap();
    let attempts = [
        // one more posting on an existing entry
        format!("INSERT INTO postings VALUES ('{entry}', {breakage}, 5)"),
        // a balanced pair split over two statements: the first leaves the entry unbalanced
        format!(
            "BEGIN; INSERT INTO postings VALUES ('{entry}', {breakage}, 5); \
             INSERT INTO postings VALUES ('{entry}', {account}, -5); COMMIT;"
        ),
        // an entry with no postings, refused at commit
        format!(
            "BEGIN; INSERT INTO journal_entries (id, kind, member_id, points) \
             VALUES (gen_random_uuid(), 'EXPIRY', '{member}', 5); COMMIT;"
        ),
        // an entry whose postings do not sum to zero
        format!(
            "BEGIN; INSERT INTO journal_entries (id, kind, member_id, points) \
             VALUES ('0190a0a0-0000-7000-8000-00000000000e', 'EXPIRY', '{member}', 5); \
             INSERT INTO postings VALUES ('0190a0a0-0000-7000-8000-00000000000e', {account}, -5), \
                                         ('0190a0a0-0000-7000-8000-00000000000e', {breakage}, 4); COMMIT;"
        ),
    ];
    for sql in attempts {
        let error = conn.batch_execute(&sql).await.unwrap_err().to_string();
        assert!(error.contains("HUB:UNBALANCED"), "{sql}: {error}");
        let _ = conn.batch_execute("ROLLBACK").await;
    }
    for sql in [
        format!("UPDATE postings SET amount = amount + 1 WHERE entry_id = '{entry}'"),
        format!("DELETE FROM journal_entries WHERE id = '{entry}'"),
    ] {
        let error = conn.batch_execute(&sql).await.unwrap_err().to_string();
        assert!(error.contains("HUB:APPEND_ONLY"), "{sql}: {error}");
    }
    drop(conn);
    assert_eq!(
        app.sql_count(&format!(
            "SELECT count(*) FROM postings WHERE entry_id = '{entry}'"
        ))
        .await,
        2
    );
    let verify = verify::run(&app.state.db).await.unwrap();
    assert!(verify.is_clean(), "{verify}");
}

/// One entry books at most 1,000,000,000 points on every earning path: by points, by
/// purchase (whatever the earn rate), after the tier multiplier, one by one or in a
/// group-commit set. Larger earns are refused and book nothing, so no balance or settlement
/// sum can be driven towards overflow by one partner's input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_earn_books_more_than_the_per_entry_cap() {
    let app = TestApp::new().await;
    let operator = app.operator_token();
    let partner = app.create_partner("big-spender").await;
    let token = app.partner_token(&partner, ALL_SCOPES);
    let set_partner = "mutation($id: ID!, $input: UpdatePartnerInput!) { updatePartner(id: $id, input: $input) { id } }";
    app.gql(
        &operator,
        set_partner,
        json!({"id": partner, "input": {"earnRate": "10000"}}),
    )
    .await
    .data();
    let earn = |customer: String, purchase: &str, key: String| {
        let app = &app;
        let token = &token;
        let input = json!({"member": {"partnerCustomerId": customer},
                           "purchase": {"amount": purchase, "currency": "EUR"},
                           "idempotencyKey": key});
        async move {
            app.gql(token, &issue_query(), json!({ "input": input }))
                .await
        }
    };

    // Many at once (the group commit's set path), each earning 10^16 points: all refused.
    let refused = futures_util::future::join_all(
        (0..16).map(|i| earn(format!("c-{i}"), "1000000000000", format!("huge-{i}"))),
    )
    .await;
    for answer in &refused {
        assert_eq!(answer.code(), "BAD_USER_INPUT", "{:?}", answer.body);
    }
    // Points given as such: the same cap.
    let by_points = app
        .gql(
            &token,
            &issue_query(),
            json!({"input": {"member": {"partnerCustomerId": "c-0"}, "points": 1_000_000_001i64,
                             "idempotencyKey": "points-over"}}),
        )
        .await;
    assert_eq!(by_points.code(), "BAD_USER_INPUT");
    // One point over the cap, and the cap itself.
    assert_eq!(
        earn("c-0".into(), "100000.0001", "over".into())
            .await
            .code(),
        "BAD_USER_INPUT"
    );
    let at_cap = earn("c-0".into(), "100000", "at-cap".into()).await;
    assert_eq!(
        at_cap.data()["issuePoints"]["entry"]["points"],
        "1000000000"
    );
    assert_eq!(
        app.sql_count("SELECT count(*) FROM journal_entries").await,
        1
    );

    // The tier multiplier cannot lift an earn over the cap either.
    app.gql(
        &operator,
        "mutation($t: [TierInput!]!) { setTiers(tiers: $t) { name } }",
        json!({"t": [{"name": "Base", "minPoints": "0", "earnMultiplier": "2"}]}),
    )
    .await
    .data();
    app.gql(
        &operator,
        set_partner,
        json!({"id": partner, "input": {"appliesTierMultiplier": true}}),
    )
    .await
    .data();
    let doubled = earn("c-0".into(), "60000", "doubled".into()).await;
    assert_eq!(doubled.code(), "BAD_USER_INPUT", "{:?}", doubled.body);
    let doubled_ok = earn("c-0".into(), "50000", "doubled-ok".into()).await;
    assert_eq!(
        doubled_ok.data()["issuePoints"]["entry"]["points"],
        "1000000000"
    );
    let verify = verify::run(&app.state.db).await.unwrap();
    assert!(verify.is_clean(), "{verify}");
}

/// A read never shows points that cannot be spent: points of a lot past its expiry leave
/// the balance at once, before the expiry job runs (issue 23).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_past_their_expiry_leave_the_balance_before_the_expiry_job() {
    let app = TestApp::builder()
        .await
        .config(|c| c.ledger.expiry_interval = std::time::Duration::ZERO)
        .spawn()
        .await;
    let partner = app.create_partner("due").await;
    let token = app.partner_token(&partner, ALL_SCOPES);
    let (member, _) = app.enroll(&token, "due-1").await;
    for (key, points) in [("keep", 100), ("due", 40)] {
        app.gql(
            &token,
            &issue_query(),
            json!({"input": {"member": {"partnerCustomerId": "due-1"}, "points": points, "idempotencyKey": key}}),
        )
        .await
        .data();
    }
    // The 40-point lot passes its expiry; the job that expires lots does not run here.
    app.sql_count(&format!(
        "WITH u AS (UPDATE lots SET expires_at = now() - interval '1 minute' \
         WHERE member_id = '{member}' AND points = 40 RETURNING 1) SELECT count(*) FROM u"
    ))
    .await;
    let read = app
        .gql(
            &app.member_token(&member),
            "{ me { balance { available } } }",
            json!({}),
        )
        .await;
    assert_eq!(read.data()["me"]["balance"]["available"], "100");
    let as_partner = app
        .gql(
            &token,
            "{ member(ref: {partnerCustomerId: \"due-1\"}) { balance { available } } }",
            json!({}),
        )
        .await;
    assert_eq!(as_partner.data()["member"]["balance"]["available"], "100");
    // And what the read shows can be spent, to the last point.
    let spent = app
        .gql(
            &token,
            &redeem_query(),
            json!({"input": {"member": {"partnerCustomerId": "due-1"}, "points": 100, "idempotencyKey": "all"}}),
        )
        .await;
    assert_eq!(spent.data()["redeemPoints"]["balance"]["available"], "0");
}
