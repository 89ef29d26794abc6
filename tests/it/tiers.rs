//! Coalition tiers: levels by points earned in a rolling 12 months, computed from the
//! ledger, and the earn multiplier of partners that opt in.
//!
//! History is written by the ledger's own `ledger_issue` with a past `p_now` (the hub
//! always passes the present), so the earns are real entries, lots and postings.

use chrono::{Days, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, TestApp};

const TIER: &str = "{ tier { tier { name earnMultiplier } qualifyingPoints windowStart reachedOn keptUntil pointsToKeep nextTier { name } pointsToNextTier } }";

/// An earn of `points` by the partner to the member, written `days_ago` days ago (at noon
/// UTC, so the earn day is exact).
async fn earn_in_the_past(app: &TestApp, partner: &str, member: &str, points: i64, days_ago: u64) {
    let day = Utc::now().date_naive() - Days::new(days_ago);
    let at = format!("{day} 12:00:00+00");
    let entry = app
        .sql_text(&format!(
            "SELECT (r).entry_id::text FROM (SELECT ledger_issue('test', gen_random_uuid()::text, '\\x00', \
             '{partner}', '{member}', NULL, NULL, NULL, NULL, {points}, NULL, NULL, \
             now() + interval '2 years', 'history', '{at}') AS r) x"
        ))
        .await;
    assert_eq!(entry.len(), 36);
}

async fn tier_of(app: &TestApp, member: &str) -> Value {
    let response = app
        .gql(
            &app.member_token(member),
            &format!("{{ me {TIER} }}"),
            json!({}),
        )
        .await;
    response.data()["me"]["tier"].clone()
}

const EARN: &str = "mutation($c: String!, $n: Int!, $k: String!) { issuePoints(input: {member: {partnerCustomerId: $c}, points: $n, idempotencyKey: $k}) { entry { id points tierMultiplier } } }";

/// An earn now, through the API; returns its entry.
async fn earn_now(app: &TestApp, token: &str, customer: &str, points: i64, key: &str) -> Value {
    let response = app
        .gql(token, EARN, json!({"c": customer, "n": points, "k": key}))
        .await;
    response.data()["issuePoints"]["entry"].clone()
}

fn days_ago(days: u64) -> String {
    (Utc::now().date_naive() - Days::new(days)).to_string()
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiers_follow_a_rolling_twelve_months_and_multiply_opted_in_earns() {
    let app = TestApp::new().await;
    let operator = app.operator_token();
    let set =
        "mutation($t: [TierInput!]!) { setTiers(tiers: $t) { name minPoints earnMultiplier } }";
    let levels = json!([
        {"name": "Gold", "minPoints": "5000", "earnMultiplier": "2"},
        {"name": "Member", "minPoints": "0", "earnMultiplier": "1"},
        {"name": "Silver", "minPoints": "1000", "earnMultiplier": "1.5"},
    ]);
    let saved = app.gql(&operator, set, json!({"t": levels})).await;
    assert_eq!(
        saved.data()["setTiers"],
        json!([
            {"name": "Member", "minPoints": "0", "earnMultiplier": "1"},
            {"name": "Silver", "minPoints": "1000", "earnMultiplier": "1.5"},
            {"name": "Gold", "minPoints": "5000", "earnMultiplier": "2"},
        ])
    );
    // Bad sets are refused and change nothing; partners may not set tiers.
    let no_floor = json!([{"name": "Silver", "minPoints": "1000", "earnMultiplier": "1.5"}]);
    assert_eq!(
        app.gql(&operator, set, json!({"t": no_floor})).await.code(),
        "BAD_USER_INPUT"
    );
    let shop = app.create_partner("tier-shop").await;
    let plain = app.create_partner("tier-plain").await;
    let shop_token = app.partner_token(&shop, ALL_SCOPES);
    let plain_token = app.partner_token(&plain, ALL_SCOPES);
    assert_eq!(
        app.gql(&shop_token, set, json!({"t": levels})).await.code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql(&shop_token, "{ tiers { name } }", json!({}))
            .await
            .data()["tiers"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Earned exactly 365 days ago: still counts, Silver since that day, held until today.
    let (kept, _) = app.enroll(&shop_token, "kept").await;
    earn_in_the_past(&app, &shop, &kept, 1000, 365).await;
    assert_eq!(
        tier_of(&app, &kept).await,
        json!({
            "tier": {"name": "Silver", "earnMultiplier": "1.5"},
            "qualifyingPoints": "1000",
            "windowStart": days_ago(365),
            "reachedOn": days_ago(365),
            "keptUntil": today().to_string(),
            "pointsToKeep": "1000",
            "nextTier": {"name": "Gold"},
            "pointsToNextTier": "4000",
        })
    );
    // Earned 366 days ago: no longer counts; the downgrade to Member happened today.
    let (dropped, _) = app.enroll(&shop_token, "dropped").await;
    earn_in_the_past(&app, &shop, &dropped, 1000, 366).await;
    assert_eq!(
        tier_of(&app, &dropped).await,
        json!({
            "tier": {"name": "Member", "earnMultiplier": "1"},
            "qualifyingPoints": "0",
            "windowStart": days_ago(365),
            "reachedOn": today().to_string(),
            "keptUntil": null,
            "pointsToKeep": null,
            "nextTier": {"name": "Silver"},
            "pointsToNextTier": "1000",
        })
    );

    // An upgrade on the day the threshold is crossed: 600 ten days ago, 400 today (at a
    // partner that does not multiply).
    let (climber, _) = app.enroll(&plain_token, "climber").await;
    earn_in_the_past(&app, &plain, &climber, 600, 10).await;
    assert_eq!(tier_of(&app, &climber).await["tier"]["name"], "Member");
    let today_earn = earn_now(&app, &plain_token, "climber", 400, "c-1").await;
    assert_eq!(today_earn["tierMultiplier"], Value::Null);
    let climbed = tier_of(&app, &climber).await;
    assert_eq!(climbed["tier"]["name"], "Silver");
    assert_eq!(climbed["reachedOn"], today().to_string());
    // Held until the 600 points leave the window: 365 days after their earn day.
    assert_eq!(
        climbed["keptUntil"],
        days_ago(10)
            .parse::<NaiveDate>()
            .unwrap()
            .checked_add_days(Days::new(365))
            .unwrap()
            .to_string()
    );
    assert_eq!(climbed["pointsToKeep"], "600");

    // A clawback takes the points out of the window again: back to Member, today.
    let entry = today_earn["id"].clone();
    app.gql(
        &plain_token,
        "mutation($e: ID!) { reverseEntry(input: {entryId: $e, points: 1, idempotencyKey: \"rev-1\"}) { entryId } }",
        json!({"e": entry}),
    )
    .await
    .data();
    let fallen = tier_of(&app, &climber).await;
    assert_eq!(fallen["tier"]["name"], "Member");
    assert_eq!(fallen["qualifyingPoints"], "999");
    assert_eq!(fallen["reachedOn"], today().to_string());

    // The multiplier: only where the partner opted in, only above the lowest tier.
    app.gql(
        &operator,
        "mutation($p: ID!) { updatePartner(id: $p, input: {appliesTierMultiplier: true}) { appliesTierMultiplier } }",
        json!({"p": shop}),
    )
    .await
    .data();
    let silver_at_shop = earn_now(&app, &shop_token, "kept", 101, "k-1").await;
    assert_eq!(
        (&silver_at_shop["points"], &silver_at_shop["tierMultiplier"]),
        (&json!("151"), &json!("1.5"))
    );
    let member_at_shop = earn_now(&app, &shop_token, "dropped", 101, "d-1").await;
    assert_eq!(
        (&member_at_shop["points"], &member_at_shop["tierMultiplier"]),
        (&json!("101"), &Value::Null)
    );
    app.link_present(&plain_token, &kept, "kept").await;
    let silver_at_plain = earn_now(&app, &plain_token, "kept", 101, "k-2").await;
    assert_eq!(
        (
            &silver_at_plain["points"],
            &silver_at_plain["tierMultiplier"]
        ),
        (&json!("101"), &Value::Null)
    );
    // A replay returns the multiplied entry, not a new one.
    let replay = earn_now(&app, &shop_token, "kept", 101, "k-1").await;
    assert_eq!(replay["id"], silver_at_shop["id"]);

    // A partner with members:read sees a member's tier; every invariant holds.
    let seen = app
        .gql(
            &shop_token,
            &format!("query($m: ID!) {{ member(ref: {{memberId: $m}}) {TIER} }}"),
            json!({"m": kept}),
        )
        .await;
    assert_eq!(seen.data()["member"]["tier"]["tier"]["name"], "Silver");
    assert_eq!(seen.data()["member"]["tier"]["qualifyingPoints"], "1252");
    let verify = coalition_hub::services::verify::run(&app.state.db)
        .await
        .unwrap();
    assert!(verify.is_clean(), "{verify}");
}
