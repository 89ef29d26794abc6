//! The pages' figures: points issued and redeemed per day, points outstanding now and as
//! recorded each day, the ledger's checks; and who may read which.

use chrono::{Duration, Utc};
use coalition_hub::services::reports;
use serde_json::{Value, json};

use crate::{ledger::Coalition, support::TestApp};

const ACTIVITY: &str = "query($p: ID, $d: Int) { pointsActivity(partnerId: $p, days: $d) {
    outstanding outstandingByDay { date points } days { date issued redeemed } } }";

async fn activity(c: &Coalition, token: &str, partner: Option<&str>) -> Value {
    let answer = c
        .app
        .gql(token, ACTIVITY, json!({"p": partner, "d": 30}))
        .await;
    answer.data()["pointsActivity"].clone()
}

async fn partner_id(c: &Coalition, index: usize) -> String {
    c.app
        .sql_text(&format!(
            "SELECT id::text FROM partners WHERE slug = 'partner-{index}'"
        ))
        .await
}

/// The figure of `day` in `outstandingByDay`.
fn recorded_on(activity: &Value, day: &str) -> Value {
    activity["outstandingByDay"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == day)
        .map(|d| d["points"].clone())
        .unwrap_or_else(|| panic!("{day} is not recorded in {activity}"))
}

#[tokio::test]
async fn points_activity_counts_each_partners_own_days_and_liability() {
    let c = Coalition::new(TestApp::new().await, 3).await;
    c.issue(0, 500, "a-1").await.data();
    c.issue(1, 100, "a-2").await.data();
    // First-expiring first: partner-0's points are the ones spent.
    c.redeem(1, 200, "a-3").await.data();
    let today = Utc::now().date_naive().to_string();
    let ops = c.app.operator_token();
    let (p0, p1) = (partner_id(&c, 0).await, partner_id(&c, 1).await);

    let own = activity(&c, &c.tokens[0], None).await;
    assert_eq!(own["outstanding"], "300");
    assert_eq!(
        own["days"],
        json!([{"date": today, "issued": "500", "redeemed": "0"}])
    );
    let other = activity(&c, &c.tokens[1], None).await;
    assert_eq!(other["outstanding"], "100");
    assert_eq!(
        other["days"],
        json!([{"date": today, "issued": "100", "redeemed": "200"}])
    );
    let coalition = activity(&c, &ops, None).await;
    assert_eq!(coalition["outstanding"], "400");
    assert_eq!(
        coalition["days"],
        json!([{"date": today, "issued": "600", "redeemed": "200"}])
    );
    assert_eq!(activity(&c, &ops, Some(&p1)).await["days"], other["days"]);

    // Each day's figure, recorded once for the whole deployment.
    let yesterday = Utc::now().date_naive() - Duration::days(1);
    assert!(
        reports::snapshot_outstanding(&c.app.state.db, yesterday)
            .await
            .unwrap()
    );
    assert!(
        !reports::snapshot_outstanding(&c.app.state.db, yesterday)
            .await
            .unwrap()
    );
    let day = yesterday.to_string();
    assert_eq!(
        recorded_on(&activity(&c, &c.tokens[0], None).await, &day),
        "300"
    );
    assert_eq!(
        recorded_on(&activity(&c, &c.tokens[1], None).await, &day),
        "100"
    );
    assert_eq!(
        recorded_on(&activity(&c, &c.tokens[2], None).await, &day),
        "0"
    );
    assert_eq!(recorded_on(&activity(&c, &ops, None).await, &day), "400");

    // Nobody reads another partner's business; the period is bounded.
    let refused = c
        .app
        .gql(&c.tokens[0], ACTIVITY, json!({"p": p1, "d": 30}))
        .await;
    assert_eq!(refused.code(), "FORBIDDEN");
    let member = c.app.member_token(&c.member);
    assert_eq!(
        c.app.gql(&member, ACTIVITY, json!({"d": 30})).await.code(),
        "FORBIDDEN"
    );
    for days in [0, 367] {
        let answer = c.app.gql(&ops, ACTIVITY, json!({"p": p0, "d": days})).await;
        assert_eq!(answer.code(), "BAD_USER_INPUT", "{days}");
    }
}

#[tokio::test]
async fn the_ledger_checks_are_the_operators_to_run() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    c.issue(0, 500, "k-1").await.data();
    c.redeem(1, 120, "k-2").await.data();
    let query = "{ ledgerChecks { name violations } }";
    let checks = c.app.gql(&c.app.operator_token(), query, json!({})).await;
    let checks = checks.data()["ledgerChecks"].as_array().unwrap().clone();
    assert!(checks.len() >= 8, "{checks:?}");
    assert!(checks.iter().all(|c| c["violations"] == 0), "{checks:?}");
    assert_eq!(
        c.app.gql(&c.tokens[0], query, json!({})).await.code(),
        "FORBIDDEN"
    );
}
