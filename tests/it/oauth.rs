//! OAuth2 client credentials against the real endpoint.

use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, TestApp};

async fn credentials(app: &TestApp, partner: &str, scopes: Value) -> (String, String) {
    let created = app
        .gql(
            &app.operator_token(),
            "mutation($p: ID!, $s: [String!]!) { createPartnerCredentials(input: {partnerId: $p, scopes: $s}) { clientId clientSecret scopes } }",
            json!({"p": partner, "s": scopes}),
        )
        .await;
    let c = &created.data()["createPartnerCredentials"];
    (
        c["clientId"].as_str().unwrap().to_owned(),
        c["clientSecret"].as_str().unwrap().to_owned(),
    )
}

async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_grant_a_working_token() {
    let app = TestApp::new().await;
    let partner = app.create_partner("oauth-shop").await;
    let (client_id, secret) =
        credentials(&app, &partner, json!(["points:issue", "members:read"])).await;

    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "points:issue members:read");
    let token = body["access_token"].as_str().unwrap();
    let viewer = app
        .gql(token, "{ viewer { role subject scopes } }", json!({}))
        .await;
    assert_eq!(viewer.data()["viewer"]["subject"], partner.as_str());
    assert_eq!(
        viewer.data()["viewer"]["scopes"],
        json!(["points:issue", "members:read"])
    );
    // The token works for what its scopes allow.
    let (member, _) = app.enroll(token, "OA-1").await;
    assert!(!member.is_empty());

    // A narrower scope may be requested; a wider one may not.
    let (status, narrow) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("scope", "members:read"),
        ],
    )
    .await;
    assert_eq!(
        (status, narrow["scope"].as_str()),
        (200, Some("members:read"))
    );
    let (status, wide) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("scope", "points:redeem"),
        ],
    )
    .await;
    assert_eq!(
        (status, wide["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    // HTTP Basic client authentication works too.
    let response = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secrets_unknown_clients_and_suspended_partners_are_refused() {
    let app = TestApp::new().await;
    let partner = app.create_partner("guarded").await;
    let (client_id, secret) = credentials(
        &app,
        &partner,
        json!(ALL_SCOPES.split(' ').collect::<Vec<_>>()),
    )
    .await;

    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", "sk_wrong"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(body.get("access_token").is_none());

    let (status, unknown) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "cl_nobody"),
            ("client_secret", &secret),
        ],
    )
    .await;
    // Unknown client and wrong secret look the same from outside.
    assert_eq!((status, &unknown), (401, &body));

    let (status, grant) = token_request(
        &app,
        &[
            ("grant_type", "password"),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(
        (status, grant["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    app.gql(
        &app.operator_token(),
        "mutation($id: ID!) { updatePartner(id: $id, input: {status: SUSPENDED}) { status } }",
        json!({"id": partner}),
    )
    .await
    .data();
    let (status, suspended) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(
        (status, suspended["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    assert!(suspended.get("access_token").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_stored_hashed_and_revocation_works() {
    let app = TestApp::new().await;
    let partner = app.create_partner("hashed").await;
    let (client_id, secret) = credentials(&app, &partner, json!(["members:read"])).await;

    let mut conn = app.state.db.get().await.unwrap();
    let stored: Vec<(String, String)> = {
        use coalition_hub::db::schema::partner_credentials::dsl::*;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        partner_credentials
            .select((client_id, secret_hash))
            .load(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(stored.len(), 1);
    assert!(stored[0].1.starts_with("$argon2id$"));
    assert!(!stored[0].1.contains(&secret));
    assert!(!stored[0].1.contains(&secret[3..]));
    let dump = app
        .sql_count(&format!(
            "SELECT count(*) FROM partner_credentials WHERE row_to_json(partner_credentials)::text LIKE '%{}%'",
            &secret[3..]
        ))
        .await;
    assert_eq!(dump, 0, "the secret appears in a stored row");

    // The operator sees the credentials, never a secret.
    let listed = app
        .gql(
            &app.operator_token(),
            "query($id: ID!) { partner(id: $id) { credentials { clientId scopes revokedAt } } }",
            json!({"id": partner}),
        )
        .await;
    assert_eq!(
        listed.data()["partner"]["credentials"][0]["clientId"],
        client_id.as_str()
    );
    assert!(!listed.body.to_string().contains(&secret));

    app.gql(
        &app.operator_token(),
        "mutation($c: String!) { revokePartnerCredentials(clientId: $c) }",
        json!({"c": client_id}),
    )
    .await
    .data();
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

/// Guessing a client's secret is slow: after the minute's attempts for a client id (or a
/// source address) every attempt, even with the right secret, gets HTTP 429 with
/// `Retry-After` and `RATE_LIMITED` (the limit is checked before the Argon2 verification).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_limited_per_client_and_per_address() {
    let app = TestApp::builder()
        .await
        .config(|c| {
            c.oauth.per_client_per_minute = 3;
            c.oauth.per_address_per_minute = 6;
        })
        .spawn()
        .await;
    let partner = app.create_partner("guessed").await;
    let (client_id, secret) = credentials(&app, &partner, json!(["points:issue"])).await;
    let attempt = async |client: &str, secret: &str| {
        let response = app
            .client
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        let status = response.status().as_u16();
        (status, retry_after, response.json::<Value>().await.unwrap())
    };
    for guess in ["a", "b", "c"] {
        assert_eq!(attempt(&client_id, guess).await.0, 401);
    }
    let (status, retry_after, body) = attempt(&client_id, &secret).await;
    assert_eq!(status, 429, "{body}");
    assert!(matches!(retry_after, Some(1..=60)), "{retry_after:?}");
    assert_eq!(body["extensions"]["code"], "RATE_LIMITED");
    assert!(body.get("access_token").is_none());

    // Another client id from the same address: its own count, until the address's is used
    // up (4 attempts above, every one counted there, and 2 here).
    for _ in 0..2 {
        assert_eq!(attempt("cl_unknown", "x").await.0, 401);
    }
    assert_eq!(attempt("cl_other", "x").await.0, 429);
}
