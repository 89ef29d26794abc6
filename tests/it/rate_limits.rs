//! Rate limits: a partner's and a member's budgets of query cost, shared by every hub
//! process through Redis; over budget is HTTP 429 `RATE_LIMITED` with `Retry-After`; with
//! Redis down each process keeps its own budget and money keeps moving.

use std::sync::Arc;

use coalition_hub::domain::rate_limit::BucketConfig;
use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, TestApp, fresh_database};

/// Cost 3: viewer, role, subject.
const CHEAP: &str = "{ viewer { role subject } }";

/// A budget that barely refills while a test runs.
const SMALL: BucketConfig = BucketConfig {
    capacity: 60,
    refill_per_sec: 1,
};

struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

async fn ask(app: &TestApp, token: &str, query: &str) -> Answer {
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    Answer {
        status,
        retry_after,
        body: response.json().await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_is_shared_by_two_hub_processes_under_concurrency() {
    let database = fresh_database().await;
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let limited = |c: &mut coalition_hub::config::Config| {
        c.redis_prefix = prefix.clone();
        c.rate_limits.partner = SMALL;
        c.rate_limits.member = SMALL;
    };
    let one = Arc::new(
        TestApp::builder_on(database.clone())
            .config(limited)
            .spawn()
            .await,
    );
    let two = Arc::new(TestApp::builder_on(database).config(limited).spawn().await);
    let partner = one.create_partner("limits").await;
    let token = one.partner_token(&partner, ALL_SCOPES);

    // 60 requests of cost 3 at once, half through each process, against a budget of 60.
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..60 {
        let app = if i % 2 == 0 { one.clone() } else { two.clone() };
        let token = token.clone();
        tasks.spawn(async move { ask(&app, &token, CHEAP).await });
    }
    let mut allowed = 0u64;
    let mut refused = 0;
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.unwrap();
        match answer.status {
            200 => {
                allowed += 1;
                let limit = &answer.body["extensions"]["rateLimit"];
                assert_eq!(limit["cost"], 3);
                assert!(limit["resetAt"].is_string());
            }
            429 => {
                refused += 1;
                assert_eq!(
                    answer.body["errors"][0]["extensions"]["code"],
                    "RATE_LIMITED"
                );
                assert!(answer.retry_after.unwrap().parse::<u64>().unwrap() >= 1);
                assert!(answer.body.get("data").is_none());
            }
            other => panic!("unexpected status {other}: {}", answer.body),
        }
    }
    // One budget for both processes: 20 requests, and what refilled meanwhile (1 a second).
    let refilled = started.elapsed().as_secs() + 1;
    assert!(allowed >= 20, "allowed {allowed}");
    assert!(
        allowed * 3 <= 60 + refilled,
        "allowed {allowed} in {refilled} s"
    );
    assert_eq!(allowed + refused, 60);

    // The operator is not limited; a member has a budget of its own.
    let operator = one.operator_token();
    for _ in 0..30 {
        let answer = ask(&two, &operator, CHEAP).await;
        assert_eq!(answer.status, 200);
        assert!(answer.body["extensions"].get("rateLimit").is_none());
    }
    // (Enrolled by another partner: this one's budget is spent.)
    let other = one.create_partner("limits-other").await;
    let other_token = one.partner_token(&other, ALL_SCOPES);
    let (member, _) = one.enroll(&other_token, "limits-m").await;
    let member_token = one.member_token(&member);
    let first = ask(&two, &member_token, CHEAP).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["extensions"]["rateLimit"]["remaining"], 57);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_each_process_limits_alone_and_money_keeps_moving() {
    let app = TestApp::builder()
        .await
        .config(|c| {
            c.redis_url = "redis://127.0.0.1:1".into();
            c.rate_limits.partner = SMALL;
        })
        .spawn()
        .await;
    let partner = app.create_partner("limits-down").await;
    let token = app.partner_token(&partner, ALL_SCOPES);
    let earn = "mutation($k: String!) { issuePoints(input: {member: {partnerCustomerId: \"d-1\"}, points: 5, idempotencyKey: $k}) { entryId } }";
    // Cost 12 (a mutation field, 10 more, and entryId): five earns fit in 60.
    let mut booked = 0;
    for i in 0..8 {
        let answer = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&token)
            .json(&json!({"query": earn, "variables": {"k": format!("k{i}")}}))
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap();
        match status {
            200 => {
                assert!(body["data"]["issuePoints"]["entryId"].is_string(), "{body}");
                assert_eq!(body["extensions"]["rateLimit"]["cost"], 12);
                booked += 1;
            }
            429 => assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED"),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(booked, 5);
    assert_eq!(
        app.sql_count("SELECT count(*) FROM journal_entries WHERE kind = 'ISSUE'")
            .await,
        5
    );
}
