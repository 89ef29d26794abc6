//! Campaigns (issue 23): managed through GraphQL, booked with the earn as bonus lots of
//! their sponsors, within member caps and budgets that concurrency never passes.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, Gql, TestApp};

const CREATE: &str = "mutation($i: CampaignInput!) { createCampaign(input: $i) { id awarded } }";
const EARN: &str = "mutation($i: IssuePointsInput!) { issuePoints(input: $i) { entryId replayed balance { available } bonuses { campaignId points sponsor { id } } } }";

fn window() -> (String, String) {
    (
        (Utc::now() - Duration::hours(1)).to_rfc3339(),
        (Utc::now() + Duration::days(7)).to_rfc3339(),
    )
}

fn campaign(name: &str, extra: Value) -> Value {
    let (starts, ends) = window();
    let mut input =
        json!({"name": name, "startsAt": starts, "endsAt": ends, "audience": "EVERYONE"});
    input
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    input
}

async fn create(app: &TestApp, token: &str, input: Value) -> Gql {
    app.gql(token, CREATE, json!({ "i": input })).await
}

async fn earn(
    app: &TestApp,
    token: &str,
    customer: &str,
    points: i64,
    key: &str,
    lines: Value,
) -> Gql {
    app.gql(
        token,
        EARN,
        json!({"i": {"member": {"partnerCustomerId": customer}, "points": points,
                     "idempotencyKey": key, "lines": lines}}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_campaigns_are_refused_and_nothing_is_written() {
    let app = TestApp::new().await;
    let a = app.create_partner("camp-a").await;
    let b = app.create_partner("camp-b").await;
    let token_a = app.partner_token(&a, ALL_SCOPES);
    let token_b = app.partner_token(&b, ALL_SCOPES);
    let (starts, ends) = window();
    let bad = [
        json!({"startsAt": ends, "endsAt": starts, "points": 5}),
        json!({"multiplier": "1"}),
        json!({"multiplier": "10.5"}),
        json!({"multiplier": "1.2345"}),
        json!({"points": 0}),
        json!({"points": -5}),
        json!({"points": 5, "timeZone": "Mars/Olympus"}),
        json!({"points": 5, "budget": -1}),
        json!({"points": 5, "multiplier": "2"}),
        json!({"points": 5, "audience": "TIER"}),
        json!({"points": 5, "schedule": [{"day": "MONDAY", "from": "18:00", "to": "09:00"}]}),
    ];
    for extra in bad {
        let refused = create(&app, &token_a, campaign("bad", extra.clone())).await;
        assert_eq!(
            refused.code(),
            "BAD_USER_INPUT",
            "{extra}: {}",
            refused.body
        );
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM campaigns").await, 0);

    // A partner cannot touch another partner's campaign.
    let own = create(&app, &token_a, campaign("a's", json!({"points": 5}))).await;
    let id = own.data()["createCampaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let update =
        "mutation($id: ID!, $i: CampaignInput!) { updateCampaign(id: $id, input: $i) { id } }";
    let taken = app
        .gql(
            &token_b,
            update,
            json!({"id": id, "i": campaign("b's now", json!({"points": 500}))}),
        )
        .await;
    assert_eq!(taken.code(), "BAD_USER_INPUT", "{}", taken.body);
    let ended = app
        .gql(
            &token_b,
            "mutation($id: ID!) { endCampaign(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(ended.code(), "BAD_USER_INPUT");
    let for_a = create(
        &app,
        &token_b,
        campaign("for a", json!({"points": 5, "partnerId": a})),
    )
    .await;
    assert_eq!(for_a.code(), "FORBIDDEN");
    assert_eq!(
        app.sql_text(&format!("SELECT name FROM campaigns WHERE id = '{id}'"))
            .await,
        "a's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earn_books_each_bonus_as_a_lot_of_its_sponsor_and_a_replay_shows_the_same() {
    let app = TestApp::new().await;
    let shop = app.create_partner("camp-shop").await;
    let sponsor = app.create_partner("camp-sponsor").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    let operator = app.operator_token();
    // Double points on a category; 5 points per unit of a SKU; and a coalition-wide
    // welcome bonus the sponsor pays, best-of against a smaller one in the same group.
    let double = create(
        &app,
        &token,
        campaign(
            "double fruit",
            json!({"multiplier": "2", "category": "fruit"}),
        ),
    )
    .await;
    let per_unit = create(
        &app,
        &token,
        campaign("per apple", json!({"points": 5, "perUnitSku": "apple"})),
    )
    .await;
    let welcome = create(&app, &operator, campaign("welcome", json!({"points": 50, "audience": "NEW_TO_PARTNER", "sponsorPartnerId": sponsor, "stackingGroup": "welcome"}))).await;
    let smaller = create(
        &app,
        &operator,
        campaign(
            "small welcome",
            json!({"points": 20, "sponsorPartnerId": sponsor, "stackingGroup": "welcome"}),
        ),
    )
    .await;
    let ids: Vec<String> = [&double, &per_unit, &welcome, &smaller]
        .iter()
        .map(|c| {
            c.data()["createCampaign"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();

    let lines = json!([{"sku": "apple", "category": "fruit", "quantity": 3, "amount": "4.50"}]);
    let first = earn(&app, &token, "camp-1", 100, "e-1", lines.clone()).await;
    let result = first.data()["issuePoints"].clone();
    let bonuses = result["bonuses"].as_array().unwrap().clone();
    let got: Vec<(String, String, String)> = bonuses
        .iter()
        .map(|b| {
            (
                b["campaignId"].as_str().unwrap().to_owned(),
                b["points"].as_str().unwrap().to_owned(),
                b["sponsor"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (ids[0].clone(), "100".into(), shop.clone()),
            (ids[1].clone(), "15".into(), shop.clone()),
            (ids[2].clone(), "50".into(), sponsor.clone()),
        ]
    );
    assert_eq!(result["balance"]["available"], "265");
    // The bonus lots' issuers are the sponsors.
    assert_eq!(
        app.sql_count(&format!("SELECT coalesce(sum(points), 0)::bigint FROM lots WHERE issuer_partner_id = '{sponsor}'")).await,
        50
    );
    let replay = earn(&app, &token, "camp-1", 100, "e-1", lines.clone()).await;
    assert_eq!(replay.data()["issuePoints"]["replayed"], true);
    assert_eq!(replay.data()["issuePoints"]["bonuses"], result["bonuses"]);

    // A second earn: no welcome any more (not new), the smaller one of the group applies.
    let second = earn(&app, &token, "camp-1", 10, "e-2", json!([])).await;
    let second: Vec<String> = second.data()["issuePoints"]["bonuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["campaignId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(second, vec![ids[3].clone()]);

    // Settlement: the sponsor's bonus issuance is on the statement.
    let preview = app
        .gql(
            &operator,
            "query($f: DateTime!, $t: DateTime!) { settlementPreview(from: $f, to: $t) { bonusIssuance { partner { id } points } } }",
            json!({"f": (Utc::now() - Duration::days(1)).to_rfc3339(), "t": (Utc::now() + Duration::minutes(1)).to_rfc3339()}),
        )
        .await;
    let mut lines: Vec<Value> = preview.data()["settlementPreview"]["bonusIssuance"]
        .as_array()
        .unwrap()
        .clone();
    lines.sort_by_key(|l| l["points"].as_str().unwrap().parse::<i64>().unwrap());
    assert_eq!(
        lines,
        vec![
            json!({"partner": {"id": sponsor}, "points": "70"}),
            json!({"partner": {"id": shop}, "points": "115"}),
        ]
    );
    let report = coalition_hub::services::verify::run(&app.state.db)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_of_1000_ends_exactly_at_1000_under_200_concurrent_earns() {
    let app = Arc::new(TestApp::new().await);
    let shop = app.create_partner("camp-budget").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    let created = create(
        &app,
        &token,
        campaign("budget", json!({"points": 30, "budget": 1000})),
    )
    .await;
    let id = created.data()["createCampaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let earns = (0..200).map(|i| {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move {
            earn(
                &app,
                &token,
                &format!("b-{}", i % 50),
                10,
                &format!("k-{i}"),
                json!([]),
            )
            .await
        })
    });
    for answer in futures_util::future::join_all(earns).await {
        answer.unwrap().data();
    }
    let given = app
        .sql_count(&format!("SELECT coalesce(sum(points), 0)::bigint FROM journal_entries WHERE campaign_id = '{id}'"))
        .await;
    assert_eq!(given, 1000);
    assert_eq!(
        app.sql_count(&format!("SELECT awarded FROM campaigns WHERE id = '{id}'"))
            .await,
        1000
    );
    let report = coalition_hub::services::verify::run(&app.state.db)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_cap_holds_under_concurrent_earns() {
    let app = Arc::new(TestApp::new().await);
    let shop = app.create_partner("camp-cap").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    create(
        &app,
        &token,
        campaign("cap", json!({"points": 20, "memberCap": 50})),
    )
    .await
    .data();
    let earns = (0..20).map(|i| {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(
            async move { earn(&app, &token, "capped", 10, &format!("c-{i}"), json!([])).await },
        )
    });
    for answer in futures_util::future::join_all(earns).await {
        answer.unwrap().data();
    }
    assert_eq!(
        app.sql_count(
            "SELECT coalesce(sum(points), 0)::bigint FROM journal_entries WHERE kind = 'BONUS'"
        )
        .await,
        50
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_pay_once_activated_and_birthdays_in_their_month() {
    let app = TestApp::new().await;
    let shop = app.create_partner("camp-offer").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    let (member, _) = app.enroll(&token, "o-1").await;
    let member_token = app.member_token(&member);
    let offer = create(
        &app,
        &token,
        campaign(
            "5x fuel",
            json!({"multiplier": "5", "audience": "ACTIVATED"}),
        ),
    )
    .await;
    let offer_id = offer.data()["createCampaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let birthday = create(
        &app,
        &token,
        campaign(
            "birthday",
            json!({"points": 100, "audience": "BIRTHDAY_MONTH", "memberCap": 100}),
        ),
    )
    .await;
    birthday.data();

    let before = earn(&app, &token, "o-1", 10, "o-k1", json!([])).await;
    assert_eq!(before.data()["issuePoints"]["bonuses"], json!([]));
    let offers = app
        .gql(
            &member_token,
            "{ me { offers { campaign { id name } activated } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        offers.data()["me"]["offers"],
        json!([{"campaign": {"id": offer_id, "name": "5x fuel"}, "activated": false}])
    );
    app.gql(
        &member_token,
        "mutation($c: ID!) { activateOffer(campaignId: $c) { activated } }",
        json!({"c": offer_id}),
    )
    .await
    .data();
    let month_day = Utc::now().date_naive().format("%m-%d").to_string();
    let set = app
        .gql(
            &member_token,
            "mutation($d: NaiveDate) { setBirthDate(birthDate: $d) }",
            json!({"d": format!("1990-{month_day}")}),
        )
        .await;
    set.data();
    // A partner cannot read the birth date.
    let peek = app
        .gql(
            &token,
            "{ member(ref: {partnerCustomerId: \"o-1\"}) { birthDate } }",
            json!({}),
        )
        .await;
    assert_eq!(peek.code(), "FORBIDDEN");

    let after = earn(&app, &token, "o-1", 10, "o-k2", json!([])).await;
    let points: Vec<String> = after.data()["issuePoints"]["bonuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["points"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(points, vec!["40".to_owned(), "100".to_owned()]);
    // The birthday gift once (its member cap), the offer every time.
    let again = earn(&app, &token, "o-1", 10, "o-k3", json!([])).await;
    assert_eq!(
        again.data()["issuePoints"]["bonuses"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// A bonus to a member in debt repays the debt first, as any earn; the books stay whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bonus_repays_a_points_debt_first() {
    let app = TestApp::new().await;
    let shop = app.create_partner("camp-debt").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    let first = earn(&app, &token, "d-1", 100, "d-k1", json!([])).await;
    let entry = first.data()["issuePoints"]["entryId"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(
        &token,
        "mutation { redeemPoints(input: {member: {partnerCustomerId: \"d-1\"}, points: 100, idempotencyKey: \"d-r\"}) { entryId } }",
        json!({}),
    )
    .await
    .data();
    app.gql(
        &token,
        "mutation($e: ID!) { reverseEntry(input: {entryId: $e, idempotencyKey: \"d-x\"}) { balance { debt } } }",
        json!({"e": entry}),
    )
    .await
    .data();
    create(&app, &token, campaign("two bonuses", json!({"points": 50})))
        .await
        .data();
    create(&app, &token, campaign("another", json!({"points": 70})))
        .await
        .data();
    let after = earn(&app, &token, "d-1", 10, "d-k2", json!([])).await;
    let balance = &after.data()["issuePoints"]["balance"];
    // debt 100: the earn repays 10, the bonuses 50 and 40; 30 points are left as a lot.
    assert_eq!(balance["available"], "30");
    let debt = app
        .gql(
            &token,
            "{ member(ref: {partnerCustomerId: \"d-1\"}) { balance { debt } } }",
            json!({}),
        )
        .await;
    assert_eq!(debt.data()["member"]["balance"]["debt"], "0");
    assert_eq!(
        app.sql_count("SELECT sum(debt_repaid)::bigint FROM journal_entries WHERE kind = 'BONUS'")
            .await,
        90
    );
    let report = coalition_hub::services::verify::run(&app.state.db)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reversing_an_earn_reverses_its_bonuses_in_proportion() {
    let app = TestApp::new().await;
    let shop = app.create_partner("camp-refund").await;
    let sponsor = app.create_partner("camp-refund-sponsor").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    let operator = app.operator_token();
    create(&app, &token, campaign("double", json!({"multiplier": "2"})))
        .await
        .data();
    create(
        &app,
        &operator,
        campaign(
            "sponsored",
            json!({"points": 50, "sponsorPartnerId": sponsor}),
        ),
    )
    .await
    .data();
    let first = earn(&app, &token, "r-1", 100, "r-k1", json!([])).await;
    let result = &first.data()["issuePoints"];
    assert_eq!(result["balance"]["available"], "250");
    let entry = result["entryId"].as_str().unwrap().to_owned();
    const REVERSE: &str = "mutation($e: ID!, $p: Int, $k: String!) { reverseEntry(input: {entryId: $e, points: $p, idempotencyKey: $k}) { balance { available debt } } }";

    // 40 of the earn's 100 points: the bonuses follow, 40 of 100 and 20 of 50.
    let part = app
        .gql(&token, REVERSE, json!({"e": entry, "p": 40, "k": "r-x1"}))
        .await;
    assert_eq!(
        part.data()["reverseEntry"]["balance"],
        json!({"available": "150", "debt": "0"})
    );
    // Tiers count purchases: 60 points (100 earned, 40 refunded), no bonus.
    let tier = app
        .gql(
            &token,
            "{ member(ref: {partnerCustomerId: \"r-1\"}) { tier { qualifyingPoints } } }",
            json!({}),
        )
        .await;
    assert_eq!(tier.data()["member"]["tier"]["qualifyingPoints"], "60");
    // The rest: nothing is left, and no debt.
    let rest = app
        .gql(&token, REVERSE, json!({"e": entry, "p": null, "k": "r-x2"}))
        .await;
    assert_eq!(
        rest.data()["reverseEntry"]["balance"],
        json!({"available": "0", "debt": "0"})
    );
    // Each sponsor takes back its own bonus: the sponsor's issuance nets to zero.
    let sponsor_reversed = app
        .sql_count(&format!(
            "SELECT sum(points)::bigint FROM journal_entries \
             WHERE kind = 'REVERSE_ISSUE' AND partner_id = '{sponsor}'"
        ))
        .await;
    assert_eq!(sponsor_reversed, 50);
    assert_eq!(
        app.sql_count(&format!(
            "SELECT sum(points)::bigint FROM settlement_records WHERE issuer_partner_id = '{sponsor}' \
             AND kind IN ('BONUS_ISSUE', 'ISSUE_REVERSAL')"
        ))
        .await,
        0
    );
    assert_eq!(
        app.sql_count("SELECT coalesce(sum(remaining), 0)::bigint FROM lots")
            .await,
        0
    );
    let report = coalition_hub::services::verify::run(&app.state.db)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
}

/// `nthPurchaseInMonth` counts the calendar month of the campaign's time zone: a purchase
/// made just after midnight on the 1st in Berlin is still last month in UTC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nth_purchase_counts_the_month_of_the_campaigns_time_zone() {
    use chrono::{Datelike, TimeZone};
    use diesel_async::SimpleAsyncConnection;
    let app = TestApp::new().await;
    let shop = app.create_partner("camp-nth").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    for (name, zone) in [("utc-second", "UTC"), ("berlin-second", "Europe/Berlin")] {
        let input = campaign(
            name,
            json!({"points": 7, "nthPurchaseInMonth": 2, "timeZone": zone}),
        );
        create(&app, &token, input).await.data();
    }
    let first = earn(&app, &token, "n-1", 10, "n-k1", json!([])).await;
    let first_id = first.data()["issuePoints"]["entryId"]
        .as_str()
        .unwrap()
        .to_owned();
    // The first purchase moves to one minute past the start of this month in Berlin.
    let berlin = chrono_tz::Europe::Berlin;
    let now = Utc::now().with_timezone(&berlin);
    let month_start = berlin
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 1, 0)
        .unwrap()
        .with_timezone(&Utc);
    let mut conn = app.state.db.get().await.unwrap();
    conn.batch_execute(&format!(
        "SET session_replication_role = replica;
         UPDATE journal_entries SET created_at = '{}' WHERE id = '{first_id}';
         RESET session_replication_role;",
        month_start.to_rfc3339()
    ))
    .await
    .unwrap();
    drop(conn);

    let second = earn(&app, &token, "n-1", 10, "n-k2", json!([])).await;
    let bonuses = second.data()["issuePoints"]["bonuses"].as_array().unwrap();
    let same_utc_month =
        (month_start.year(), month_start.month()) == (Utc::now().year(), Utc::now().month());
    // Berlin: the second purchase of its month. UTC: the first, unless both fall in one
    // UTC month (only in the last hour or two of a UTC month).
    let expected = if same_utc_month { 2 } else { 1 };
    assert_eq!(bonuses.len(), expected, "{bonuses:?}");
    let third = earn(&app, &token, "n-1", 10, "n-k3", json!([])).await;
    let third_bonuses = third.data()["issuePoints"]["bonuses"].as_array().unwrap();
    assert_eq!(third_bonuses.len(), 2 - expected, "{third_bonuses:?}");
}

/// A campaign created or changed through one hub process reaches the earns of another at
/// once: PostgreSQL announces it, and the other drops its copy (whose lifetime here is an
/// hour, so nothing else could refresh it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_changes_reach_other_hub_processes_at_once() {
    let database = crate::support::fresh_database().await;
    let hour = std::time::Duration::from_secs(3600);
    let one = TestApp::builder_on(database.clone())
        .config(|c| c.ledger.campaign_copy_ttl = hour)
        .spawn()
        .await;
    let two = TestApp::builder_on(database)
        .config(|c| c.ledger.campaign_copy_ttl = hour)
        .spawn()
        .await;
    let shop = one.create_partner("camp-notify").await;
    let token = one.partner_token(&shop, ALL_SCOPES);
    // Process two loads its copy: no campaign yet.
    let plain = earn(&two, &token, "x-1", 100, "x-k0", json!([])).await;
    assert_eq!(plain.data()["issuePoints"]["bonuses"], json!([]));

    let created = create(&one, &token, campaign("notified", json!({"points": 5}))).await;
    let id = created.data()["createCampaign"]["id"].clone();
    let bonus_on_two = async |expected: &str, key: &str| {
        for attempt in 0..50 {
            let answer = earn(
                &two,
                &token,
                "x-1",
                100,
                &format!("{key}-{attempt}"),
                json!([]),
            )
            .await;
            if answer.data()["issuePoints"]["bonuses"][0]["points"] == expected {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("process two never saw the campaign give {expected}");
    };
    bonus_on_two("5", "x-new").await;
    one.gql(
        &token,
        "mutation($id: ID!, $i: CampaignInput!) { updateCampaign(id: $id, input: $i) { id } }",
        json!({"id": id, "i": campaign("notified", json!({"points": 9}))}),
    )
    .await
    .data();
    bonus_on_two("9", "x-changed").await;
}

/// A campaign on every partner's earns is the coalition's own: its bonuses are lots of the
/// coalition's campaign budget, which owes the partner where they are redeemed. That
/// budget is not a partner: no credentials, no changes but its name, in no partner list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coalition_sponsors_its_own_campaigns_and_owes_their_redemptions() {
    const COALITION: &str = "00000000-0000-0000-0000-00000000c0a1";
    let app = TestApp::new().await;
    let shop = app.create_partner("camp-coal-shop").await;
    let cafe = app.create_partner("camp-coal-cafe").await;
    let shop_token = app.partner_token(&shop, ALL_SCOPES);
    let cafe_token = app.partner_token(&cafe, ALL_SCOPES);
    let operator = app.operator_token();
    const CREATE_SPONSOR: &str = "mutation($i: CampaignInput!) { createCampaign(input: $i) { id sponsoredByCoalition sponsor { id name } } }";
    let created = app
        .gql(
            &operator,
            CREATE_SPONSOR,
            json!({"i": campaign("coalition week", json!({"points": 30}))}),
        )
        .await;
    let created = &created.data()["createCampaign"];
    assert_eq!(created["sponsoredByCoalition"], true);
    assert_eq!(
        created["sponsor"],
        json!({"id": COALITION, "name": "Coalition campaigns"})
    );
    // A partner cannot spend the coalition's budget.
    let refused = app
        .gql(
            &shop_token,
            CREATE_SPONSOR,
            json!({"i": campaign("free ride", json!({"points": 30, "sponsoredByCoalition": true}))}),
        )
        .await;
    assert_eq!(refused.code(), "FORBIDDEN");

    let earned = earn(&app, &shop_token, "co-1", 100, "co-k1", json!([])).await;
    let bonuses = &earned.data()["issuePoints"]["bonuses"];
    assert_eq!(bonuses[0]["points"], "30");
    assert_eq!(bonuses[0]["sponsor"]["id"], COALITION);
    // Spent at the cafe: the bonus's 30 points are the coalition's to pay for.
    let member = app
        .sql_text("SELECT member_id::text FROM member_links WHERE partner_customer_id = 'co-1'")
        .await;
    app.link_present(&cafe_token, &member, "co-1").await;
    app.grant_consent(&member, &cafe).await;
    app.gql(
        &cafe_token,
        "mutation { redeemPoints(input: {member: {partnerCustomerId: \"co-1\"}, points: 130, idempotencyKey: \"co-r\"}) { entryId } }",
        json!({}),
    )
    .await
    .data();
    let preview = app
        .gql(
            &operator,
            "query($f: DateTime!, $t: DateTime!) { settlementPreview(from: $f, to: $t) { lines { issuer { id } redeemer { id } points } bonusIssuance { partner { id } points } } }",
            json!({"f": (Utc::now() - Duration::days(1)).to_rfc3339(), "t": (Utc::now() + Duration::minutes(1)).to_rfc3339()}),
        )
        .await;
    let statement = &preview.data()["settlementPreview"];
    let lines = statement["lines"].as_array().unwrap();
    assert!(
        lines.contains(
            &json!({"issuer": {"id": COALITION}, "redeemer": {"id": cafe}, "points": "30"})
        ),
        "{lines:?}"
    );
    assert_eq!(
        statement["bonusIssuance"],
        json!([{"partner": {"id": COALITION}, "points": "30"}])
    );

    // Not a partner.
    let credentials = app
        .gql(
            &operator,
            "mutation($p: ID!) { createPartnerCredentials(input: {partnerId: $p, scopes: [\"points:issue\"]}) { clientId } }",
            json!({"p": COALITION}),
        )
        .await;
    assert_eq!(credentials.code(), "BAD_USER_INPUT");
    let suspend = app
        .gql(
            &operator,
            "mutation($p: ID!) { updatePartner(id: $p, input: {status: SUSPENDED}) { id } }",
            json!({"p": COALITION}),
        )
        .await;
    assert_eq!(suspend.code(), "BAD_USER_INPUT");
    let listed = app
        .gql(
            &operator,
            "{ partners(first: 50) { nodes { id } } }",
            json!({}),
        )
        .await;
    let ids: Vec<&str> = listed.data()["partners"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&COALITION));
    let report = coalition_hub::services::verify::run(&app.state.db)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
}
