//! `donatePoints`: a member gives points to a charity partner, within a daily limit; the
//! charity is paid through settlement like any redeeming partner.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;

use crate::support::{ALL_SCOPES, Gql, TestApp};

const DONATE: &str = "mutation($p: ID!, $n: Int!, $k: String!) { donatePoints(input: {partnerId: $p, points: $n, idempotencyKey: $k}) { entryId replayed balance { available } } }";

async fn donate(app: &TestApp, token: &str, charity: &str, points: i64, key: &str) -> Gql {
    app.gql(token, DONATE, json!({"p": charity, "n": points, "k": key}))
        .await
}

async fn journal(app: &TestApp) -> i64 {
    app.sql_count("SELECT count(*) FROM journal_entries").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn donations_are_limited_idempotent_and_settled_to_the_charity() {
    let app = Arc::new(
        TestApp::builder()
            .await
            .config(|c| c.ledger.donation_daily_limit = 300)
            .spawn()
            .await,
    );
    let shop = app.create_partner("shop").await;
    let shop_token = app.partner_token(&shop, ALL_SCOPES);
    let charity = app
        .gql(
            &app.operator_token(),
            "mutation { createPartner(input: {name: \"Kind Hearts\", slug: \"kind-hearts\", category: CHARITY, earnRate: \"0\"}) { id } }",
            json!({}),
        )
        .await
        .data()["createPartner"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let earn = "mutation($c: String!) { issuePoints(input: {member: {partnerCustomerId: $c}, points: 1000, idempotencyKey: $c}) { member { id } } }";
    let donor = app
        .gql(&shop_token, earn, json!({"c": "donor"}))
        .await
        .data()["issuePoints"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = app.member_token(&donor);

    let first = donate(&app, &token, &charity, 200, "d-1").await;
    let result = &first.data()["donatePoints"];
    assert_eq!(result["balance"]["available"], "800");
    assert_eq!(result["replayed"], false);
    let replay = donate(&app, &token, &charity, 200, "d-1").await;
    assert_eq!(replay.data()["donatePoints"]["entryId"], result["entryId"]);
    assert_eq!(replay.data()["donatePoints"]["replayed"], true);
    assert_eq!(
        donate(&app, &token, &charity, 201, "d-1").await.code(),
        "IDEMPOTENCY_KEY_REUSED"
    );

    // The daily limit (300): 200 given, 150 more is refused and writes nothing; 100 is fine.
    let entries = journal(&app).await;
    let over = donate(&app, &token, &charity, 150, "d-2").await;
    assert_eq!(over.code(), "BAD_USER_INPUT", "{}", over.body);
    assert!(over.message().contains("daily donation limit"));
    assert_eq!(journal(&app).await, entries);
    donate(&app, &token, &charity, 100, "d-3").await.data();

    // Concurrent donations cannot pass the limit together: ten of 100 at once, three pass.
    let second = app
        .gql(&shop_token, earn, json!({"c": "donor-2"}))
        .await
        .data()["issuePoints"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second_token = app.member_token(&second);
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (app, token, charity) = (app.clone(), second_token.clone(), charity.clone());
        tasks.push(tokio::spawn(async move {
            donate(&app, &token, &charity, 100, &format!("c-{i}")).await
        }));
    }
    let mut passed = 0;
    for task in tasks {
        let response = task.await.unwrap();
        match response.body["errors"][0]["extensions"]["code"].as_str() {
            None => passed += 1,
            Some(code) => assert_eq!(code, "BAD_USER_INPUT"),
        }
    }
    assert_eq!(passed, 3);

    // Refusals: not a charity, unknown, a partner's token, bad amounts.
    assert_eq!(
        donate(&app, &token, &shop, 10, "x-1").await.code(),
        "BAD_USER_INPUT"
    );
    assert_eq!(
        donate(
            &app,
            &token,
            "0190a0a0-0000-7000-8000-000000000000",
            10,
            "x-2"
        )
        .await
        .code(),
        "NOT_FOUND"
    );
    assert_eq!(
        donate(&app, &shop_token, &charity, 10, "x-3").await.code(),
        "FORBIDDEN"
    );
    assert_eq!(
        donate(&app, &token, &charity, 0, "x-4").await.code(),
        "BAD_USER_INPUT"
    );
    assert_eq!(
        donate(&app, &token, &charity, 301, "x-5").await.code(),
        "BAD_USER_INPUT"
    );

    // Settlement: the shop issued the donated points, so it owes the charity for them.
    app.gql(
        &app.operator_token(),
        "mutation($p: ID!, $f: DateTime!) { setPartnerRates(input: {partnerId: $p, redemptionValue: \"0.01\", issuanceFee: \"0\", effectiveFrom: $f}) { partnerId } }",
        json!({"p": charity, "f": (Utc::now() - Duration::days(1)).to_rfc3339()}),
    )
    .await
    .data();
    let preview = app
        .gql(
            &app.operator_token(),
            "query($f: DateTime!, $t: DateTime!) { settlementPreview(from: $f, to: $t) { lines { issuer { id } redeemer { id } points amount { amount } } } }",
            json!({"f": (Utc::now() - Duration::hours(1)).to_rfc3339(), "t": Utc::now().to_rfc3339()}),
        )
        .await;
    let lines = preview.data()["settlementPreview"]["lines"].clone();
    assert_eq!(
        lines,
        json!([{"issuer": {"id": shop}, "redeemer": {"id": charity}, "points": "600", "amount": {"amount": "6"}}]),
        "{lines}"
    );
    let verify = coalition_hub::services::verify::run(&app.state.db)
        .await
        .unwrap();
    assert!(verify.is_clean(), "{verify}");
}
