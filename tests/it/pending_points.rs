//! Pending points: a partner's return window keeps earned points pending, not spendable,
//! until it ends; a return inside it cancels them and leaves no debt.

use chrono::{Duration, Utc};
use diesel_async::SimpleAsyncConnection;
use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, Gql, TestApp};
use coalition_hub::services::{expiry, verify};

const EARN: &str = "mutation($i: IssuePointsInput!) { issuePoints(input: $i) { entryId balance { available pending debt } } }";
const REDEEM: &str = "mutation($i: RedeemPointsInput!) { redeemPoints(input: $i) { entryId balance { available pending debt } } }";
const REVERSE: &str = "mutation($e: ID!, $p: Int, $k: String!) { reverseEntry(input: {entryId: $e, points: $p, idempotencyKey: $k}) { entryId balance { available pending debt } } }";
const BALANCE: &str = "query($c: String!) { member(ref: {partnerCustomerId: $c}) { balance { available pending debt lifetimeEarned } tier { qualifyingPoints } } }";

/// A partner whose earns stay pending for `days`; returns its id and a token.
async fn partner_with_window(app: &TestApp, slug: &str, days: i32) -> (String, String) {
    let partner = app.create_partner(slug).await;
    let set = app
        .gql(
            &app.operator_token(),
            "mutation($id: ID!, $d: Int!) { updatePartner(id: $id, input: {returnWindowDays: $d}) { returnWindowDays } }",
            json!({"id": partner, "d": days}),
        )
        .await;
    assert_eq!(set.data()["updatePartner"]["returnWindowDays"], days);
    let token = app.partner_token(&partner, ALL_SCOPES);
    (partner, token)
}

async fn earn(app: &TestApp, token: &str, customer: &str, points: i64, key: &str) -> Gql {
    app.gql(
        token,
        EARN,
        json!({"i": {"member": {"partnerCustomerId": customer}, "points": points, "idempotencyKey": key}}),
    )
    .await
}

async fn balance(app: &TestApp, token: &str, customer: &str) -> Value {
    let read = app.gql(token, BALANCE, json!({"c": customer})).await;
    read.data()["member"].clone()
}

/// Moves the member's open pending lots (and their entries) `minutes` into the past, as
/// if their windows had ended: what a clock passing the window's end would do.
async fn windows_end(app: &TestApp, member_id: &str) {
    let mut conn = app.state.db.get().await.unwrap();
    conn.batch_execute(&format!(
        "SET session_replication_role = replica;
         UPDATE pending_lots SET available_at = now() - interval '1 minute'
          WHERE member_id = '{member_id}' AND closed_at IS NULL;
         UPDATE journal_entries e SET available_at = p.available_at FROM pending_lots p
          WHERE p.id = e.id AND p.member_id = '{member_id}' AND p.closed_at IS NULL;
         UPDATE member_balances SET next_available_at = now() - interval '1 minute'
          WHERE member_id = '{member_id}' AND next_available_at IS NOT NULL;
         RESET session_replication_role;"
    ))
    .await
    .unwrap();
}

async fn assert_verified(app: &TestApp) {
    let report = verify::run(&app.state.db).await.unwrap();
    assert!(report.is_clean(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_earned_inside_a_return_window_stay_pending_until_it_ends() {
    let app = TestApp::new().await;
    let (shop, token) = partner_with_window(&app, "pend-shop", 14).await;
    let earned = earn(&app, &token, "p-1", 100, "p-e1").await;
    assert_eq!(
        earned.data()["issuePoints"]["balance"],
        json!({"available": "0", "pending": "100", "debt": "0"})
    );
    let entry = earned.data()["issuePoints"]["entryId"]
        .as_str()
        .unwrap()
        .to_owned();

    // Not spendable, not yet earned for tiers, not yet issued for settlement.
    let refused = app
        .gql(
            &token,
            REDEEM,
            json!({"i": {"member": {"partnerCustomerId": "p-1"}, "points": 50, "idempotencyKey": "p-r1"}}),
        )
        .await;
    assert_eq!(refused.code(), "INSUFFICIENT_POINTS");
    let read = balance(&app, &token, "p-1").await;
    assert_eq!(
        read["balance"],
        json!({"available": "0", "pending": "100", "debt": "0", "lifetimeEarned": "0"})
    );
    assert_eq!(read["tier"]["qualifyingPoints"], "0");
    let issued = format!(
        "SELECT count(*) FROM settlement_records WHERE issuer_partner_id = '{shop}' AND kind = 'ISSUE'"
    );
    assert_eq!(app.sql_count(&issued).await, 0);

    // The window ends: the expiry job releases the points.
    let member = app
        .sql_text(&format!(
            "SELECT member_id::text FROM journal_entries WHERE id = '{entry}'"
        ))
        .await;
    windows_end(&app, &member).await;
    let now = Utc::now();
    let run = expiry::run(&app.state.db, None, now, |_| {}).await.unwrap();
    assert_eq!((run.members_released, run.points_released), (1, 100));
    let read = balance(&app, &token, "p-1").await;
    assert_eq!(
        read["balance"],
        json!({"available": "100", "pending": "0", "debt": "0", "lifetimeEarned": "100"})
    );
    assert_eq!(read["tier"]["qualifyingPoints"], "100");
    assert_eq!(app.sql_count(&issued).await, 1);
    let release = app
        .gql(
            &token,
            "{ ledgerEntries(first: 5, filter: {kinds: [RELEASE]}) { nodes { points releases { id availableAt } } } }",
            json!({}),
        )
        .await;
    let nodes = &release.data()["ledgerEntries"]["nodes"];
    assert_eq!(nodes[0]["points"], "100");
    assert_eq!(nodes[0]["releases"]["id"], entry.as_str());
    assert!(nodes[0]["releases"]["availableAt"].is_string());
    // Released once: the job finds nothing more.
    let again = expiry::run(&app.state.db, None, now, |_| {}).await.unwrap();
    assert_eq!(again, expiry::ExpiryRun::default());
    assert_verified(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_inside_the_window_cancels_pending_points_and_bonuses_without_debt() {
    let app = TestApp::new().await;
    let (shop, token) = partner_with_window(&app, "pend-return", 30).await;
    let (starts, ends) = (
        (Utc::now() - Duration::hours(1)).to_rfc3339(),
        (Utc::now() + Duration::days(7)).to_rfc3339(),
    );
    app.gql(
        &token,
        "mutation($i: CampaignInput!) { createCampaign(input: $i) { id } }",
        json!({"i": {"name": "double", "startsAt": starts, "endsAt": ends, "audience": "EVERYONE",
                     "multiplier": "2"}}),
    )
    .await
    .data();
    let earned = earn(&app, &token, "r-1", 100, "r-e1").await;
    // The earn and its bonus are both pending.
    assert_eq!(
        earned.data()["issuePoints"]["balance"],
        json!({"available": "0", "pending": "200", "debt": "0"})
    );
    let entry = earned.data()["issuePoints"]["entryId"]
        .as_str()
        .unwrap()
        .to_owned();

    let part = app
        .gql(&token, REVERSE, json!({"e": entry, "p": 40, "k": "r-x1"}))
        .await;
    assert_eq!(
        part.data()["reverseEntry"]["balance"],
        json!({"available": "0", "pending": "120", "debt": "0"})
    );
    let rest = app
        .gql(&token, REVERSE, json!({"e": entry, "p": null, "k": "r-x2"}))
        .await;
    assert_eq!(
        rest.data()["reverseEntry"]["balance"],
        json!({"available": "0", "pending": "0", "debt": "0"})
    );
    // Nothing was issued, so nothing is attributed for settlement, and nothing is left to
    // release.
    let records =
        format!("SELECT count(*) FROM settlement_records WHERE issuer_partner_id = '{shop}'");
    assert_eq!(app.sql_count(&records).await, 0);
    let later = Utc::now() + Duration::days(31);
    let run = expiry::run(&app.state.db, None, later, |_| {})
        .await
        .unwrap();
    assert_eq!(run.points_released, 0);
    assert_verified(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_shows_due_pending_points_before_the_job_and_a_spend_takes_them() {
    let app = TestApp::new().await;
    let (_, token) = partner_with_window(&app, "pend-due", 7).await;
    let plain = app.create_partner("pend-plain").await;
    let plain_token = app.partner_token(&plain, ALL_SCOPES);
    let (member, _) = app.enroll(&token, "d-1").await;
    app.link_present(&plain_token, &member, "d-1").await;
    app.grant_consent(&member, &plain).await;

    // A debt of 30 at the plain partner: earned, spent, then the earn reversed.
    let owed = earn(&app, &plain_token, "d-1", 30, "d-e0").await;
    let owed_entry = owed.data()["issuePoints"]["entryId"].clone();
    app.gql(
        &plain_token,
        REDEEM,
        json!({"i": {"member": {"partnerCustomerId": "d-1"}, "points": 30, "idempotencyKey": "d-r0"}}),
    )
    .await
    .data();
    let debt = app
        .gql(
            &plain_token,
            REVERSE,
            json!({"e": owed_entry, "p": null, "k": "d-x0"}),
        )
        .await;
    assert_eq!(debt.data()["reverseEntry"]["balance"]["debt"], "30");

    // 100 pending: they do not repay the debt while pending.
    let earned = earn(&app, &token, "d-1", 100, "d-e1").await;
    assert_eq!(
        earned.data()["issuePoints"]["balance"],
        json!({"available": "0", "pending": "100", "debt": "30"})
    );
    windows_end(&app, &member).await;
    // No job has run: the read shows them released, the debt repaid from them.
    let read = balance(&app, &token, "d-1").await;
    assert_eq!(
        read["balance"],
        json!({"available": "70", "pending": "0", "debt": "0", "lifetimeEarned": "100"})
    );
    // And a spend finds exactly what the read showed.
    let spent = app
        .gql(
            &plain_token,
            REDEEM,
            json!({"i": {"member": {"partnerCustomerId": "d-1"}, "points": 70, "idempotencyKey": "d-r1"}}),
        )
        .await;
    assert_eq!(
        spent.data()["redeemPoints"]["balance"],
        json!({"available": "0", "pending": "0", "debt": "0"})
    );
    assert_verified(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_spends_and_jobs_release_each_pending_lot_once() {
    const MEMBERS: usize = 12;
    let app = TestApp::new().await;
    let (_, token) = partner_with_window(&app, "pend-race", 3).await;
    let plain = app.create_partner("pend-race-plain").await;
    let plain_token = app.partner_token(&plain, ALL_SCOPES);
    for m in 0..MEMBERS {
        let customer = format!("c-{m}");
        let (member, _) = app.enroll(&token, &customer).await;
        app.link_present(&plain_token, &member, &customer).await;
        app.grant_consent(&member, &plain).await;
        earn(&app, &token, &customer, 100, &format!("c-e{m}"))
            .await
            .data();
        windows_end(&app, &member).await;
    }
    let app = std::sync::Arc::new(app);
    let mut tasks = tokio::task::JoinSet::new();
    for m in 0..MEMBERS {
        let (app, plain_token) = (app.clone(), plain_token.clone());
        tasks.spawn(async move {
            let spent = app
                .gql(
                    &plain_token,
                    REDEEM,
                    json!({"i": {"member": {"partnerCustomerId": format!("c-{m}")}, "points": 100,
                                 "idempotencyKey": format!("c-r{m}")}}),
                )
                .await;
            assert_eq!(spent.data()["redeemPoints"]["balance"]["available"], "0");
        });
    }
    for _ in 0..3 {
        let app = app.clone();
        tasks.spawn(async move {
            expiry::run(&app.state.db, None, Utc::now(), |_| {})
                .await
                .unwrap();
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(
        app.sql_count("SELECT count(*) FROM journal_entries WHERE kind = 'RELEASE'")
            .await,
        MEMBERS as i64
    );
    assert_verified(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_windows_and_expiries_inside_them_are_refused() {
    let app = TestApp::new().await;
    let (partner, token) = partner_with_window(&app, "pend-bad", 10).await;
    for days in [-1, 91] {
        let refused = app
            .gql(
                &app.operator_token(),
                "mutation($id: ID!, $d: Int!) { updatePartner(id: $id, input: {returnWindowDays: $d}) { id } }",
                json!({"id": partner, "d": days}),
            )
            .await;
        assert_eq!(refused.code(), "BAD_USER_INPUT", "{days}");
    }
    let soon = (Utc::now() + Duration::days(5)).to_rfc3339();
    let refused = app
        .gql(
            &token,
            EARN,
            json!({"i": {"member": {"partnerCustomerId": "b-1"}, "points": 10, "idempotencyKey": "b-e1",
                         "expiresAt": soon}}),
        )
        .await;
    assert_eq!(refused.code(), "BAD_USER_INPUT");
    assert!(
        refused.message().contains("return window"),
        "{}",
        refused.message()
    );
    assert_eq!(
        app.sql_count("SELECT count(*) FROM journal_entries").await,
        0
    );
}
