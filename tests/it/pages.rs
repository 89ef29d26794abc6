//! Pages the hub serves to people, tested over HTTP and in a real browser: GraphiQL (from
//! files built into the binary) and the public ambassador board.

use coalition_hub::services::leaderboards::relay;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    browser::Browser,
    support::{ALL_SCOPES, TestApp},
};

/// Every `src="…"` and `href="…"` of the page.
fn references(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for piece in page.split(attribute).skip(1) {
            found.push(piece.split('"').next().unwrap().to_owned());
        }
    }
    found
}

#[tokio::test]
async fn graphiql_loads_everything_from_the_hub_itself() {
    let app = TestApp::builder()
        .await
        .config(|c| c.graphiql = true)
        .spawn()
        .await;
    let client = reqwest::Client::new();
    let page = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    let page = page.text().await.unwrap();
    let references = references(&page);
    assert_eq!(references.len(), 5, "{page}");
    let sums = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/vendor/graphiql/SHA256SUMS"),
    )
    .unwrap();
    for reference in references {
        // Same origin, nothing from a CDN.
        assert!(reference.starts_with("/assets/graphiql-"), "{reference}");
        let asset = client.get(app.url(&reference)).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{reference}");
        let content_type = asset.headers()["content-type"].to_str().unwrap().to_owned();
        let expected = if reference.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            content_type.starts_with(expected),
            "{reference}: {content_type}"
        );
        let bytes = asset.bytes().await.unwrap();
        let name = reference.rsplit('/').next().unwrap();
        let sum: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if name != "start.js" {
            assert!(
                sums.contains(&format!("{sum}  {name}")),
                "{name} is not the vendored file"
            );
        }
    }
    let missing = client
        .get(app.url("/assets/graphiql-3.8.3/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn graphiql_is_not_served_unless_configured() {
    let app = TestApp::builder()
        .await
        .config(|c| c.graphiql = false)
        .spawn()
        .await;
    let client = reqwest::Client::new();
    let page = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 404);
    let asset = client
        .get(app.url("/assets/graphiql-3.8.3/graphiql.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), 404);
}

#[tokio::test]
async fn graphiql_renders_in_a_browser_that_reaches_nothing_but_the_hub() {
    let app = TestApp::builder()
        .await
        .config(|c| c.graphiql = true)
        .spawn()
        .await;
    let browser = Browser::start().await;
    browser.open(&app.url("/")).await;
    browser
        .wait_for_text(20, "GraphiQL did not render", |t| {
            t.contains("Welcome to GraphiQL")
        })
        .await;
    let rendered = browser
        .eval("return !!document.querySelector('.graphiql-container .graphiql-execute-button')")
        .await;
    assert_eq!(rendered, serde_json::json!(true));
    // Without a token GraphiQL's introspection is refused (401): besides the missing
    // favicon, that is the only error (no refused script, style or policy violation).
    let errors = browser.console_errors().await;
    let expected =
        |e: &String| e.contains("/graphql") && e.contains("401") || e.contains("/favicon.ico");
    assert!(errors.iter().all(expected), "{errors:?}");
    browser.screenshot("graphiql").await;
    browser.close().await;
}

const RECORD: &str = "mutation($input: RecordAmbassadorActivityInput!) { recordAmbassadorActivity(input: $input) { score } }";

/// A shop with two ambassadors, `ana_pub` and `ben_pub`; answers the shop's token and
/// their ambassador ids.
async fn shop_with_ambassadors(app: &TestApp) -> (String, Vec<String>) {
    let shop = app.create_partner("board-shop").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    let mut ambassadors = Vec::new();
    for handle in ["ana_pub", "ben_pub"] {
        let (member, _) = app.enroll(&token, &format!("c-{handle}")).await;
        let enrolled = app
            .gql(
                &app.operator_token(),
                "mutation($m: ID!, $h: String!) { enrollAmbassador(input: {member: {memberId: $m}, handle: $h}) { id } }",
                json!({"m": member, "h": handle}),
            )
            .await;
        ambassadors.push(
            enrolled.data()["enrollAmbassador"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    (token, ambassadors)
}

async fn record(app: &TestApp, token: &str, ambassador: &str, score: i64, key: &str) {
    let input = json!({"ambassadorId": ambassador, "kind": "REVIEW", "score": score, "idempotencyKey": key});
    app.gql(token, RECORD, json!({ "input": input }))
        .await
        .data();
    relay::run_once(&app.state.leaderboards, true)
        .await
        .unwrap();
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn the_public_board_shows_handles_and_scores_only() {
    let app = TestApp::new().await;
    let (token, ambassadors) = shop_with_ambassadors(&app).await;
    record(&app, &token, &ambassadors[0], 10, "p1").await;
    record(&app, &token, &ambassadors[1], 25, "p2").await;
    let client = reqwest::Client::new();
    let board: Value = get_json(
        &client,
        &app.url("/boards/public/data?partner=board-shop&period=week"),
    )
    .await;
    assert_eq!(
        board["entries"],
        json!([{"rank": 1, "handle": "ben_pub", "score": 25}, {"rank": 2, "handle": "ana_pub", "score": 10}])
    );
    assert_eq!(board["totalRanked"], 2);
    // The coalition's board, with no query at all.
    let coalition: Value = get_json(&client, &app.url("/boards/public/data")).await;
    assert_eq!(coalition["entries"][0]["handle"], "ben_pub");
    for (query, status, code) in [
        ("?period=year", 400, "BAD_USER_INPUT"),
        ("?first=0", 400, "BAD_USER_INPUT"),
        ("?partner=no-such-shop", 404, "NOT_FOUND"),
    ] {
        let answer = client
            .get(app.url(&format!("/boards/public/data{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{query}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{query}");
    }
}

#[tokio::test]
async fn the_public_board_updates_by_itself_in_a_browser_and_fits_a_phone() {
    let app = TestApp::new().await;
    let (token, ambassadors) = shop_with_ambassadors(&app).await;
    record(&app, &token, &ambassadors[0], 10, "u1").await;
    let browser = Browser::start().await;
    browser
        .open(&app.url("/boards/public?partner=board-shop"))
        .await;
    browser
        .wait_for_text(20, "the board did not show", |t| t.contains("ana_pub"))
        .await;
    browser.screenshot("boards-public").await;
    let errors = browser.console_errors().await;
    assert!(
        errors.iter().all(|e| e.contains("/favicon.ico")),
        "{errors:?}"
    );
    // An activity elsewhere: the open page shows it on its own.
    record(&app, &token, &ambassadors[1], 30, "u2").await;
    let text = browser
        .wait_for_text(20, "the board did not update", |t| t.contains("ben_pub"))
        .await;
    assert!(
        text.find("ben_pub").unwrap() < text.find("ana_pub").unwrap(),
        "{text}"
    );
    browser.resize(375, 740).await;
    assert!(
        browser.fits_width().await,
        "the board scrolls sideways at 375 px"
    );
    browser.screenshot("boards-public-phone").await;
    browser.close().await;
}
