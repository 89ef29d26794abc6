//! The group commit's queue is bounded: when it is full, an issue or a redemption is
//! answered `RATE_LIMITED` (HTTP 429 with `Retry-After`) at once and nothing is written;
//! the same request sent again later is booked once.

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::{Value, json};

use crate::ledger::{Coalition, balance, issue_query, redeem_query, wait_for_a_blocked_batch};
use crate::support::{Gql, TestApp};

/// One worker and room for one waiting operation.
async fn coalition_with_a_queue_of_one() -> Coalition {
    let app = TestApp::builder()
        .await
        .config(|config| {
            config.ledger.batch_workers = 1;
            config.ledger.queue_capacity = 1;
            config.ledger.batch_linger = std::time::Duration::ZERO;
        })
        .spawn()
        .await;
    Coalition::new(app, 2).await
}

fn earn(customer: &str, points: i64, key: &str) -> Value {
    json!({"input": {"member": {"partnerCustomerId": customer}, "points": points, "idempotencyKey": key}})
}

async fn queued(app: &TestApp) -> String {
    app.metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("hub_ledger_queued_operations "))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_queue_refuses_at_once_writes_nothing_and_the_retry_is_booked_once() {
    let c = coalition_with_a_queue_of_one().await;
    c.issue(0, 100, "earn").await.data();
    let app = c.app.clone();

    // The one worker is stuck on a redemption: another connection holds the member's row.
    let mut blocker = AsyncPgConnection::establish(&app.state.config.database_url)
        .await
        .unwrap();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM member_balances WHERE member_id = '{}' FOR UPDATE",
            c.member
        ))
        .await
        .unwrap();
    let (a, token) = (app.clone(), c.tokens[1].clone());
    let stuck = tokio::spawn(async move {
        let input = json!({"input": {"member": {"partnerCustomerId": "M"}, "points": 30, "idempotencyKey": "stuck"}});
        a.gql(&token, &redeem_query(), input).await
    });
    wait_for_a_blocked_batch(&app).await;

    // The next operation waits in the queue, which is then full.
    let (a, token) = (app.clone(), c.tokens[0].clone());
    let waiting = tokio::spawn(async move {
        a.gql(&token, &issue_query(), earn("N", 10, "waiting"))
            .await
    });
    for _ in 0..250 {
        if queued(&app).await == "1" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(queued(&app).await, "1", "the second operation never queued");

    // A third is refused at once: 429, RATE_LIMITED, Retry-After, nothing written.
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&c.tokens[0])
        .json(&json!({"query": issue_query(), "variables": earn("N", 5, "refused")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let refused = Gql {
        status: 429,
        body: response.json().await.unwrap(),
    };
    assert_eq!(refused.code(), "RATE_LIMITED");
    assert!(refused.body["data"].is_null(), "{}", refused.body);
    let keys = "SELECT count(*) FROM idempotency_keys WHERE key = 'refused'";
    assert_eq!(app.sql_count(keys).await, 0);

    // Once the worker is free, both waiting operations are booked, and the refused one,
    // sent again with its key, is booked once.
    blocker.batch_execute("ROLLBACK").await.unwrap();
    let stuck = stuck.await.unwrap();
    assert_eq!(
        stuck.data()["redeemPoints"]["balance"],
        balance(70, 0, 0, 100)
    );
    let waiting = waiting.await.unwrap();
    assert_eq!(waiting.data()["issuePoints"]["replayed"], false);
    for replayed in [false, true] {
        let again = app
            .gql(&c.tokens[0], &issue_query(), earn("N", 5, "refused"))
            .await;
        assert_eq!(again.data()["issuePoints"]["replayed"], replayed);
        assert_eq!(again.data()["issuePoints"]["balance"]["available"], "15");
    }
    assert_eq!(app.sql_count(keys).await, 1);
    assert_eq!(c.entries().await, 4);
    c.verify().await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("hub_ledger_refused_operations_total 1\n"),
        "{metrics}"
    );
}
