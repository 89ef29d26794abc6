//! Every refusal the ledger's SQL functions answer, through GraphQL: each code reaches the
//! client as `extensions.code`, from a single call (one round trip, `ledger_authorize`,
//! `ledger_settle_hold`, `ledger_reverse`) and from a group-commit batch (`ledger_batch`)
//! alike, and a refused operation writes nothing.

use serde_json::{Value, json};

use crate::ledger::{
    Coalition, capture_query, issue_query, redeem_query, reverse_query, void_query,
};
use crate::support::{Gql, TestApp};

const UNKNOWN_ID: &str = "01a20990-0000-7000-8000-000000000000";

fn id(response: &Gql, field: &str, object: &str) -> String {
    response.data()[field][object]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The number of rows a refusal must not change.
async fn written(c: &Coalition) -> (i64, i64) {
    (
        c.entries().await,
        c.app
            .sql_count("SELECT count(*) FROM idempotency_keys")
            .await,
    )
}

fn refused(response: &Gql, code: &str) {
    assert_eq!(response.code(), code, "{}", response.body);
    assert!(response.has_no_data(), "{}", response.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_points_says_what_is_available_and_what_was_asked() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    c.issue(0, 50, "earn").await.data();
    let before = written(&c).await;
    // Batched (ledger_batch) and single (ledger_authorize).
    for response in [
        c.redeem(1, 80, "too-much").await,
        c.authorize(1, 81, "hold-too-much").await,
    ] {
        refused(&response, "INSUFFICIENT_POINTS");
        let ext = &response.body["errors"][0]["extensions"];
        assert_eq!(ext["available"], "50", "{}", response.body);
        assert!(
            ext["requested"] == "80" || ext["requested"] == "81",
            "{}",
            response.body
        );
    }
    assert_eq!(written(&c).await, before);
    c.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_idempotency_key_is_refused_in_a_batch_and_in_a_single_call() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    c.issue(0, 50, "k1").await.data();
    c.authorize(1, 5, "k2").await.data();
    let before = written(&c).await;
    refused(&c.issue(0, 51, "k1").await, "IDEMPOTENCY_KEY_REUSED");
    refused(&c.authorize(1, 6, "k2").await, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(written(&c).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_settled_once_is_not_pending() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    c.issue(0, 50, "earn").await.data();
    let hold = c.authorize(1, 10, "hold").await;
    let hold_id = id(&hold, "authorizeRedemption", "hold");
    let void = |key: &'static str| {
        let c = &c;
        let hold_id = hold_id.clone();
        async move {
            c.app
                .gql(
                    &c.tokens[1],
                    &void_query(),
                    json!({"input": {"holdId": hold_id, "idempotencyKey": key}}),
                )
                .await
        }
    };
    void("void-1").await.data();
    let before = written(&c).await;
    refused(&void("void-2").await, "HOLD_NOT_PENDING");
    let capture = c
        .app
        .gql(
            &c.tokens[1],
            &capture_query(),
            json!({"input": {"holdId": hold_id, "idempotencyKey": "capture"}}),
        )
        .await;
    refused(&capture, "HOLD_NOT_PENDING");
    assert!(capture.message().contains("voided"), "{}", capture.body);
    assert_eq!(written(&c).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_partner_books_nothing_even_for_the_operator() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    let earn = c.issue(0, 50, "earn").await;
    let earn_id = id(&earn, "issuePoints", "entry");
    let partner = c
        .app
        .sql_text(
            "SELECT id::text FROM partners WHERE NOT is_coalition ORDER BY created_at LIMIT 1",
        )
        .await;
    let op = c.app.operator_token();
    let suspend =
        "mutation($id: ID!) { updatePartner(id: $id, input: {status: SUSPENDED}) { status } }";
    c.app.gql(&op, suspend, json!({"id": partner})).await.data();
    let before = written(&c).await;
    // Batched: the operator issues for the suspended partner.
    let issue = c
        .app
        .gql(
            &op,
            &issue_query(),
            json!({"input": {"partnerId": partner, "member": {"memberId": c.member},
                             "points": 5, "idempotencyKey": "op-earn"}}),
        )
        .await;
    refused(&issue, "PARTNER_SUSPENDED");
    // Single: the operator refunds the suspended partner's earn.
    let reverse = c
        .app
        .gql(
            &op,
            &reverse_query(),
            json!({"input": {"entryId": earn_id, "idempotencyKey": "op-refund"}}),
        )
        .await;
    refused(&reverse, "PARTNER_SUSPENDED");
    assert_eq!(written(&c).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_members_holds_and_entries_are_not_found() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    c.issue(0, 50, "earn").await.data();
    let before = written(&c).await;
    let member = json!({"memberId": UNKNOWN_ID});
    let cases: [(String, Value); 4] = [
        // batched
        (
            issue_query(),
            json!({"member": member, "points": 5, "idempotencyKey": "n1"}),
        ),
        (
            redeem_query(),
            json!({"member": member, "points": 5, "idempotencyKey": "n2"}),
        ),
        // single
        (
            void_query(),
            json!({"holdId": UNKNOWN_ID, "idempotencyKey": "n3"}),
        ),
        (
            reverse_query(),
            json!({"entryId": UNKNOWN_ID, "idempotencyKey": "n4"}),
        ),
    ];
    for (query, input) in cases {
        let response = c
            .app
            .gql(&c.tokens[1], &query, json!({ "input": input }))
            .await;
        refused(&response, "NOT_FOUND");
    }
    assert_eq!(written(&c).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_only_the_database_can_judge_is_bad_user_input() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    let earn = c.issue(0, 50, "earn").await;
    let earn_id = id(&earn, "issuePoints", "entry");
    let hold = c.authorize(1, 10, "hold").await;
    let hold_id = id(&hold, "authorizeRedemption", "hold");
    let before = written(&c).await;
    // Batched: a purchase in another currency than the partner's.
    let purchase = c
        .issue_with(
            0,
            json!({"member": {"partnerCustomerId": "M"},
                   "purchase": {"amount": "10.00", "currency": "JPY"}, "idempotencyKey": "p1"}),
        )
        .await;
    refused(&purchase, "BAD_USER_INPUT");
    assert!(
        purchase.message().contains("purchases are in"),
        "{}",
        purchase.body
    );
    // Single: a capture larger than the hold, a refund larger than the earn.
    let capture = c
        .app
        .gql(
            &c.tokens[1],
            &capture_query(),
            json!({"input": {"holdId": hold_id, "points": 11, "idempotencyKey": "c1"}}),
        )
        .await;
    refused(&capture, "BAD_USER_INPUT");
    assert!(
        capture.message().contains("the hold is for 10 points"),
        "{}",
        capture.body
    );
    let refund = c.reverse(0, &earn_id, Some(51), "r1").await;
    refused(&refund, "BAD_USER_INPUT");
    assert!(
        refund.message().contains("only 50 points"),
        "{}",
        refund.body
    );
    assert_eq!(written(&c).await, before);
}
