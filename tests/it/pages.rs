//! Pages the hub serves to people, tested over HTTP and in a real browser: GraphiQL (from
//! files built into the binary), the public ambassador board, and the signed-in pages (the
//! member's wallet, the ambassador boards, the partner portal, the operator console), each
//! at a phone's width, by keyboard, with a screenshot in target/screenshots.

use coalition_hub::services::leaderboards::relay;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    browser::{Browser, Key},
    ledger::Coalition,
    sessions::create_user,
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

/// Signs in at the open /login by keyboard: the email field has the focus; type, Tab,
/// type, Enter.
async fn sign_in_by_keyboard(browser: &Browser, email: &str, password: &str) {
    browser.keys(email).await;
    browser.keys(Key::TAB).await;
    browser.keys(password).await;
    browser.keys(Key::ENTER).await;
}

/// Tabs to "Sign out", presses Enter, and waits for the page that follows to show `then`.
async fn sign_out_by_keyboard(browser: &Browser, then: &str) {
    browser.tab_to("Sign out", 80).await;
    browser.keys(Key::ENTER).await;
    browser
        .wait_for_text(10, "sign-out did not lead on", |t| t.contains(then))
        .await;
}

/// No console errors but the ones `allowed` describes.
async fn assert_no_console_errors(browser: &Browser, allowed: impl Fn(&str) -> bool) {
    let errors = browser.console_errors().await;
    assert!(errors.iter().all(|e| allowed(e)), "{errors:?}");
}

/// The page at a phone's width: nothing scrolls sideways; then its screenshot.
async fn check_phone_width(browser: &Browser, name: &str) {
    browser.resize(375, 800).await;
    assert!(
        browser.fits_width().await,
        "{name} scrolls sideways at 375 px"
    );
    browser.screenshot(&format!("{name}-phone")).await;
    browser.resize(1280, 800).await;
}

async fn wallet_link(app: &TestApp, partner_token: &str, customer: &str) -> String {
    let minted = app
        .gql(
            partner_token,
            "mutation($c: String!) { issueMemberToken(input: {member: {partnerCustomerId: $c}}) { walletLink } }",
            json!({"c": customer}),
        )
        .await;
    minted.data()["issueMemberToken"]["walletLink"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn earn(app: &TestApp, partner_token: &str, customer: &str, points: i64, key: &str) {
    let input =
        json!({"member": {"partnerCustomerId": customer}, "points": points, "idempotencyKey": key});
    app.gql(
        partner_token,
        "mutation($input: IssuePointsInput!) { issuePoints(input: $input) { entry { id } } }",
        json!({ "input": input }),
    )
    .await
    .data();
}

/// The session cookie as the browser holds it: HttpOnly and SameSite=Strict.
async fn assert_session_cookie_is_guarded(browser: &Browser) {
    let cookies = browser.cookies().await;
    let session = cookies
        .iter()
        .find(|c| c["name"] == "hub_session")
        .unwrap_or_else(|| panic!("no session cookie in {cookies:?}"));
    assert_eq!(session["httpOnly"], json!(true));
    assert_eq!(session["sameSite"], json!("Strict"));
    assert_eq!(browser.storage().await, json!(["{}", "{}"]));
}

#[tokio::test]
async fn a_member_follows_its_wallet_link_and_sees_an_earn_arrive_live() {
    let app = TestApp::new().await;
    let shop = app.create_partner("wallet-shop").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    app.enroll(&token, "W-1").await;
    earn(&app, &token, "W-1", 300, "w-1").await;
    let link = wallet_link(&app, &token, "W-1").await;
    let browser = Browser::start().await;
    browser.open(&app.url(&link)).await;
    browser
        .wait_for_text(20, "the wallet did not open", |t| {
            t.contains("available points") && t.contains("live")
        })
        .await;
    // The token left the address at once; only the HttpOnly cookie holds the session.
    assert_eq!(browser.url().await, app.url("/app"));
    assert_session_cookie_is_guarded(&browser).await;
    let available = "return document.getElementById('available').textContent";
    assert_eq!(browser.eval(available).await, json!("300"));
    browser.screenshot("wallet").await;

    // An earn through the API: the open wallet shows it by itself.
    earn(&app, &token, "W-1", 250, "w-2").await;
    browser
        .wait_for_text(15, "the balance and history did not change", |t| {
            t.contains("550") && t.matches("Earned").count() == 2
        })
        .await;
    assert_eq!(browser.eval(available).await, json!("550"));
    check_phone_width(&browser, "wallet").await;
    assert_no_console_errors(&browser, |_| false).await;

    // Keyboard only: every form is reachable, and sign-out works by Enter.
    browser.tab_to("Ask to link", 40).await;
    sign_out_by_keyboard(&browser, "Open your wallet from your partner's app").await;
    browser.open(&app.url("/app")).await;
    browser
        .wait_for_text(10, "the wallet opened without a session", |t| {
            t.contains("Open your wallet from your partner's app")
        })
        .await;
    browser.close().await;
}

#[tokio::test]
async fn an_operator_signs_in_by_keyboard_closes_a_period_and_downloads_its_csv() {
    let coalition = Coalition::new(TestApp::new().await, 2).await;
    coalition.issue(0, 500, "c-1").await.data();
    coalition.redeem(1, 200, "c-2").await.data();
    let app = &coalition.app;
    let (_, password) = create_user(
        app,
        &app.operator_token(),
        "ops@console.example",
        "ADMIN",
        None,
    )
    .await;
    // The console's cut-off is a second before it opens: after these entries.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let browser = Browser::start().await;
    browser.open(&app.url("/login")).await;
    browser
        .wait_for_text(10, "no sign-in form", |t| t.contains("Sign in"))
        .await;
    browser.screenshot("login").await;
    check_phone_width(&browser, "login").await;
    sign_in_by_keyboard(&browser, "ops@console.example", &password).await;
    browser
        .wait_for_text(20, "the console did not open", |t| {
            t.contains("Run the checks") && t.contains("Partner partner-1")
        })
        .await;
    assert_eq!(browser.url().await, app.url("/console"));
    assert_session_cookie_is_guarded(&browser).await;
    browser.screenshot("console").await;

    // A forged state change (no CSRF token) from the page's own origin is refused.
    let forged = browser
        .eval_async(
            "const r = await fetch('/graphql', {method: 'POST', headers: {'content-type': 'application/json'}, \
             body: JSON.stringify({query: 'mutation { setTiers(tiers: []) { name } }'})}); \
             const b = await r.json(); return [r.status, b.errors[0].extensions.code];",
        )
        .await;
    assert_eq!(forged, json!([403, "FORBIDDEN"]));

    // Close the period by keyboard; its CSV downloads.
    browser.tab_to("Close the period", 80).await;
    browser.keys(Key::ENTER).await;
    browser
        .wait_for_text(20, "the period did not close", |t| {
            t.contains("Period closed.")
        })
        .await;
    browser.tab_to("Download its CSV", 20).await;
    browser.keys(Key::ENTER).await;
    let csv = browser.downloaded(".csv", 20).await;
    assert!(
        csv.contains("Partner partner-0")
            && csv.contains("Partner partner-1")
            && csv.contains("200"),
        "{csv}"
    );
    let closed = app
        .sql_count("SELECT count(*) FROM settlement_periods")
        .await;
    assert_eq!(closed, 1);
    browser.tab_to("Run the checks", 80).await;
    browser.keys(Key::ENTER).await;
    browser
        .wait_for_text(20, "the checks did not run", |t| {
            t.contains("Every invariant holds.")
        })
        .await;
    check_phone_width(&browser, "console").await;
    // The refused forgery is the only error the page saw.
    assert_no_console_errors(&browser, |e| e.contains("/graphql") && e.contains("403")).await;

    sign_out_by_keyboard(&browser, "Sign in").await;
    assert_eq!(browser.url().await, app.url("/login"));
    browser.open(&app.url("/console")).await;
    browser
        .wait_for_text(10, "the console opened after sign-out", |t| {
            t.contains("Sign in")
        })
        .await;
    browser.close().await;
}

#[tokio::test]
async fn a_partners_admin_and_staff_use_the_portal() {
    let app = TestApp::new().await;
    let shop = app.create_partner("portal-shop").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    let (_, number) = app.enroll(&token, "P-1").await;
    earn(&app, &token, "P-1", 400, "p-1").await;
    let ops = app.operator_token();
    let (_, admin) = create_user(&app, &ops, "admin@portal.example", "ADMIN", Some(&shop)).await;
    let (_, staff) = create_user(&app, &ops, "staff@portal.example", "STAFF", Some(&shop)).await;

    let browser = Browser::start().await;
    browser.open(&app.url("/login")).await;
    browser
        .wait_for_text(10, "no sign-in form", |t| t.contains("Sign in"))
        .await;
    sign_in_by_keyboard(&browser, "admin@portal.example", &admin).await;
    browser
        .wait_for_text(20, "the portal did not open", |t| {
            t.contains("Partner portal-shop") && t.contains("API credentials")
        })
        .await;
    let outstanding = browser
        .eval("return document.getElementById('outstanding').textContent")
        .await;
    assert_eq!(outstanding, json!("400"));
    // The liability day by day: the days the hub recorded, then now.
    assert!(browser.text().await.contains("then now"));
    browser.screenshot("portal").await;

    // Look the member up by customer id, by keyboard.
    browser.tab_to("By", 40).await;
    browser.keys("Y").await;
    browser.tab_to("Number or id", 5).await;
    browser.keys("P-1").await;
    browser.keys(Key::ENTER).await;
    browser
        .wait_for_text(10, "the member was not found", |t| {
            t.contains(&format!("Card {number}"))
        })
        .await;
    // New credentials: the secret is shown once, and kept nowhere.
    browser.tab_to("Create", 60).await;
    browser.keys(Key::ENTER).await;
    let text = browser
        .wait_for_text(10, "no secret shown", |t| t.contains("shown this once"))
        .await;
    assert!(text.contains("sk_"), "{text}");
    assert_eq!(browser.url().await, app.url("/portal"));
    assert_session_cookie_is_guarded(&browser).await;
    // A campaign, by keyboard: double points from today.
    browser.tab_to("Name", 80).await;
    browser.keys("Double week").await;
    browser.tab_to("Start", 20).await;
    browser.keys(Key::ENTER).await;
    browser
        .wait_for_text(10, "the campaign was not listed", |t| {
            t.contains("Double week\t×2")
        })
        .await;
    check_phone_width(&browser, "portal").await;
    assert_no_console_errors(&browser, |_| false).await;
    sign_out_by_keyboard(&browser, "Sign in").await;

    // Staff read, and see nothing to change.
    sign_in_by_keyboard(&browser, "staff@portal.example", &staff).await;
    let text = browser
        .wait_for_text(20, "the staff portal did not open", |t| {
            t.contains("signed in as staff") && t.contains("Settlement statements")
        })
        .await;
    assert!(!text.contains("API credentials"), "{text}");
    browser.screenshot("portal-staff").await;
    browser.close().await;
}

#[tokio::test]
async fn an_ambassador_sees_its_standing_and_other_periods_on_the_boards_page() {
    let app = TestApp::new().await;
    let (token, ambassadors) = shop_with_ambassadors(&app).await;
    record(&app, &token, &ambassadors[0], 10, "s1").await;
    record(&app, &token, &ambassadors[1], 25, "s2").await;
    let link = wallet_link(&app, &token, "c-ana_pub").await;
    let browser = Browser::start().await;
    browser.open(&app.url(&link)).await;
    browser
        .wait_for_text(20, "the wallet did not open", |t| {
            t.contains("available points")
        })
        .await;
    browser.tab_to("Ambassadors", 10).await;
    browser.keys(Key::ENTER).await;
    let text = browser
        .wait_for_text(20, "no standing shown", |t| {
            t.contains("ana_pub: rank 2 of 2")
        })
        .await;
    // A tie shares the rank: 15 more points reach ben_pub's 25.
    assert!(text.contains("15 more to move up"), "{text}");
    assert!(
        text.find("ben_pub").unwrap() < text.rfind("ana_pub").unwrap(),
        "{text}"
    );
    browser.screenshot("boards").await;
    // Another period, by keyboard: the month's board (the same two, this month).
    browser.tab_to("Period", 20).await;
    browser.keys("M").await;
    browser.tab_to("Show", 10).await;
    browser.keys(Key::ENTER).await;
    let month = chrono::Utc::now().format("%Y-%m-01").to_string();
    browser
        .wait_for_text(10, "the month's board did not show", |t| t.contains(&month))
        .await;
    check_phone_width(&browser, "boards").await;
    assert_no_console_errors(&browser, |_| false).await;
    browser.close().await;
}
