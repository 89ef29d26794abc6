//! Signing in to the pages: portal users (Argon2id passwords, lockout), sessions in
//! cookies (expiry, logout, disabled users), CSRF protection of every state change, staff
//! who only read, partner admins who manage their own people and credentials, and the
//! member's wallet link. Over HTTP, as a browser would send it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, TestApp};

const CREATE_USER: &str = "mutation($input: CreatePortalUserInput!) { createPortalUser(input: $input) { user { id email role partnerId } password } }";

/// A browser's session as the tests hold it: the cookie and the page's CSRF token.
pub struct Signed {
    pub cookie: String,
    pub csrf: String,
    pub set_cookie: String,
}

/// The operator (or `creator`) creates a user; answers (id, password).
pub async fn create_user(
    app: &TestApp,
    creator: &str,
    email: &str,
    role: &str,
    partner: Option<&str>,
) -> (String, String) {
    let input = json!({"email": email, "role": role, "partnerId": partner});
    let made = app
        .gql(creator, CREATE_USER, json!({ "input": input }))
        .await;
    let made = &made.data()["createPortalUser"];
    (
        made["user"]["id"].as_str().unwrap().to_owned(),
        made["password"].as_str().unwrap().to_owned(),
    )
}

async fn sign_in_raw(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

pub async fn sign_in(app: &TestApp, email: &str, password: &str) -> Signed {
    let response = sign_in_raw(app, email, password).await;
    assert_eq!(response.status(), 200, "sign-in of {email}");
    signed(response).await
}

async fn signed(response: reqwest::Response) -> Signed {
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    Signed {
        cookie,
        csrf: body["csrfToken"].as_str().unwrap().to_owned(),
        set_cookie,
    }
}

/// A GraphQL POST through the session, with (`csrf`) or without its token.
async fn page_gql(
    app: &TestApp,
    s: &Signed,
    csrf: Option<&str>,
    query: &str,
    variables: Value,
) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header("cookie", &s.cookie)
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = csrf {
        request = request.header("x-csrf-token", token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn session_status(app: &TestApp, s: &Signed) -> u16 {
    app.client
        .get(app.url("/session"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test]
async fn portal_users_sign_in_and_act_with_the_apis_authorization() {
    let app = TestApp::new().await;
    let ops = app.operator_token();
    let shop = app.create_partner("portal-shop").await;
    let other = app.create_partner("portal-other").await;
    let (_, ops_password) = create_user(&app, &ops, " Ops@Coalition.Example ", "ADMIN", None).await;
    let stored = app.sql_text("SELECT password_hash FROM portal_users").await;
    assert!(stored.starts_with("$argon2id$") && !stored.contains(&ops_password));

    let operator = sign_in(&app, "ops@coalition.example", &ops_password).await;
    // HttpOnly and SameSite=Strict; not Secure on loopback.
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            operator.set_cookie.contains(attribute),
            "{}",
            operator.set_cookie
        );
    }
    assert!(!operator.set_cookie.contains("Secure"));
    let (_, viewer) = page_gql(
        &app,
        &operator,
        Some(&operator.csrf),
        "{ viewer { role subject } }",
        json!({}),
    )
    .await;
    assert_eq!(
        viewer["data"]["viewer"],
        json!({"role": "OPERATOR", "subject": "portal:ops@coalition.example"})
    );

    // The operator's user makes the shop's admin, who makes its own staff and credentials,
    // and nothing for another partner.
    let admin_input =
        json!({"input": {"email": "admin@shop.example", "role": "ADMIN", "partnerId": shop}});
    let (_, made) = page_gql(
        &app,
        &operator,
        Some(&operator.csrf),
        CREATE_USER,
        admin_input,
    )
    .await;
    let admin_password = made["data"]["createPortalUser"]["password"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = sign_in(&app, "admin@shop.example", &admin_password).await;
    let csrf = Some(admin.csrf.as_str());
    let staff_input = |partner: &str| json!({"input": {"email": "staff@shop.example", "role": "STAFF", "partnerId": partner}});
    let (_, refused) = page_gql(&app, &admin, csrf, CREATE_USER, staff_input(&other)).await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let (_, made) = page_gql(&app, &admin, csrf, CREATE_USER, staff_input(&shop)).await;
    let staff_password = made["data"]["createPortalUser"]["password"]
        .as_str()
        .unwrap()
        .to_owned();
    let credentials = "mutation($p: ID!) { createPartnerCredentials(input: {partnerId: $p, scopes: [\"points:issue\"]}) { clientId clientSecret } }";
    let (_, own) = page_gql(&app, &admin, csrf, credentials, json!({"p": shop})).await;
    assert!(
        own["data"]["createPartnerCredentials"]["clientSecret"]
            .as_str()
            .unwrap()
            .starts_with("sk_")
    );
    let (_, theirs) = page_gql(&app, &admin, csrf, credentials, json!({"p": other})).await;
    assert_eq!(code(&theirs), "FORBIDDEN");
    // A partner token without partner:admin makes no credentials for itself.
    let till = app.partner_token(&shop, "points:issue members:read");
    assert_eq!(
        app.gql(&till, credentials, json!({"p": shop})).await.code(),
        "FORBIDDEN"
    );

    // Staff read and change nothing.
    let staff = sign_in(&app, "staff@shop.example", &staff_password).await;
    let (_, read) = page_gql(
        &app,
        &staff,
        Some(&staff.csrf),
        "{ viewer { partner { slug } } }",
        json!({}),
    )
    .await;
    assert_eq!(read["data"]["viewer"]["partner"]["slug"], "portal-shop");
    let (status, write) = page_gql(
        &app,
        &staff,
        Some(&staff.csrf),
        credentials,
        json!({"p": shop}),
    )
    .await;
    assert_eq!((status, code(&write)), (403, "FORBIDDEN"));

    // A suspended partner's people are stopped at once, and cannot sign in again.
    let suspend =
        "mutation($id: ID!) { updatePartner(id: $id, input: {status: SUSPENDED}) { status } }";
    app.gql(&ops, suspend, json!({"id": shop})).await.data();
    let (status, stopped) = page_gql(&app, &admin, csrf, "{ viewer { role } }", json!({})).await;
    assert_eq!((status, code(&stopped)), (403, "PARTNER_SUSPENDED"));
    let again = sign_in_raw(&app, "admin@shop.example", &admin_password).await;
    assert_eq!(again.status(), 403);

    // The audit trail names who did it.
    let actor = |email: &str| {
        format!(
            "SELECT actor FROM audit_log WHERE action = 'portal_user.created' AND after->>'email' = '{email}'"
        )
    };
    assert_eq!(
        app.sql_text(&actor("admin@shop.example")).await,
        "operator:portal:ops@coalition.example"
    );
    assert_eq!(
        app.sql_text(&actor("staff@shop.example")).await,
        format!("partner:{shop}")
    );
}

#[tokio::test]
async fn a_state_change_without_the_pages_csrf_token_is_refused() {
    let app = TestApp::new().await;
    let (_, password) = create_user(
        &app,
        &app.operator_token(),
        "ops@csrf.example",
        "ADMIN",
        None,
    )
    .await;
    let s = sign_in(&app, "ops@csrf.example", &password).await;
    let create = "mutation { createPartner(input: {name: \"Forged\", slug: \"forged\", category: OTHER, earnRate: \"1\"}) { id } }";
    for token in [None, Some("not-the-token"), Some("")] {
        let (status, body) = page_gql(&app, &s, token, create, json!({})).await;
        assert_eq!((status, code(&body)), (403, "FORBIDDEN"), "{token:?}");
    }
    // The right token from another site's page.
    let forged = app
        .client
        .post(app.url("/graphql"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .header("origin", "https://evil.example")
        .json(&json!({"query": create}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(
        app.sql_count("SELECT count(*) FROM partners WHERE slug = 'forged'")
            .await,
        0
    );
    // A form post to /login or /logout from elsewhere is refused too.
    let logout = app
        .client
        .post(app.url("/logout"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 403);
    assert_eq!(session_status(&app, &s).await, 200);
    let form = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=ops%40csrf.example&password=x")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 400);
    // Reading needs no token (a GET changes nothing), and the page's own request works.
    let read = app
        .client
        .get(app.url("/graphql?query=%7Bviewer%7Brole%7D%7D"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let (status, _) = page_gql(&app, &s, Some(&s.csrf), create, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.sql_count("SELECT count(*) FROM partners WHERE slug = 'forged'")
            .await,
        1
    );
}

#[tokio::test]
async fn wrong_passwords_lock_an_account_even_when_guessed_at_once() {
    let app = TestApp::builder()
        .await
        .config(|c| {
            c.sessions.max_failed_logins = 3;
            c.sessions.lockout = Duration::from_secs(2);
        })
        .spawn()
        .await;
    let (_, password) = create_user(
        &app,
        &app.operator_token(),
        "ops@lock.example",
        "ADMIN",
        None,
    )
    .await;
    // Unknown email and wrong password read the same.
    let unknown = sign_in_raw(&app, "nobody@lock.example", &password).await;
    assert_eq!(unknown.status(), 401);
    let unknown: Value = unknown.json().await.unwrap();
    let wrong = sign_in_raw(&app, "ops@lock.example", "wrong password!").await;
    assert_eq!(wrong.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    assert_eq!(
        unknown["errors"][0]["message"],
        wrong["errors"][0]["message"]
    );
    assert_eq!(code(&wrong), "UNAUTHENTICATED");
    // Eight guesses at once: every one counts (one row lock each), so the account locks.
    let guesses = (0..8).map(|i| {
        let app = &app;
        async move {
            sign_in_raw(app, "ops@lock.example", &format!("guess {i}"))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    let locked = sign_in_raw(&app, "ops@lock.example", &password).await;
    assert_eq!(locked.status(), 429);
    assert!(locked.headers().contains_key("retry-after"));
    let locked: Value = locked.json().await.unwrap();
    assert_eq!(code(&locked), "RATE_LIMITED");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    sign_in(&app, "ops@lock.example", &password).await;
}

#[tokio::test]
async fn sessions_end_at_logout_when_idle_and_when_the_user_is_disabled() {
    let app = TestApp::builder()
        .await
        .config(|c| c.sessions.idle = Duration::from_secs(2))
        .spawn()
        .await;
    let ops = app.operator_token();
    let (id, password) = create_user(&app, &ops, "ops@end.example", "STAFF", None).await;
    // Logout.
    let s = sign_in(&app, "ops@end.example", &password).await;
    let out = app
        .client
        .post(app.url("/logout"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(session_status(&app, &s).await, 401);
    let (status, body) = page_gql(&app, &s, Some(&s.csrf), "{ viewer { role } }", json!({})).await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"));
    // Idle.
    let s = sign_in(&app, "ops@end.example", &password).await;
    assert_eq!(session_status(&app, &s).await, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(session_status(&app, &s).await, 401);
    // Disabled, and a new password: sessions end at once.
    let s = sign_in(&app, "ops@end.example", &password).await;
    let reset = app
        .gql(
            &ops,
            "mutation($id: ID!) { resetPortalUserPassword(id: $id) { password } }",
            json!({"id": id}),
        )
        .await;
    let new_password = reset.data()["resetPortalUserPassword"]["password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(session_status(&app, &s).await, 401);
    assert_eq!(
        sign_in_raw(&app, "ops@end.example", &password)
            .await
            .status(),
        401
    );
    let s = sign_in(&app, "ops@end.example", &new_password).await;
    app.gql(
        &ops,
        "mutation($id: ID!) { disablePortalUser(id: $id) { disabledAt } }",
        json!({"id": id}),
    )
    .await
    .data();
    assert_eq!(session_status(&app, &s).await, 401);
    assert_eq!(
        sign_in_raw(&app, "ops@end.example", &new_password)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn a_wallet_link_opens_the_members_own_session() {
    let app = TestApp::new().await;
    let shop = app.create_partner("wallet-shop").await;
    let token = app.partner_token(&shop, ALL_SCOPES);
    let (member, _) = app.enroll(&token, "W-1").await;
    let minted = app
        .gql(
            &token,
            "mutation { issueMemberToken(input: {member: {partnerCustomerId: \"W-1\"}}) { token walletLink } }",
            json!({}),
        )
        .await;
    let minted = &minted.data()["issueMemberToken"];
    let member_token = minted["token"].as_str().unwrap();
    assert_eq!(minted["walletLink"], format!("/app#token={member_token}"));
    let open = |body: Value| app.client.post(app.url("/app/session")).json(&body).send();
    let response = open(json!({"token": member_token})).await.unwrap();
    assert_eq!(response.status(), 200);
    let s = signed(response).await;
    let (_, me) = page_gql(&app, &s, Some(&s.csrf), "{ me { id } }", json!({})).await;
    assert_eq!(me["data"]["me"]["id"], member);
    // Only a member's token opens a wallet.
    for wrong in [token.as_str(), "not a token"] {
        let refused = open(json!({"token": wrong})).await.unwrap();
        assert_eq!(refused.status(), 401, "{wrong}");
    }
}

#[tokio::test]
async fn sign_in_attempts_are_bounded_per_email_like_token_requests() {
    let app = TestApp::builder()
        .await
        .config(|c| c.oauth.per_client_per_minute = 3)
        .spawn()
        .await;
    let (_, password) = create_user(
        &app,
        &app.operator_token(),
        "ops@budget.example",
        "ADMIN",
        None,
    )
    .await;
    for _ in 0..3 {
        let wrong = sign_in_raw(&app, "ops@budget.example", "not it at all").await;
        assert_eq!(wrong.status(), 401);
    }
    // The fourth attempt this minute is turned away before any password is checked, the
    // right one too; another email still signs in.
    let refused = sign_in_raw(&app, "OPS@budget.example", &password).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(code(&body), "RATE_LIMITED");
    let (_, other) = create_user(
        &app,
        &app.operator_token(),
        "ops2@budget.example",
        "ADMIN",
        None,
    )
    .await;
    sign_in(&app, "ops2@budget.example", &other).await;
}
