//! Abuse probes against `/graphql`: each refused cleanly, with a code and no data.

use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, Gql, TestApp};

async fn post_raw(app: &TestApp, token: &str, content_type: &str, body: Vec<u8>) -> Gql {
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    Gql {
        status: response.status().as_u16(),
        body: response.json().await.unwrap(),
    }
}

async fn get_query(app: &TestApp, token: &str, query: &str) -> Gql {
    let response = app
        .client
        .get(app.url("/graphql"))
        .bearer_auth(token)
        .query(&[("query", query)])
        .send()
        .await
        .unwrap();
    Gql {
        status: response.status().as_u16(),
        body: response.json().await.unwrap(),
    }
}

async fn partner(app: &TestApp) -> String {
    let id = app.create_partner("probe").await;
    app.partner_token(&id, ALL_SCOPES)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_get_mutations_and_non_json_bodies_are_refused() {
    let app = TestApp::new().await;
    let token = partner(&app).await;

    let batch = serde_json::to_vec(
        &json!([{"query": "{ viewer { role } }"}, {"query": "{ viewer { role } }"}]),
    )
    .unwrap();
    let refused = post_raw(&app, &token, "application/json", batch).await;
    assert_eq!((refused.status, refused.code()), (400, "BAD_USER_INPUT"));
    assert!(refused.message().contains("batched"));
    assert!(refused.has_no_data());

    let mutation = get_query(
        &app,
        &token,
        "mutation { enrollMember(input: {partnerCustomerId: \"G\"}) { created } }",
    )
    .await;
    assert_eq!((mutation.status, mutation.code()), (405, "BAD_USER_INPUT"));
    assert_eq!(app.sql_count("SELECT count(*) FROM members").await, 0);
    // Queries over GET are fine.
    let query = get_query(&app, &token, "{ viewer { role } }").await;
    assert_eq!(query.data()["viewer"]["role"], "PARTNER");

    let text = post_raw(
        &app,
        &token,
        "text/plain",
        br#"{"query":"{ viewer { role } }"}"#.to_vec(),
    )
    .await;
    assert_eq!((text.status, text.code()), (415, "BAD_USER_INPUT"));
    let form = post_raw(
        &app,
        &token,
        "application/x-www-form-urlencoded",
        b"query=%7Bviewer%7Brole%7D%7D".to_vec(),
    )
    .await;
    assert_eq!(form.status, 415);
    let not_json = post_raw(&app, &token, "application/json", b"{ nope".to_vec()).await;
    assert_eq!((not_json.status, not_json.code()), (400, "BAD_USER_INPUT"));
    let json_with_charset = post_raw(
        &app,
        &token,
        "application/json; charset=utf-8",
        br#"{"query":"{ viewer { role } }"}"#.to_vec(),
    )
    .await;
    assert_eq!(json_with_charset.data()["viewer"]["role"], "PARTNER");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused() {
    let app = TestApp::new().await;
    let token = partner(&app).await;
    let limit = app.state.config.limits.max_body_bytes;
    let padding = "x".repeat(limit + 1);
    let body =
        serde_json::to_vec(&json!({"query": "{ viewer { role } }", "variables": {"pad": padding}}))
            .unwrap();
    let refused = post_raw(&app, &token, "application/json", body).await;
    assert_eq!((refused.status, refused.code()), (413, "BAD_USER_INPUT"));
    assert!(refused.has_no_data());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_depth_and_directives_are_limited() {
    let app = TestApp::new().await;
    let token = partner(&app).await;

    let aliases: String = (0..100)
        .map(|i| format!("a{i}: viewer {{ role }} "))
        .collect();
    let many = app
        .gql(&token, &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert_eq!(many.code(), "BAD_USER_INPUT");
    assert!(many.message().contains("aliases"), "{}", many.body);
    assert!(many.has_no_data());
    // A few aliases are fine.
    let few = app
        .gql(
            &token,
            "{ a: viewer { role } b: viewer { role } }",
            json!({}),
        )
        .await;
    assert_eq!(few.data()["b"]["role"], "PARTNER");

    let directives: String = (0..50).map(|_| "@include(if: true) ").collect();
    let decorated = app
        .gql(
            &token,
            &format!("{{ viewer {directives} {{ role }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(decorated.code(), "BAD_USER_INPUT");
    assert!(
        decorated.message().contains("directives"),
        "{}",
        decorated.body
    );
    assert!(decorated.has_no_data());

    // Deep nesting through the recursive introspection types (the operator may introspect,
    // so only the depth limit can refuse this).
    let mut deep = String::from("name");
    for _ in 0..12 {
        deep = format!("ofType {{ {deep} }}");
    }
    let operator = app.operator_token();
    let nested = app
        .gql(
            &operator,
            &format!("{{ __schema {{ queryType {{ fields {{ type {{ {deep} }} }} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(nested.code(), "BAD_USER_INPUT");
    assert!(
        nested.message().contains("nested too deep"),
        "{}",
        nested.body
    );
    assert!(nested.has_no_data());
    // Pathological nesting is stopped by the parser before any validation work.
    let brackets = format!("{}{}", "{ a ".repeat(2000), "}".repeat(2000));
    let recursive = app.gql(&operator, &brackets, json!({})).await;
    assert_eq!(
        (recursive.status, recursive.code()),
        (400, "BAD_USER_INPUT")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_needs_a_token_and_is_rate_limited_and_suggestions_are_off() {
    let app = TestApp::new().await;
    let token = partner(&app).await;
    let introspect = "{ __schema { types { name } } }";

    // Authenticated callers may introspect (code generators need it); it costs the whole
    // schema's surcharge against their budget.
    let allowed = app.gql(&token, introspect, json!({})).await;
    let types = allowed.data()["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Partner"));
    assert_eq!(allowed.body["extensions"]["rateLimit"]["cost"], 203);
    // Anonymous callers never.
    let anonymous = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": introspect }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let operator = app.operator_token();
    let allowed = app.gql(&operator, introspect, json!({})).await;
    assert!(allowed.data()["__schema"]["types"].is_array());

    // Configured for the operator only: a partner is refused, and learns nothing.
    let strict = TestApp::builder()
        .await
        .config(|c| c.introspection = coalition_hub::config::Introspection::Operator)
        .spawn()
        .await;
    let strict_token = partner(&strict).await;
    let refused = strict.gql(&strict_token, introspect, json!({})).await;
    assert_eq!((refused.status, refused.code()), (403, "FORBIDDEN"));
    assert!(refused.has_no_data());
    let type_probe = strict
        .gql(
            &strict_token,
            "{ ... on Query { __type(name: \"Partner\") { fields { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(type_probe.code(), "FORBIDDEN");
    assert!(!type_probe.body.to_string().contains("earnRate"));
    // __typename is not introspection.
    let typename = strict.gql(&strict_token, "{ __typename }", json!({})).await;
    assert_eq!(typename.data()["__typename"], "Query");
    let operator = strict.operator_token();
    let allowed = strict.gql(&operator, introspect, json!({})).await;
    assert!(allowed.data()["__schema"]["types"].is_array());

    // A misspelt field does not leak the names it resembles.
    let typo = app
        .gql(
            &token,
            "{ viewr { role } partnr(id: \"x\") { nme } }",
            json!({}),
        )
        .await;
    let text = typo.body.to_string();
    assert_eq!(typo.code(), "BAD_USER_INPUT");
    assert!(!text.contains("Did you mean"), "{text}");
    assert!(!text.contains("\\\"viewer\\\""), "{text}");
    assert!(!text.contains("\\\"partner\\\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_request_ids() {
    let app = TestApp::new().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready: Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready, json!({"postgres": "ok", "redis": "ok"}));

    let token = app.operator_token();
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .header("x-request-id", "req-from-till-42")
        .json(&json!({"query": "{ viewer { role } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-from-till-42");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("hub_graphql_operations_total{kind=\"query\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_failures_are_coded_and_say_nothing_inside() {
    // A hub whose database is gone: the request gets INTERNAL and no internal text.
    let app = TestApp::builder()
        .await
        .config(|c| {
            c.database_url = crate::support::url_for_database(&c.database_url, "no_such_database");
        })
        .spawn()
        .await;
    let token = app.operator_token();
    let response = app
        .gql(&token, "{ partners { nodes { id } } }", json!({}))
        .await;
    assert_eq!(response.code(), "INTERNAL");
    assert_eq!(response.message(), "internal error");
    assert!(!response.body.to_string().contains("no_such_database"));
}

/// `/metrics` tells how busy the coalition is: the operator's token only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_for_the_operator_only() {
    let app = TestApp::new().await;
    let partner = app.create_partner("curious").await;
    let get = async |token: Option<String>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let (status, body) = get(None).await;
    assert_eq!(status, 401);
    assert!(!body.contains("hub_"), "{body}");
    let (status, body) = get(Some(app.partner_token(&partner, ALL_SCOPES))).await;
    assert_eq!(status, 403);
    assert!(!body.contains("hub_"), "{body}");
    let (status, body) = get(Some(app.operator_token())).await;
    assert_eq!(status, 200);
    assert!(body.contains("hub_db_queries_total"), "{body}");
}

/// The GraphQL-over-HTTP media type: asked for, it is answered, with 400 for a request
/// that failed before execution and 200 once it ran; `application/json` answers as always.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_response_media_type_gets_the_specifications_status_codes() {
    let app = TestApp::new().await;
    let token = partner(&app).await;
    let send = async |accept: &str, query: &str| {
        let response = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&token)
            .header("accept", accept)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let media = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: serde_json::Value = response.json().await.unwrap();
        (status, media, body)
    };
    const MEDIA: &str = "application/graphql-response+json";
    // It ran: 200, in the asked-for media type.
    let (status, media, body) = send(
        &format!("{MEDIA}, application/json;q=0.9"),
        "{ viewer { role } }",
    )
    .await;
    assert_eq!((status, media.starts_with(MEDIA)), (200, true), "{media}");
    assert_eq!(body["data"]["viewer"]["role"], "PARTNER");
    // Invalid (an unknown field) or unparsable: 400, no data.
    for bad in ["{ viewer { nosuchfield } }", "{ viewer { role "] {
        let (status, media, body) = send(MEDIA, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(media.starts_with(MEDIA));
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
    }
    // It ran and a field failed: 200, with data.
    let (status, _, body) = send(
        MEDIA,
        "{ partner(id: \"00000000-0000-0000-0000-000000000009\") { id } }",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("data").is_some());
    // application/json as always: an invalid document is 200 with errors.
    let (status, media, _) = send("application/json", "{ viewer { nosuchfield } }").await;
    assert_eq!((status, media.starts_with("application/json")), (200, true));
}
