//! A partner acts for a member only when the member is there (a presence code from its app)
//! or agreed (standing consent), and sees a member only while the member is linked to it
//! (issue 22, items 1 and 2). Partner A is where the member enrolled; partner B is another
//! partner that has only the member's card number.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, Gql, TestApp};

const REDEEM: &str = "mutation($i: RedeemPointsInput!) { redeemPoints(input: $i) { entryId replayed balance { available } } }";
const AUTHORIZE: &str =
    "mutation($i: AuthorizeRedemptionInput!) { authorizeRedemption(input: $i) { entryId } }";
const LINK: &str = "mutation($i: LinkMemberInput!) { linkMember(input: $i) { id memberNumber } }";
const TOKEN: &str =
    "mutation($i: IssueMemberTokenInput!) { issueMemberToken(input: $i) { token } }";
const EARN: &str = "mutation($i: IssuePointsInput!) { issuePoints(input: $i) { balance { available } member { id memberNumber } } }";

struct Coalition {
    app: TestApp,
    a: String,
    b: String,
    token_a: String,
    token_b: String,
    member: String,
    number: String,
}

/// A member enrolled at A with 1,000 points earned there; B knows its card number.
async fn coalition() -> Coalition {
    let app = TestApp::new().await;
    let a = app.create_partner("home").await;
    let b = app.create_partner("other").await;
    let token_a = app.partner_token(&a, ALL_SCOPES);
    let token_b = app.partner_token(&b, ALL_SCOPES);
    let (member, number) = app.enroll(&token_a, "A-1").await;
    app.gql(
        &token_a,
        EARN,
        json!({"i": {"member": {"partnerCustomerId": "A-1"}, "points": 1000, "idempotencyKey": "welcome"}}),
    )
    .await
    .data();
    Coalition {
        app,
        a,
        b,
        token_a,
        token_b,
        member,
        number,
    }
}

impl Coalition {
    async fn redeem(
        &self,
        token: &str,
        member: Value,
        points: i64,
        key: &str,
        code: Option<&str>,
    ) -> Gql {
        self.app
            .gql(
                token,
                REDEEM,
                json!({"i": {"member": member, "points": points, "idempotencyKey": key, "presenceCode": code}}),
            )
            .await
    }

    async fn available(&self) -> i64 {
        self.app
            .sql_count(&format!(
                "SELECT available FROM member_balances WHERE member_id = '{}'",
                self.member
            ))
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_number_alone_lets_another_partner_earn_but_not_redeem_hold_link_or_log_in() {
    let c = coalition().await;
    let card = json!({"memberNumber": c.number});
    // Earning by card number works, and shows B neither the balance nor the number.
    let earned = c
        .app
        .gql(
            &c.token_b,
            EARN,
            json!({"i": {"member": card, "points": 10, "idempotencyKey": "b-earn"}}),
        )
        .await;
    let earned = &earned.data()["issuePoints"];
    assert_eq!(earned["balance"], Value::Null);
    assert_eq!(
        earned["member"],
        json!({"id": c.member, "memberNumber": null})
    );

    let refused = c
        .redeem(&c.token_b, card.clone(), 500, "b-steal", None)
        .await;
    assert_eq!(refused.code(), "FORBIDDEN", "{}", refused.body);
    let hold = c
        .app
        .gql(
            &c.token_b,
            AUTHORIZE,
            json!({"i": {"member": card, "points": 500, "idempotencyKey": "b-hold"}}),
        )
        .await;
    assert_eq!(hold.code(), "FORBIDDEN", "{}", hold.body);
    let link = c
        .app
        .gql(
            &c.token_b,
            LINK,
            json!({"i": {"member": card, "partnerCustomerId": "B-1"}}),
        )
        .await;
    assert_eq!(link.code(), "FORBIDDEN", "{}", link.body);
    let login = c
        .app
        .gql(&c.token_b, TOKEN, json!({"i": {"member": card}}))
        .await;
    assert!(login.has_no_data(), "{}", login.body);
    assert_eq!(c.available().await, 1010);
    assert_eq!(
        c.app
            .sql_count("SELECT count(*) FROM member_links WHERE partner_customer_id = 'B-1'")
            .await,
        0
    );

    // With the member's code B redeems, once: the answer shows the balance the member sees.
    let code = c.app.presence_code(&c.member).await;
    let spent = c
        .redeem(&c.token_b, card.clone(), 100, "b-1", Some(&code))
        .await;
    assert_eq!(spent.data()["redeemPoints"]["balance"]["available"], "910");
    let again = c
        .redeem(&c.token_b, card.clone(), 100, "b-2", Some(&code))
        .await;
    assert_eq!(again.code(), "FORBIDDEN", "{}", again.body);
    // A retry of the first request replays it without looking at the code.
    let retry = c
        .redeem(&c.token_b, card.clone(), 100, "b-1", Some(&code))
        .await;
    assert_eq!(retry.data()["redeemPoints"]["replayed"], true);
    assert_eq!(c.available().await, 910);

    // Linking with a code makes the member B's to see, not B's to spend.
    let code = c.app.presence_code(&c.member).await;
    let linked = c
        .app
        .gql(
            &c.token_b,
            LINK,
            json!({"i": {"member": card, "partnerCustomerId": "B-1", "presenceCode": code}}),
        )
        .await;
    assert_eq!(
        linked.data()["linkMember"]["memberNumber"],
        c.number.as_str()
    );
    let by_own_id = json!({"partnerCustomerId": "B-1"});
    let refused = c
        .redeem(&c.token_b, by_own_id.clone(), 10, "b-3", None)
        .await;
    assert_eq!(refused.code(), "FORBIDDEN", "{}", refused.body);
    let login = c
        .app
        .gql(&c.token_b, TOKEN, json!({"i": {"member": by_own_id}}))
        .await;
    assert_eq!(login.code(), "FORBIDDEN", "{}", login.body);
    let code = c.app.presence_code(&c.member).await;
    let login = c
        .app
        .gql(
            &c.token_b,
            TOKEN,
            json!({"i": {"member": by_own_id, "presenceCode": code}}),
        )
        .await;
    let token = login.data()["issueMemberToken"]["token"].as_str().unwrap();
    let me = c.app.gql(token, "{ me { id } }", json!({})).await;
    assert_eq!(me.data()["me"]["id"], c.member.as_str());

    // A, where the member enrolled, holds its consent from the start.
    let at_home = c
        .redeem(
            &c.token_a,
            json!({"partnerCustomerId": "A-1"}),
            10,
            "a-1",
            None,
        )
        .await;
    assert_eq!(
        at_home.data()["redeemPoints"]["balance"]["available"],
        "900"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presence_code_is_bound_to_its_member_short_lived_and_cannot_be_guessed() {
    let c = coalition().await;
    let card = json!({"memberNumber": c.number});
    // Another member's code does not work for this one.
    let (other, _) = c.app.enroll(&c.token_a, "A-2").await;
    let others_code = c.app.presence_code(&other).await;
    let wrong_member = c
        .redeem(&c.token_b, card.clone(), 10, "x-1", Some(&others_code))
        .await;
    assert_eq!(wrong_member.code(), "FORBIDDEN");

    // A refused redemption rolls back and leaves the code usable.
    let code = c.app.presence_code(&c.member).await;
    let too_much = c
        .redeem(&c.token_b, card.clone(), 5000, "x-2", Some(&code))
        .await;
    assert_eq!(too_much.code(), "INSUFFICIENT_POINTS");
    let fits = c
        .redeem(&c.token_b, card.clone(), 50, "x-3", Some(&code))
        .await;
    fits.data();

    // Five wrong codes void the member's code: guessing is not a way in.
    let code = c.app.presence_code(&c.member).await;
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    for n in 0..5 {
        let guess = c
            .redeem(
                &c.token_b,
                card.clone(),
                10,
                &format!("guess-{n}"),
                Some(wrong),
            )
            .await;
        assert_eq!(guess.code(), "FORBIDDEN");
    }
    let voided = c
        .redeem(&c.token_b, card.clone(), 10, "x-4", Some(&code))
        .await;
    assert_eq!(voided.code(), "FORBIDDEN", "{}", voided.body);

    // A code past its two minutes is refused.
    let code = c.app.presence_code(&c.member).await;
    c.app
        .sql_count(&format!(
            "WITH u AS (UPDATE presence_codes SET expires_at = now() - interval '1 second' \
             WHERE member_id = '{}' RETURNING 1) SELECT count(*) FROM u",
            c.member
        ))
        .await;
    let expired = c
        .redeem(&c.token_b, card.clone(), 10, "x-5", Some(&code))
        .await;
    assert_eq!(expired.code(), "FORBIDDEN");
    // Malformed codes are bad input, not guesses.
    let malformed = c.redeem(&c.token_b, card, 10, "x-6", Some("12ab")).await;
    assert_eq!(malformed.code(), "BAD_USER_INPUT");
    assert_eq!(c.available().await, 950);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_allows_one_operation_when_many_tills_race_with_it() {
    let c = Arc::new(coalition().await);
    let code = c.app.presence_code(&c.member).await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let c = c.clone();
            let code = code.clone();
            tokio::spawn(async move {
                let card = json!({"memberNumber": c.number});
                let answer = if i % 2 == 0 {
                    c.redeem(&c.token_b, card, 10, &format!("race-{i}"), Some(&code)).await
                } else {
                    c.app
                        .gql(
                            &c.token_b,
                            AUTHORIZE,
                            json!({"i": {"member": card, "points": 10, "idempotencyKey": format!("race-{i}"), "presenceCode": code}}),
                        )
                        .await
                };
                answer.body.get("errors").is_none()
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        allowed += usize::from(task.await.unwrap());
    }
    assert_eq!(allowed, 1);
    assert_eq!(c.available().await, 990);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standing_consent_is_listed_on_me_and_revoked_at_once() {
    let c = coalition().await;
    let member_token = c.app.member_token(&c.member);
    let card = json!({"memberNumber": c.number});
    c.app.grant_consent(&c.member, &c.b).await;
    let listed = c
        .app
        .gql(
            &member_token,
            "{ me { partnerConsents { partner { id } source } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed.data()["me"]["partnerConsents"],
        json!([
            {"partner": {"id": c.a}, "source": "ENROLMENT"},
            {"partner": {"id": c.b}, "source": "MEMBER"},
        ])
    );
    // An online shop with consent links, spends and logs the member in without a code.
    c.app
        .gql(
            &c.token_b,
            LINK,
            json!({"i": {"member": card, "partnerCustomerId": "shop-1"}}),
        )
        .await
        .data();
    let own = json!({"partnerCustomerId": "shop-1"});
    c.redeem(&c.token_b, own.clone(), 10, "s-1", None)
        .await
        .data();
    c.app
        .gql(&c.token_b, TOKEN, json!({"i": {"member": own}}))
        .await
        .data();
    // Consents are the member's: a partner cannot read them.
    let peek = c
        .app
        .gql(
            &c.token_b,
            "{ member(ref: {partnerCustomerId: \"shop-1\"}) { partnerConsents { source } } }",
            json!({}),
        )
        .await;
    assert_eq!(peek.code(), "FORBIDDEN");

    let revoked = c
        .app
        .gql(
            &member_token,
            "mutation($p: ID!) { revokePartnerConsent(partnerId: $p) { partner { id } } }",
            json!({"p": c.b}),
        )
        .await;
    assert_eq!(
        revoked.data()["revokePartnerConsent"],
        json!([{"partner": {"id": c.a}}])
    );
    let after = c.redeem(&c.token_b, own.clone(), 10, "s-2", None).await;
    assert_eq!(after.code(), "FORBIDDEN");
    let login = c
        .app
        .gql(&c.token_b, TOKEN, json!({"i": {"member": own}}))
        .await;
    assert_eq!(login.code(), "FORBIDDEN");
    assert_eq!(c.available().await, 990);
    // Partners cannot make codes or consents for members.
    let as_partner = c
        .app
        .gql(
            &c.token_b,
            "mutation { createPresenceCode { code } }",
            json!({}),
        )
        .await;
    assert_eq!(as_partner.code(), "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_see_only_members_linked_to_them_and_read_nothing_without_a_scope() {
    let c = coalition().await;
    let charity = c
        .app
        .gql(
            &c.app.operator_token(),
            "mutation { createPartner(input: {name: \"Kind\", slug: \"kind\", category: CHARITY, earnRate: \"0\"}) { id } }",
            json!({}),
        )
        .await
        .data()["createPartner"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.app
        .gql(
            &c.app.member_token(&c.member),
            "mutation($p: ID!) { donatePoints(input: {partnerId: $p, points: 25, idempotencyKey: \"d-1\"}) { entryId } }",
            json!({"p": charity}),
        )
        .await
        .data();
    // The charity sees its donation and an opaque member: no card number, no balance.
    let charity_token = c.app.partner_token(&charity, ALL_SCOPES);
    let entries = c
        .app
        .gql(
            &charity_token,
            "{ ledgerEntries(first: 10) { nodes { points member { id memberNumber } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        entries.data()["ledgerEntries"]["nodes"],
        json!([{"points": "25", "member": {"id": c.member, "memberNumber": null}}])
    );
    let balance = c
        .app
        .gql(
            &charity_token,
            "{ ledgerEntries(first: 10) { nodes { member { balance { available } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(balance.code(), "FORBIDDEN", "{}", balance.body);
    for field in [
        "tier { qualifyingPoints }",
        "transactions(first: 5) { nodes { id } }",
        "linkedPartnerCount",
    ] {
        let hidden = c
            .app
            .gql(
                &charity_token,
                &format!("{{ ledgerEntries(first: 1) {{ nodes {{ member {{ {field} }} }} }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(hidden.code(), "FORBIDDEN", "{field}: {}", hidden.body);
    }
    // Home partner A sees the member it is linked to.
    let home = c
        .app
        .gql(
            &c.token_a,
            "{ member(ref: {partnerCustomerId: \"A-1\"}) { memberNumber balance { available } } }",
            json!({}),
        )
        .await;
    assert_eq!(home.data()["member"]["memberNumber"], c.number.as_str());
    assert_eq!(home.data()["member"]["balance"]["available"], "975");

    // A token with settlement:read alone reads statements, not the ledger.
    let accountant = c.app.partner_token(&c.a, "settlement:read");
    let entry_id = c
        .app
        .sql_text(&format!(
            "SELECT id::text FROM journal_entries WHERE partner_id = '{}' LIMIT 1",
            c.a
        ))
        .await;
    for query in [
        "{ ledgerEntries(first: 5) { nodes { member { memberNumber } } } }".to_owned(),
        format!("{{ ledgerEntry(id: \"{entry_id}\") {{ id }} }}"),
    ] {
        let refused = c.app.gql(&accountant, &query, json!({})).await;
        assert_eq!(refused.code(), "FORBIDDEN", "{query}: {}", refused.body);
    }
    let hold_id = c
        .app
        .gql(
            &c.token_a,
            "mutation { authorizeRedemption(input: {member: {partnerCustomerId: \"A-1\"}, points: 5, idempotencyKey: \"h-1\"}) { hold { id } } }",
            json!({}),
        )
        .await
        .data()["authorizeRedemption"]["hold"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hold = c
        .app
        .gql(
            &accountant,
            "query($id: ID!) { hold(id: $id) { id } }",
            json!({"id": hold_id}),
        )
        .await;
    assert_eq!(hold.code(), "FORBIDDEN", "{}", hold.body);
}
