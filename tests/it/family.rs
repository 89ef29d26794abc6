//! Family links and `transferPoints`: points move between linked members lot by lot, so
//! settlement still attributes them to the partners that issued them.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, Gql, TestApp};

const TRANSFER: &str = "mutation($to: String!, $n: Int!, $k: String!) { transferPoints(input: {toMemberNumber: $to, points: $n, idempotencyKey: $k}) { receivedEntryId sent { entryId replayed balance { available } entry { kind transferMemberNumber } } } }";
const LINK: &str =
    "mutation($n: String!) { linkFamilyMember(memberNumber: $n) { memberNumber status } }";

async fn transfer(app: &TestApp, token: &str, to: &str, points: i64, key: &str) -> Gql {
    app.gql(token, TRANSFER, json!({"to": to, "n": points, "k": key}))
        .await
}

async fn available(app: &TestApp, member: &str) -> String {
    app.gql(
        &app.member_token(member),
        "{ me { balance { available } } }",
        json!({}),
    )
    .await
    .data()["me"]["balance"]["available"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn journal(app: &TestApp) -> i64 {
    app.sql_count("SELECT count(*) FROM journal_entries").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_need_a_link_keep_attribution_and_respect_the_limits() {
    let app = Arc::new(
        TestApp::builder()
            .await
            .config(|c| {
                c.ledger.transfer_daily_limit = 1000;
                c.ledger.transfer_daily_count = 3;
            })
            .spawn()
            .await,
    );
    let a = app.create_partner("fam-a").await;
    let b = app.create_partner("fam-b").await;
    let c = app.create_partner("fam-c").await;
    let (a_token, b_token, c_token) = (
        app.partner_token(&a, ALL_SCOPES),
        app.partner_token(&b, ALL_SCOPES),
        app.partner_token(&c, ALL_SCOPES),
    );
    let (alice, alice_number) = app.enroll(&a_token, "alice").await;
    let (bob, bob_number) = app.enroll(&a_token, "bob").await;
    let earn = "mutation($c: String!, $n: Int!, $k: String!, $x: DateTime) { issuePoints(input: {member: {partnerCustomerId: $c}, points: $n, idempotencyKey: $k, expiresAt: $x}) { entryId } }";
    app.gql(
        &a_token,
        earn,
        json!({"c": "alice", "n": 1000, "k": "a-1", "x": null}),
    )
    .await
    .data();
    app.link_present(&b_token, &alice, "alice-b").await;
    // B's points expire sooner, so they leave alice first.
    let soon = (Utc::now() + Duration::days(30)).to_rfc3339();
    app.gql(
        &b_token,
        earn,
        json!({"c": "alice-b", "n": 500, "k": "b-1", "x": soon}),
    )
    .await
    .data();
    let (alice_token, bob_token) = (app.member_token(&alice), app.member_token(&bob));

    // No link, then a one-sided request: refused, nothing written.
    let before = journal(&app).await;
    let refused = transfer(&app, &alice_token, &bob_number, 600, "t-0").await;
    assert_eq!(refused.code(), "BAD_USER_INPUT", "{}", refused.body);
    let asked = app.gql(&alice_token, LINK, json!({"n": bob_number})).await;
    assert_eq!(
        asked.data()["linkFamilyMember"],
        json!({"memberNumber": bob_number, "status": "REQUESTED"})
    );
    let offered = app
        .gql(
            &bob_token,
            "{ me { familyMembers { memberNumber status } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        offered.data()["me"]["familyMembers"],
        json!([{"memberNumber": alice_number, "status": "OFFERED"}])
    );
    assert_eq!(
        transfer(&app, &alice_token, &bob_number, 600, "t-0")
            .await
            .code(),
        "BAD_USER_INPUT"
    );
    assert_eq!(journal(&app).await, before);
    let accepted = app.gql(&bob_token, LINK, json!({"n": alice_number})).await;
    assert_eq!(accepted.data()["linkFamilyMember"]["status"], "ACTIVE");

    // 600 points: B's 500 (expiring first) and 100 of A's.
    let sent = transfer(&app, &alice_token, &bob_number, 600, "t-1").await;
    let sent = sent.data()["transferPoints"].clone();
    assert_eq!(sent["sent"]["replayed"], false);
    assert_eq!(sent["sent"]["balance"]["available"], "900");
    assert_eq!(
        sent["sent"]["entry"],
        json!({"kind": "TRANSFER_OUT", "transferMemberNumber": bob_number})
    );
    assert_eq!(available(&app, &bob).await, "600");
    // Received points are not earned: they count for no tier.
    let bob_tier = app
        .gql(
            &bob_token,
            "{ me { tier { qualifyingPoints tier { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        bob_tier.data()["me"]["tier"],
        json!({"qualifyingPoints": "0", "tier": {"name": "Member"}})
    );
    let received = app
        .gql(
            &bob_token,
            "{ me { transactions(first: 5) { nodes { id kind points transferMemberNumber } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        received.data()["me"]["transactions"]["nodes"],
        json!([{"id": sent["receivedEntryId"], "kind": "TRANSFER_IN", "points": "600", "transferMemberNumber": alice_number}])
    );
    let expiring = app
        .gql(
            &bob_token,
            "{ me { expiringPoints(withinDays: 31) { points } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        expiring.data()["me"]["expiringPoints"],
        json!([{"points": "500"}]),
        "the transferred points keep their expiry"
    );
    // Replays and key reuse.
    let replay = transfer(&app, &alice_token, &bob_number, 600, "t-1").await;
    assert_eq!(replay.data()["transferPoints"]["sent"]["replayed"], true);
    assert_eq!(
        replay.data()["transferPoints"]["sent"]["entryId"],
        sent["sent"]["entryId"]
    );
    assert_eq!(
        replay.data()["transferPoints"]["receivedEntryId"],
        sent["receivedEntryId"]
    );
    assert_eq!(
        transfer(&app, &alice_token, &bob_number, 601, "t-1")
            .await
            .code(),
        "IDEMPOTENCY_KEY_REUSED"
    );

    // Limits: 1000 points and 3 transfers a day; refusals write nothing.
    let before = journal(&app).await;
    let over = transfer(&app, &alice_token, &bob_number, 500, "t-2").await;
    assert_eq!(over.code(), "BAD_USER_INPUT");
    assert!(over.message().contains("daily limit"), "{}", over.message());
    assert_eq!(journal(&app).await, before);
    transfer(&app, &alice_token, &bob_number, 300, "t-3")
        .await
        .data();
    transfer(&app, &alice_token, &bob_number, 50, "t-4")
        .await
        .data();
    let too_many = transfer(&app, &alice_token, &bob_number, 1, "t-5").await;
    assert_eq!(too_many.code(), "BAD_USER_INPUT");
    assert!(
        too_many.message().contains("transfers"),
        "{}",
        too_many.message()
    );
    assert_eq!(
        transfer(&app, &alice_token, &bob_number, 1001, "t-6")
            .await
            .code(),
        "BAD_USER_INPUT"
    );

    // Other refusals.
    assert_eq!(
        transfer(&app, &bob_token, &bob_number, 1, "x-1")
            .await
            .code(),
        "BAD_USER_INPUT"
    );
    // Over the per-entry cap of 10^9 points: refused before anything else.
    let huge = transfer(&app, &alice_token, &bob_number, 1_000_000_001, "x-big").await;
    assert_eq!(huge.code(), "BAD_USER_INPUT");
    assert!(
        huge.message().contains("between 1 and"),
        "{}",
        huge.message()
    );
    // A card number no member has is refused as one not linked.
    let unknown = transfer(&app, &bob_token, "4000000000000002", 1, "x-2").await;
    assert_eq!(unknown.code(), "BAD_USER_INPUT");
    assert!(
        unknown.message().contains("linked family member"),
        "{}",
        unknown.message()
    );
    assert_eq!(
        transfer(&app, &a_token, &bob_number, 1, "x-3").await.code(),
        "FORBIDDEN"
    );
    assert_eq!(
        transfer(&app, &bob_token, &alice_number, 0, "x-4")
            .await
            .code(),
        "BAD_USER_INPUT"
    );
    assert_eq!(
        transfer(&app, &bob_token, &alice_number, 100_000, "x-5")
            .await
            .code(),
        "BAD_USER_INPUT"
    );
    let insufficient = transfer(&app, &bob_token, &alice_number, 951, "x-6").await;
    assert_eq!(insufficient.code(), "INSUFFICIENT_POINTS");

    // Attribution: bob spends 600 at C; B owes C for 500, A for 100.
    for partner in [&a, &b, &c] {
        app.gql(
            &app.operator_token(),
            "mutation($p: ID!, $f: DateTime!) { setPartnerRates(input: {partnerId: $p, redemptionValue: \"0.01\", issuanceFee: \"0\", effectiveFrom: $f}) { partnerId } }",
            json!({"p": partner, "f": (Utc::now() - Duration::days(1)).to_rfc3339()}),
        )
        .await
        .data();
    }
    app.link_present(&c_token, &bob, "bob-c").await;
    let code = app.presence_code(&bob).await;
    app.gql(
        &c_token,
        &format!("mutation {{ redeemPoints(input: {{member: {{partnerCustomerId: \"bob-c\"}}, points: 600, idempotencyKey: \"r-1\", presenceCode: \"{code}\"}}) {{ entryId }} }}"),
        json!({}),
    )
    .await
    .data();
    let preview = app
        .gql(
            &app.operator_token(),
            "query($f: DateTime!, $t: DateTime!) { settlementPreview(from: $f, to: $t) { lines { issuer { id } redeemer { id } points } } }",
            json!({"f": (Utc::now() - Duration::hours(1)).to_rfc3339(), "t": Utc::now().to_rfc3339()}),
        )
        .await;
    let mut lines: Vec<Value> = preview.data()["settlementPreview"]["lines"]
        .as_array()
        .unwrap()
        .clone();
    lines.sort_by_key(|l| l["points"].as_str().unwrap().parse::<i64>().unwrap());
    assert_eq!(
        lines,
        vec![
            json!({"issuer": {"id": a}, "redeemer": {"id": c}, "points": "100"}),
            json!({"issuer": {"id": b}, "redeemer": {"id": c}, "points": "500"}),
        ]
    );

    // Unlinked: no more transfers, either way.
    let unlinked = app
        .gql(
            &bob_token,
            "mutation($n: String!) { unlinkFamilyMember(memberNumber: $n) }",
            json!({"n": alice_number}),
        )
        .await;
    assert_eq!(unlinked.data()["unlinkFamilyMember"], true);
    assert_eq!(
        transfer(&app, &alice_token, &bob_number, 1, "t-7")
            .await
            .code(),
        "BAD_USER_INPUT"
    );

    let verify = coalition_hub::services::verify::run(&app.state.db)
        .await
        .unwrap();
    assert!(verify.is_clean(), "{verify}");
}

/// Opposite transfers at once lock the two members in one order: no deadlock, no lost
/// point, and the daily count holds under concurrency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transfers_both_ways_lose_nothing() {
    let app = Arc::new(
        TestApp::builder()
            .await
            .config(|c| c.ledger.transfer_daily_count = 6)
            .spawn()
            .await,
    );
    let shop = app.create_partner("fam-shop").await;
    let shop_token = app.partner_token(&shop, ALL_SCOPES);
    let (carol, carol_number) = app.enroll(&shop_token, "carol").await;
    let (dave, dave_number) = app.enroll(&shop_token, "dave").await;
    for (customer, key) in [("carol", "c"), ("dave", "d")] {
        app.gql(
            &shop_token,
            "mutation($c: String!, $k: String!) { issuePoints(input: {member: {partnerCustomerId: $c}, points: 1000, idempotencyKey: $k}) { entryId } }",
            json!({"c": customer, "k": key}),
        )
        .await
        .data();
    }
    let (carol_token, dave_token) = (app.member_token(&carol), app.member_token(&dave));
    app.gql(&carol_token, LINK, json!({"n": dave_number}))
        .await
        .data();
    app.gql(&dave_token, LINK, json!({"n": carol_number}))
        .await
        .data();

    // Ten transfers each way at once: six of each pass (the daily count), 10 points each.
    let mut tasks = Vec::new();
    for i in 0..10 {
        for (token, to) in [(&carol_token, &dave_number), (&dave_token, &carol_number)] {
            let (app, token, to) = (app.clone(), token.clone(), to.clone());
            tasks.push(tokio::spawn(async move {
                transfer(&app, &token, &to, 10, &format!("k-{i}")).await
            }));
        }
    }
    let mut passed = 0;
    for task in tasks {
        let response = task.await.unwrap();
        match response.body["errors"][0]["extensions"]["code"].as_str() {
            None => passed += 1,
            Some(code) => assert_eq!(code, "BAD_USER_INPUT", "{}", response.body),
        }
    }
    assert_eq!(passed, 12);
    assert_eq!(available(&app, &carol).await, "1000");
    assert_eq!(available(&app, &dave).await, "1000");
    assert_eq!(
        app.sql_count("SELECT count(*) FROM journal_entries WHERE kind = 'TRANSFER_OUT'")
            .await,
        12
    );
    let verify = coalition_hub::services::verify::run(&app.state.db)
        .await
        .unwrap();
    assert!(verify.is_clean(), "{verify}");
}

/// The family-link limit holds under concurrency: a member asking twelve others at once
/// (each request on its own connection) ends with six links, and the other six asks are
/// refused with BAD_USER_INPUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_family_limit_holds_when_one_member_asks_many_at_once() {
    let app = Arc::new(TestApp::new().await);
    let partner = app.create_partner("fam-many").await;
    let token = app.partner_token(&partner, ALL_SCOPES);
    let (asker, _) = app.enroll(&token, "asker").await;
    let mut numbers = Vec::new();
    for i in 0..12 {
        numbers.push(app.enroll(&token, &format!("other-{i}")).await.1);
    }
    let asker_token = app.member_token(&asker);
    let asks = numbers.into_iter().map(|number| {
        let (app, token) = (app.clone(), asker_token.clone());
        tokio::spawn(async move { app.gql(&token, LINK, json!({"n": number})).await })
    });
    let mut linked = 0;
    for answer in futures_util::future::join_all(asks).await {
        let answer = answer.unwrap();
        match answer.body.get("errors") {
            None => linked += 1,
            Some(_) => assert_eq!(answer.code(), "BAD_USER_INPUT", "{:?}", answer.body),
        }
    }
    assert_eq!(linked, 6);
    let stored = app
        .sql_count(&format!(
            "SELECT count(*) FROM family_links WHERE member_id = '{asker}'"
        ))
        .await;
    assert_eq!(stored, 6);
}

/// `linkFamilyMember` and `unlinkFamilyMember` answer the same for a card number no member
/// has as for one a member has: they cannot be used to find card numbers (issue 22).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn family_requests_do_not_tell_which_card_numbers_exist() {
    let app = TestApp::new().await;
    let partner = app.create_partner("fam-oracle").await;
    let token = app.partner_token(&partner, ALL_SCOPES);
    let (asker, _) = app.enroll(&token, "asker").await;
    let (_, existing) = app.enroll(&token, "existing").await;
    let unknown = "4000000000000002";
    assert_eq!(
        app.sql_count(&format!(
            "SELECT count(*) FROM members WHERE member_number = '{unknown}'"
        ))
        .await,
        0
    );
    let asker_token = app.member_token(&asker);
    let mut answers = Vec::new();
    for number in [existing.as_str(), unknown] {
        let asked = app.gql(&asker_token, LINK, json!({"n": number})).await;
        let link = asked.data()["linkFamilyMember"].clone();
        assert_eq!(link["memberNumber"], number);
        answers.push(link["status"].clone());
    }
    assert_eq!(answers, vec![json!("REQUESTED"), json!("REQUESTED")]);
    let listed = app
        .gql(
            &asker_token,
            "{ me { familyMembers { memberNumber status } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed.data()["me"]["familyMembers"],
        json!([
            {"memberNumber": existing, "status": "REQUESTED"},
            {"memberNumber": unknown, "status": "REQUESTED"},
        ])
    );
    for number in [existing.as_str(), unknown] {
        let unlinked = app
            .gql(
                &asker_token,
                "mutation($n: String!) { unlinkFamilyMember(memberNumber: $n) }",
                json!({"n": number}),
            )
            .await;
        assert_eq!(unlinked.data()["unlinkFamilyMember"], true, "{number}");
    }
    let listed = app
        .gql(
            &asker_token,
            "{ me { familyMembers { memberNumber } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed.data()["me"]["familyMembers"], json!([]));
}
