//! Partners and members through the API: validation, directory paging, enrolment, links.

use std::sync::Arc;

use serde_json::json;

use crate::support::{ALL_SCOPES, TestApp};

const CREATE: &str = "mutation($input: CreatePartnerInput!) { createPartner(input: $input) { id slug currency earnRate acceptsRedemptions status } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_creation_validates_every_field() {
    let app = TestApp::new().await;
    let op = app.operator_token();
    let input = |patch: serde_json::Value| {
        let mut base = json!({"name": "Fresh Mart", "slug": "fresh-mart", "category": "GROCERY", "earnRate": "2.5"});
        for (k, v) in patch.as_object().unwrap() {
            base[k] = v.clone();
        }
        json!({"input": base})
    };
    let created = app.gql(&op, CREATE, input(json!({}))).await;
    let partner = &created.data()["createPartner"];
    assert_eq!(partner["currency"], "EUR");
    assert_eq!(partner["earnRate"], "2.5");
    assert_eq!(partner["acceptsRedemptions"], true);
    assert_eq!(partner["status"], "ACTIVE");

    let bad = [
        json!({"slug": "fresh-mart"}),
        json!({"slug": "Fresh Mart"}),
        json!({"slug": "x", "name": "   "}),
        json!({"slug": "x", "earnRate": "-1"}),
        json!({"slug": "x", "earnRate": "10001"}),
        json!({"slug": "x", "earnRate": "1e5"}),
        json!({"slug": "x", "earnRate": "0.00001"}),
        json!({"slug": "x", "currency": "euro"}),
        json!({"slug": "x", "category": "CASINO"}),
    ];
    for patch in bad {
        let refused = app.gql(&op, CREATE, input(patch.clone())).await;
        assert_eq!(
            refused.code(),
            "BAD_USER_INPUT",
            "{patch}: {}",
            refused.body
        );
        assert!(refused.has_no_data());
    }
    assert_eq!(
        app.sql_count("SELECT count(*) FROM partners WHERE NOT is_coalition")
            .await,
        1
    );

    let update = "mutation($id: ID!, $input: UpdatePartnerInput!) { updatePartner(id: $id, input: $input) { name earnRate } }";
    let id = partner["id"].as_str().unwrap();
    let updated = app
        .gql(
            &op,
            update,
            json!({"id": id, "input": {"name": "Fresh Mart Plus", "earnRate": "3"}}),
        )
        .await;
    assert_eq!(
        updated.data()["updatePartner"],
        json!({"name": "Fresh Mart Plus", "earnRate": "3"})
    );
    let missing = app
        .gql(
            &op,
            update,
            json!({"id": "01a20990-0000-7000-8000-000000000000", "input": {"name": "X"}}),
        )
        .await;
    assert_eq!(missing.code(), "NOT_FOUND");
    let not_an_id = app
        .gql(&op, update, json!({"id": "nope", "input": {"name": "X"}}))
        .await;
    assert_eq!(not_an_id.code(), "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partner_directory_pages_with_cursors() {
    let app = TestApp::new().await;
    for i in 0..5 {
        app.create_partner(&format!("p{i}")).await;
    }
    let op = app.operator_token();
    let page = "query($after: String) { partners(first: 2, after: $after) { pageInfo { hasNextPage endCursor } nodes { slug } } }";
    let mut seen = Vec::new();
    let mut after = serde_json::Value::Null;
    loop {
        let response = app.gql(&op, page, json!({"after": after})).await;
        let partners = &response.data()["partners"];
        seen.extend(
            partners["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["slug"].as_str().unwrap().to_owned()),
        );
        if !partners["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = partners["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, ["p0", "p1", "p2", "p3", "p4"]);
    let capped = app
        .gql(
            &op,
            "{ partners(first: 1000) { nodes { slug } } }",
            json!({}),
        )
        .await;
    assert_eq!(capped.code(), "BAD_USER_INPUT");
    let forged = app
        .gql(
            &op,
            "{ partners(after: \"bm90LWEtY3Vyc29y\") { nodes { slug } } }",
            json!({}),
        )
        .await;
    assert_eq!(forged.code(), "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_is_idempotent_per_customer_id_even_under_concurrency() {
    let app = Arc::new(TestApp::new().await);
    let partner = app.create_partner("busy-till").await;
    let token = app.partner_token(&partner, ALL_SCOPES);
    let enroll = "mutation($c: String!) { enrollMember(input: {partnerCustomerId: $c}) { created member { id } } }";

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            let token = token.clone();
            tokio::spawn(async move { app.gql(&token, enroll, json!({"c": "SAME-1"})).await })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for task in tasks {
        let response = task.await.unwrap();
        let payload = &response.data()["enrollMember"];
        ids.insert(payload["member"]["id"].as_str().unwrap().to_owned());
        created += usize::from(payload["created"].as_bool().unwrap());
    }
    assert_eq!(ids.len(), 1, "one customer id must end as one member");
    assert_eq!(created, 1);
    assert_eq!(app.sql_count("SELECT count(*) FROM members").await, 1);
    assert_eq!(app.sql_count("SELECT count(*) FROM member_links").await, 1);

    for bad in ["", &"x".repeat(129), "tab\there"] {
        let refused = app.gql(&token, enroll, json!({"c": bad})).await;
        assert_eq!(refused.code(), "BAD_USER_INPUT", "{bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_link_across_partners_by_card_number() {
    let app = TestApp::new().await;
    let a = app.create_partner("grocer").await;
    let b = app.create_partner("fuel").await;
    let token_a = app.partner_token(&a, ALL_SCOPES);
    let token_b = app.partner_token(&b, ALL_SCOPES);
    let (member, number) = app.enroll(&token_a, "G-1").await;
    let link = "mutation($r: MemberRefInput!, $c: String!, $code: String) { linkMember(input: {member: $r, partnerCustomerId: $c, presenceCode: $code}) { id partnerCustomerId linkedPartnerCount } }";

    // The member shows the card at B; a typo in the number is caught by the check digit.
    let mut typo = number.clone().into_bytes();
    typo[3] = b'0' + (typo[3] - b'0' + 1) % 10;
    let typo = String::from_utf8(typo).unwrap();
    assert_eq!(
        app.gql(
            &token_b,
            link,
            json!({"r": {"memberNumber": typo}, "c": "F-9"})
        )
        .await
        .code(),
        "BAD_USER_INPUT"
    );

    let spaced = format!(
        "{} {} {} {}",
        &number[0..4],
        &number[4..8],
        &number[8..12],
        &number[12..16]
    );
    // The card alone is not enough to link: the member shows the code from its app.
    let without_code = app
        .gql(
            &token_b,
            link,
            json!({"r": {"memberNumber": spaced}, "c": "F-9"}),
        )
        .await;
    assert_eq!(without_code.code(), "FORBIDDEN", "{}", without_code.body);
    let code = app.presence_code(&member).await;
    let linked = app
        .gql(
            &token_b,
            link,
            json!({"r": {"memberNumber": spaced}, "c": "F-9", "code": code}),
        )
        .await;
    assert_eq!(
        linked.data()["linkMember"],
        json!({"id": member, "partnerCustomerId": "F-9", "linkedPartnerCount": 2})
    );
    // Linking the same pair again is a no-op.
    assert_eq!(
        app.gql(
            &token_b,
            link,
            json!({"r": {"memberId": member}, "c": "F-9"})
        )
        .await
        .data()["linkMember"]["id"],
        member.as_str()
    );
    // The same member under another customer id at B, or B's customer id for another member: refused.
    assert_eq!(
        app.gql(
            &token_b,
            link,
            json!({"r": {"memberId": member}, "c": "F-10"})
        )
        .await
        .code(),
        "BAD_USER_INPUT"
    );
    let (other, _) = app.enroll(&token_a, "G-2").await;
    assert_eq!(
        app.gql(
            &token_b,
            link,
            json!({"r": {"memberId": other}, "c": "F-9"})
        )
        .await
        .code(),
        "BAD_USER_INPUT"
    );
    // Now B sees the member through its own customer id.
    let seen = app
        .gql(
            &token_b,
            "{ member(ref: {partnerCustomerId: \"F-9\"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(seen.data()["member"]["id"], member.as_str());
    // A reference must name exactly one way.
    let two = app
        .gql(
            &token_b,
            "query($id: ID!) { member(ref: {memberId: $id, partnerCustomerId: \"F-9\"}) { id } }",
            json!({"id": member}),
        )
        .await;
    assert_eq!(two.code(), "BAD_USER_INPUT");
}
