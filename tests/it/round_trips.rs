//! Database round trips per GraphQL query: constant whatever the page size (DataLoaders),
//! counted by the pool's query counter.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, TestApp};

/// A hub whose background jobs do not query the database, so that the counter's delta is
/// the request's alone.
async fn quiet_app() -> TestApp {
    TestApp::builder()
        .await
        .config(|c| {
            c.leaderboard_relay_interval = Duration::ZERO;
            c.ledger.expiry_interval = Duration::ZERO;
        })
        .spawn()
        .await
}

async fn issue(app: &TestApp, token: &str, customer: &str, points: i64, key: &str) {
    let response = app
        .gql(
            token,
            "mutation($input: IssuePointsInput!) { issuePoints(input: $input) { entryId } }",
            json!({"input": {
                "member": {"partnerCustomerId": customer},
                "points": points,
                "idempotencyKey": key,
            }}),
        )
        .await;
    response.data();
}

/// Round trips of one query (the counter's delta), and its data. The query runs once
/// before it is counted, as on a hub in use: the connections it takes were then used
/// within the pool's alive-bypass window, so none needs a liveness check.
async fn counted(app: &TestApp, token: &str, query: &str) -> (u64, Value) {
    app.gql(token, query, json!({})).await.data();
    let before = app.state.db_queries();
    let response = app.gql(token, query, json!({})).await;
    let data = response.data().clone();
    (app.state.db_queries() - before, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_entries_costs_the_same_round_trips_at_10_and_100() {
    let app = quiet_app().await;
    let mut tokens = Vec::new();
    for slug in ["rt-a", "rt-b", "rt-c", "rt-d"] {
        let partner = app.create_partner(slug).await;
        tokens.push(app.partner_token(&partner, ALL_SCOPES));
    }
    // 120 entries, each of its own member, over four partners.
    let app_ref = &app;
    for chunk in (0..120).collect::<Vec<usize>>().chunks(20) {
        join_all(chunk.iter().map(|i| {
            let token = &tokens[i % tokens.len()];
            let customer = format!("c{i}");
            let key = format!("k{i}");
            async move { issue(app_ref, token, &customer, 10, &key).await }
        }))
        .await;
    }

    let operator = app.operator_token();
    let query = |first: usize| {
        format!(
            "{{ ledgerEntries(first: {first}) {{ nodes {{ member {{ memberNumber }} partner {{ name }} }} }} }}"
        )
    };
    let (at_100, data) = counted(&app, &operator, &query(100)).await;
    let nodes = data["ledgerEntries"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 100);
    let members: std::collections::HashSet<_> = nodes
        .iter()
        .map(|n| n["member"]["memberNumber"].as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 100, "distinct members");
    let partners: std::collections::HashSet<_> = nodes
        .iter()
        .map(|n| n["partner"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(partners.len(), 4);

    let (at_10, data) = counted(&app, &operator, &query(10)).await;
    assert_eq!(data["ledgerEntries"]["nodes"].as_array().unwrap().len(), 10);
    eprintln!("ledgerEntries round trips: first 10 -> {at_10}, first 100 -> {at_100}");
    // The page, its members, its partners. (Connections used within the last half second
    // need no liveness check; the counted query follows the one at 100 at once.)
    assert!(at_100 <= 4, "{at_100} round trips for 100 entries");
    assert_eq!(at_10, at_100, "round trips must not grow with the page");

    // The counter is exported.
    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("hub_db_queries_total ")),
        "{metrics}"
    );
}

const HOME: &str = "{ me { memberNumber balance { available held debt net } \
    expiringPoints(withinDays: 90) { date points } \
    tier { tier { name } qualifyingPoints nextTier { name minPoints } } \
    transactions(first: 20) { nodes { id kind points createdAt partner { name } } } } }";

/// The member app's home screen: the member with its balance, expiring points, tier levels
/// with earn days, the entries, their partners.
pub const HOME_ROUND_TRIPS: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_home_screen_costs_a_constant_number_of_round_trips() {
    let app = quiet_app().await;
    let mut tokens = Vec::new();
    for slug in ["home-a", "home-b", "home-c"] {
        let partner = app.create_partner(slug).await;
        tokens.push(app.partner_token(&partner, ALL_SCOPES));
    }
    let tiers = app
        .gql(
            &app.operator_token(),
            "mutation { setTiers(tiers: [
                {name: \"Blue\", minPoints: \"0\", earnMultiplier: \"1\"},
                {name: \"Gold\", minPoints: \"1000\", earnMultiplier: \"1.5\"}]) { name } }",
            json!({}),
        )
        .await;
    tiers.data();
    // One member, linked to every partner, earning at each in turn.
    let (member_id, _) = app.enroll(&tokens[0], "home").await;
    let member_token = app.member_token(&member_id);
    for (i, token) in tokens.iter().enumerate().skip(1) {
        app.link_present(token, &member_id, &format!("home-{i}"))
            .await;
    }
    let mut issued = 0;
    let mut issue_up_to = async |n: usize| {
        while issued < n {
            let partner = issued % tokens.len();
            let customer = if partner == 0 {
                "home".to_owned()
            } else {
                format!("home-{partner}")
            };
            issue(
                &app,
                &tokens[partner],
                &customer,
                100,
                &format!("home-{issued}"),
            )
            .await;
            issued += 1;
        }
    };

    issue_up_to(5).await;
    let (with_5, data) = counted(&app, &member_token, HOME).await;
    let me = &data["me"];
    assert_eq!(me["transactions"]["nodes"].as_array().unwrap().len(), 5);
    assert_eq!(me["balance"]["available"], "500");
    assert_eq!(me["tier"]["tier"]["name"], "Blue");
    assert_eq!(me["tier"]["nextTier"]["name"], "Gold");

    issue_up_to(20).await;
    let (with_20, data) = counted(&app, &member_token, HOME).await;
    let nodes = data["me"]["transactions"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 20);
    assert!(nodes.iter().all(|n| n["partner"]["name"].is_string()));
    assert_eq!(data["me"]["tier"]["tier"]["name"], "Gold");

    eprintln!("home screen round trips: 5 entries -> {with_5}, 20 entries -> {with_20}");
    assert_eq!(
        with_5, with_20,
        "round trips must not grow with the entries"
    );
    assert!(with_20 <= HOME_ROUND_TRIPS, "{with_20} round trips");
}

/// Earning at a till stays one round trip, the answer's balance included: whether the till
/// may see it (the member linked to its partner) comes back with the ledger's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earn_by_card_number_is_one_round_trip_with_or_without_the_balance_shown() {
    let app = quiet_app().await;
    let home = app.create_partner("rt-home").await;
    let other = app.create_partner("rt-other").await;
    let home_token = app.partner_token(&home, ALL_SCOPES);
    let other_token = app.partner_token(&other, ALL_SCOPES);
    let (_, number) = app.enroll(&home_token, "till-1").await;
    let earn = |key: &str| {
        format!(
            "mutation {{ issuePoints(input: {{member: {{memberNumber: \"{number}\"}}, points: 5, idempotencyKey: \"{key}\"}}) {{ entryId balance {{ available }} }} }}"
        )
    };
    for (token, key, shown) in [
        (&home_token, "home-1", true),
        (&other_token, "other-1", false),
    ] {
        // (counted runs it twice: the second is a replay, answered the same way.)
        let (trips, data) = counted(&app, token, &earn(key)).await;
        assert_eq!(trips, 1, "{key}: {trips} round trips");
        assert_eq!(
            !data["issuePoints"]["balance"].is_null(),
            shown,
            "{key}: {data}"
        );
    }
}

/// Home screens read many members at once (the DataLoaders batch concurrent requests
/// together): each member still sees its own entries, expiring points and tier.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_home_screens_each_show_their_own_member() {
    let app = quiet_app().await;
    let partner = app.create_partner("homes").await;
    let token = app.partner_token(&partner, ALL_SCOPES);
    let mut members = Vec::new();
    for i in 1..=12_i64 {
        let customer = format!("homes-{i}");
        let (member_id, _) = app.enroll(&token, &customer).await;
        for k in 0..i {
            issue(&app, &token, &customer, 10 * i, &format!("homes-{i}-{k}")).await;
        }
        members.push((i, app.member_token(&member_id)));
    }
    const MINE: &str = "{ me { expiringPoints(withinDays: 3660) { points } \
        tier { qualifyingPoints } transactions(first: 20) { nodes { points } } } }";
    for _round in 0..5 {
        let answers = join_all(members.iter().map(|(i, member_token)| {
            let app = &app;
            async move { (*i, app.gql(member_token, MINE, json!({})).await) }
        }))
        .await;
        for (i, answer) in answers {
            let me = &answer.data()["me"];
            let nodes = me["transactions"]["nodes"].as_array().unwrap();
            let points: Vec<String> = nodes
                .iter()
                .map(|n| n["points"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(points, vec![(10 * i).to_string(); i as usize], "member {i}");
            let expiring: i64 = me["expiringPoints"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["points"].as_str().unwrap().parse::<i64>().unwrap())
                .sum();
            assert_eq!(expiring, 10 * i * i, "member {i}");
            let qualifying = &me["tier"]["qualifyingPoints"];
            assert_eq!(qualifying, &json!((10 * i * i).to_string()), "member {i}");
        }
    }
}
