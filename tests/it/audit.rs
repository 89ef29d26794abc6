//! The audit trail: every administrative change, who made it, when, in which request, the
//! values before and after; append-only; the operator reads all of it, a partner its own.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, TestApp};

const LOG: &str = "query($f: AuditFilter) { auditLog(first: 50, filter: $f) { nodes { actor partnerId action target requestId before after } } }";

async fn log(app: &TestApp, token: &str, filter: Value) -> Vec<Value> {
    let read = app.gql(token, LOG, json!({ "f": filter })).await;
    read.data()["auditLog"]["nodes"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_administrative_change_is_recorded_with_before_and_after() {
    let app = TestApp::new().await;
    let operator = app.operator_token();
    let shop = app.create_partner("audit-shop").await;
    let other = app.create_partner("audit-other").await;
    let shop_token = app.partner_token(&shop, ALL_SCOPES);
    // A request id of the caller's is kept.
    let response = reqwest::Client::new()
        .post(app.url("/graphql"))
        .bearer_auth(&operator)
        .header("x-request-id", "audit-req-1")
        .json(&json!({"query": "mutation($id: ID!) { updatePartner(id: $id, input: {earnRate: \"2\"}) { id } }",
                      "variables": {"id": shop}}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let suspend = "mutation($id: ID!, $s: PartnerStatus!) { updatePartner(id: $id, input: {status: $s}) { id } }";
    app.gql(&operator, suspend, json!({"id": other, "s": "SUSPENDED"}))
        .await
        .data();
    app.gql(
        &operator,
        "mutation($p: ID!) { setPartnerRates(input: {partnerId: $p, redemptionValue: \"0.01\", issuanceFee: \"0.002\"}) { partnerId } }",
        json!({"p": shop}),
    )
    .await
    .data();
    let created = app
        .gql(
            &operator,
            "mutation($p: ID!) { createPartnerCredentials(input: {partnerId: $p, scopes: [\"points:issue\"]}) { clientId clientSecret } }",
            json!({"p": shop}),
        )
        .await;
    let client_id = created.data()["createPartnerCredentials"]["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = created.data()["createPartnerCredentials"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(
        &operator,
        "mutation($c: String!) { revokePartnerCredentials(clientId: $c) }",
        json!({"c": client_id}),
    )
    .await
    .data();
    app.gql(
        &operator,
        "mutation { setTiers(tiers: [{name: \"Member\", minPoints: \"0\", earnMultiplier: \"1\"}, {name: \"Gold\", minPoints: \"500\", earnMultiplier: \"1.5\"}]) { name } }",
        json!({}),
    )
    .await
    .data();
    let (starts, ends) = (
        (Utc::now() - Duration::hours(1)).to_rfc3339(),
        (Utc::now() + Duration::days(7)).to_rfc3339(),
    );
    let campaign = app
        .gql(
            &shop_token,
            "mutation($i: CampaignInput!) { createCampaign(input: $i) { id } }",
            json!({"i": {"name": "double", "startsAt": starts, "endsAt": ends, "audience": "EVERYONE", "multiplier": "2"}}),
        )
        .await;
    let campaign_id = campaign.data()["createCampaign"]["id"].clone();
    app.gql(
        &shop_token,
        "mutation($id: ID!) { endCampaign(id: $id) { id } }",
        json!({"id": campaign_id}),
    )
    .await
    .data();
    app.gql(
        &shop_token,
        "mutation { issuePoints(input: {member: {partnerCustomerId: \"a-1\"}, points: 10, idempotencyKey: \"a-e\"}) { entryId } }",
        json!({}),
    )
    .await
    .data();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.gql(
        &operator,
        "mutation($c: DateTime!) { closeSettlementPeriod(cutoff: $c) { id } }",
        json!({"c": (Utc::now() - Duration::milliseconds(5)).to_rfc3339()}),
    )
    .await
    .data();

    let entries = log(&app, &operator, json!(null)).await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "settlement.closed",
            "campaign.ended",
            "campaign.created",
            "tiers.set",
            "credentials.revoked",
            "credentials.created",
            "rates.set",
            "partner.suspended",
            "partner.updated",
            "partner.created",
            "partner.created",
        ]
    );
    let by = |action: &str| entries.iter().find(|e| e["action"] == action).unwrap();
    let updated = by("partner.updated");
    assert_eq!(updated["requestId"], "audit-req-1");
    assert_eq!(updated["target"], shop.as_str());
    assert_eq!(updated["before"]["earn_rate"], "1.5000");
    assert_eq!(updated["after"]["earn_rate"], "2.0000");
    assert!(updated["actor"].as_str().unwrap().starts_with("operator:"));
    assert_eq!(by("partner.suspended")["after"]["status"], "SUSPENDED");
    assert_eq!(by("campaign.ended")["actor"], format!("partner:{shop}"));
    assert_eq!(by("tiers.set")["before"].as_array().unwrap().len(), 3);
    assert_eq!(by("tiers.set")["partnerId"], Value::Null);
    // The secret is shown once and never recorded, nor its hash.
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains(&secret));
    assert!(!text.contains("argon2"));

    // A partner reads its own business only, and cannot ask for another's.
    let own = log(&app, &shop_token, json!(null)).await;
    assert!(!own.is_empty());
    assert!(own.iter().all(|e| e["partnerId"] == shop.as_str()));
    let refused = app
        .gql(&shop_token, LOG, json!({"f": {"partnerId": other}}))
        .await;
    assert_eq!(refused.code(), "FORBIDDEN");
    let member = app.enroll(&shop_token, "audit-m").await.0;
    let refused = app.gql(&app.member_token(&member), LOG, json!({})).await;
    assert_eq!(refused.code(), "FORBIDDEN");

    // Filters, and the CSV export.
    let suspensions = log(&app, &operator, json!({"action": "partner.suspended"})).await;
    assert_eq!(suspensions.len(), 1);
    let csv = reqwest::Client::new()
        .get(app.url("/audit/csv?action=rates.set"))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,at,actor,partner_id,action,target,request_id,before,after"
    );
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains(",rates.set,"), "{csv}");
    let anonymous = reqwest::Client::new()
        .get(app.url("/audit/csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // Append-only.
    let mut conn = app.state.db.get().await.unwrap();
    use diesel_async::RunQueryDsl;
    let tampered = diesel::sql_query("UPDATE audit_log SET actor = 'nobody'")
        .execute(&mut conn)
        .await;
    assert!(tampered.is_err());
}

/// A refused change records nothing: the entry is written in the change's transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_records_nothing() {
    let app = TestApp::new().await;
    let operator = app.operator_token();
    let shop = app.create_partner("audit-refused").await;
    let refused = app
        .gql(
            &operator,
            "mutation($id: ID!) { updatePartner(id: $id, input: {returnWindowDays: 120}) { id } }",
            json!({"id": shop}),
        )
        .await;
    assert_eq!(refused.code(), "BAD_USER_INPUT");
    let duplicate = app
        .gql(
            &operator,
            "mutation { createPartner(input: {name: \"Again\", slug: \"audit-refused\", category: OTHER, earnRate: \"1\"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(duplicate.code(), "BAD_USER_INPUT");
    assert_eq!(
        app.sql_count("SELECT count(*) FROM audit_log").await,
        1,
        "only the partner's creation"
    );
}
