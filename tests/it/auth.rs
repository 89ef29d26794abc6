//! JWT verification, scopes and isolation, as a client sees them.

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, Gql, HS_SECRET, TestApp, fixture};

const VIEWER: &str = "{ viewer { role subject } }";

fn claims(app: &TestApp) -> Value {
    let now = Utc::now().timestamp();
    let jwt = &app.state.config.jwt;
    json!({
        "iss": jwt.issuer, "aud": jwt.audience, "sub": "ops-1",
        "exp": now + 300, "nbf": now - 5, "iat": now - 5, "jti": "j-1",
        "role": "operator", "scope": ""
    })
}

fn sign(alg: Algorithm, kid: &str, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    encode(&header, claims, key).unwrap()
}

/// A well-signed token whose header lists a critical extension (RFC 7515 4.1.11) when
/// `crit`, signed by hand (the JWT library writes no `crit`).
fn hand_signed(claims: &Value, key: &EncodingKey, crit: bool) -> String {
    let mut header = json!({"alg": "EdDSA", "typ": "JWT", "kid": "test-ed"});
    if crit {
        header["crit"] = json!(["exp"]);
    }
    let message = format!("{}.{}", b64(&header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, Algorithm::EdDSA).unwrap();
    format!("{message}.{signature}")
}

fn ed_key(file: &str) -> EncodingKey {
    EncodingKey::from_ed_pem(&std::fs::read(fixture(file)).unwrap()).unwrap()
}

fn b64(value: &Value) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn send(app: &TestApp, token: Option<&str>) -> Gql {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": VIEWER }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    Gql {
        status: response.status().as_u16(),
        body: response.json().await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_invalid_tokens_are_unauthenticated_with_no_data() {
    let app = TestApp::new().await;
    let good = ed_key("ed25519.pem");
    let base = claims(&app);
    let with = |patch: Value| {
        let mut c = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let now = Utc::now().timestamp();

    // The control: the same construction with nothing wrong is accepted, so each case
    // below fails for its one defect.
    let valid = sign(Algorithm::EdDSA, "test-ed", &base, &good);
    let ok = send(&app, Some(&valid)).await;
    assert_eq!(ok.data()["viewer"]["role"], "OPERATOR");
    let by_hand = send(&app, Some(&hand_signed(&base, &good, false))).await;
    assert_eq!(by_hand.data()["viewer"]["role"], "OPERATOR");

    let public_pem = std::fs::read(fixture("rsa.pub.pem")).unwrap();
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": "test-ed"})),
        b64(&base)
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("malformed", Some("not-a-jwt".into())),
        (
            "bad signature",
            Some(sign(
                Algorithm::EdDSA,
                "test-ed",
                &base,
                &ed_key("other-ed25519.pem"),
            )),
        ),
        ("alg none", Some(alg_none)),
        (
            "HS256 signed with the RSA public key",
            Some(sign(
                Algorithm::HS256,
                "test-rsa",
                &base,
                &EncodingKey::from_secret(&public_pem),
            )),
        ),
        (
            "unknown kid",
            Some(sign(Algorithm::EdDSA, "nobody", &base, &good)),
        ),
        (
            "wrong aud",
            Some(sign(
                Algorithm::EdDSA,
                "test-ed",
                &with(json!({"aud": "other-api"})),
                &good,
            )),
        ),
        (
            "wrong iss",
            Some(sign(
                Algorithm::EdDSA,
                "test-ed",
                &with(json!({"iss": "evil"})),
                &good,
            )),
        ),
        (
            "expired beyond leeway",
            Some(sign(
                Algorithm::EdDSA,
                "test-ed",
                &with(json!({"exp": now - 120})),
                &good,
            )),
        ),
        (
            "lifetime over the operator maximum (12 h)",
            Some(sign(
                Algorithm::EdDSA,
                "test-ed",
                &with(json!({"exp": now + 13 * 3600})),
                &good,
            )),
        ),
        (
            "iat in the future (a lifetime that looks short)",
            Some(sign(
                Algorithm::EdDSA,
                "test-ed",
                &with(json!({"iat": now + 11 * 3600, "exp": now + 12 * 3600})),
                &good,
            )),
        ),
        (
            "a critical extension",
            Some(hand_signed(&base, &good, true)),
        ),
        (
            "nbf in the future",
            Some(sign(
                Algorithm::EdDSA,
                "test-ed",
                &with(json!({"nbf": now + 120})),
                &good,
            )),
        ),
        (
            "exp as a string",
            Some(sign(
                Algorithm::EdDSA,
                "test-ed",
                &with(json!({"exp": (now + 300).to_string()})),
                &good,
            )),
        ),
        (
            "missing sub",
            Some(sign(
                Algorithm::EdDSA,
                "test-ed",
                &with(json!({"sub": null})),
                &good,
            )),
        ),
        (
            "missing exp",
            Some(sign(
                Algorithm::EdDSA,
                "test-ed",
                &with(json!({"exp": null})),
                &good,
            )),
        ),
        (
            "missing nbf",
            Some(sign(
                Algorithm::EdDSA,
                "test-ed",
                &with(json!({"nbf": null})),
                &good,
            )),
        ),
        (
            "partner role without partner_id",
            Some(sign(
                Algorithm::EdDSA,
                "test-ed",
                &with(json!({"role": "partner"})),
                &good,
            )),
        ),
        (
            "HS256 under the HMAC kid with the wrong secret",
            Some(sign(
                Algorithm::HS256,
                "test-hs",
                &base,
                &EncodingKey::from_secret(b"another-secret-that-is-long-enough-000000"),
            )),
        ),
    ];
    for (name, token) in cases {
        let response = send(&app, token.as_deref()).await;
        assert_eq!(response.status, 401, "{name}: {}", response.body);
        assert_eq!(response.code(), "UNAUTHENTICATED", "{name}");
        assert!(
            response.body.get("data").is_none(),
            "{name}: {}",
            response.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_still_verify_with_their_pinned_algorithm() {
    let app = TestApp::new().await;
    let mut c = claims(&app);
    let rsa = EncodingKey::from_rsa_pem(&std::fs::read(fixture("rsa.pem")).unwrap()).unwrap();
    let by_rsa = sign(Algorithm::RS256, "test-rsa", &c, &rsa);
    assert_eq!(
        send(&app, Some(&by_rsa)).await.data()["viewer"]["subject"],
        "ops-1"
    );
    c["sub"] = json!("ops-2");
    let by_hmac = sign(
        Algorithm::HS256,
        "test-hs",
        &c,
        &EncodingKey::from_secret(HS_SECRET.as_bytes()),
    );
    assert_eq!(
        send(&app, Some(&by_hmac)).await.data()["viewer"]["subject"],
        "ops-2"
    );
    // The same RSA key under another RSA algorithm is refused: the algorithm is pinned.
    let rs512 = sign(Algorithm::RS512, "test-rsa", &c, &rsa);
    assert_eq!(send(&app, Some(&rs512)).await.code(), "UNAUTHENTICATED");
    // Within the leeway an expired token still passes (clock skew between hosts).
    c["exp"] = json!(Utc::now().timestamp() - 5);
    let skewed = sign(Algorithm::EdDSA, "test-ed", &c, &ed_key("ed25519.pem"));
    assert_eq!(
        send(&app, Some(&skewed)).await.data()["viewer"]["role"],
        "OPERATOR"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_publishes_public_keys_only() {
    let app = TestApp::new().await;
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    // The Ed25519 signing key is published; the HMAC secret never is.
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!(keys[0]["kid"], "test-ed");
    assert_eq!(keys[0]["kty"], "OKP");
    assert!(keys[0].get("d").is_none());
    assert!(!jwks.to_string().contains(HS_SECRET));
    // The published key verifies the hub's own tokens.
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(keys[0].clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["coalition-hub-api"]);
    let token = app.operator_token();
    assert!(jsonwebtoken::decode::<Value>(&token, &key, &validation).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_roles_and_partner_isolation() {
    let app = TestApp::new().await;
    let a = app.create_partner("partner-a").await;
    let b = app.create_partner("partner-b").await;
    let token_a = app.partner_token(&a, ALL_SCOPES);
    let token_b = app.partner_token(&b, ALL_SCOPES);
    let (member_a, number_a) = app.enroll(&token_a, "A-1").await;

    // A partner without the scope is FORBIDDEN.
    let read_only = app.partner_token(&a, "members:read");
    let refused = app
        .gql(
            &read_only,
            "mutation { enrollMember(input: {partnerCustomerId: \"A-2\"}) { created } }",
            json!({}),
        )
        .await;
    assert_eq!(refused.code(), "FORBIDDEN");
    let no_read = app.partner_token(&a, "points:issue");
    let refused = app
        .gql(
            &no_read,
            "query($id: ID!) { member(ref: {memberId: $id}) { id } }",
            json!({"id": member_a}),
        )
        .await;
    assert_eq!(refused.code(), "FORBIDDEN");

    // A sees its member by id, number and its own customer id.
    for reference in [
        json!({"memberId": member_a}),
        json!({"memberNumber": number_a}),
        json!({"partnerCustomerId": "A-1"}),
    ] {
        let seen = app
            .gql(
                &token_a,
                "query($r: MemberRefInput!) { member(ref: $r) { id partnerCustomerId } }",
                json!({"r": reference}),
            )
            .await;
        assert_eq!(seen.data()["member"]["id"], member_a.as_str());
        assert_eq!(seen.data()["member"]["partnerCustomerId"], "A-1");
    }
    // B cannot read A's member by any reference.
    for reference in [
        json!({"memberId": member_a}),
        json!({"memberNumber": number_a}),
        json!({"partnerCustomerId": "A-1"}),
    ] {
        let hidden = app
            .gql(
                &token_b,
                "query($r: MemberRefInput!) { member(ref: $r) { id } }",
                json!({"r": reference}),
            )
            .await;
        assert_eq!(hidden.code(), "NOT_FOUND", "{}", hidden.body);
        assert!(hidden.has_no_data());
    }
    // B cannot act as A by passing A's id.
    let as_a = app
        .gql(
            &token_b,
            "mutation($p: ID!) { enrollMember(input: {partnerId: $p, partnerCustomerId: \"X\"}) { created } }",
            json!({"p": a}),
        )
        .await;
    assert_eq!(as_a.code(), "FORBIDDEN");
    let link_as_a = app
        .gql(
            &token_b,
            "mutation($p: ID!, $m: ID!) { linkMember(input: {partnerId: $p, member: {memberId: $m}, partnerCustomerId: \"X\"}) { id } }",
            json!({"p": a, "m": member_a}),
        )
        .await;
    assert_eq!(link_as_a.code(), "FORBIDDEN");
    // B sees A only in the public directory: never A's credentials.
    let creds = app
        .gql(
            &token_b,
            "query($id: ID!) { partner(id: $id) { name credentials { clientId } } }",
            json!({"id": a}),
        )
        .await;
    assert_eq!(creds.code(), "FORBIDDEN");
    // Operator-only mutations are refused to partners.
    let create = app
        .gql(&token_a, "mutation { createPartner(input: {name: \"X\", slug: \"x\", category: OTHER, earnRate: \"1\"}) { id } }", json!({}))
        .await;
    assert_eq!(create.code(), "FORBIDDEN");
    assert_eq!(
        app.sql_count("SELECT count(*) FROM partners WHERE NOT is_coalition")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_sees_only_itself() {
    let app = TestApp::new().await;
    let a = app.create_partner("shop").await;
    let token_a = app.partner_token(&a, ALL_SCOPES);
    let (me, my_number) = app.enroll(&token_a, "C-1").await;
    let (other, other_number) = app.enroll(&token_a, "C-2").await;
    let mine = app.member_token(&me);

    let viewer = app
        .gql(
            &mine,
            "{ viewer { role member { id memberNumber } } }",
            json!({}),
        )
        .await;
    assert_eq!(viewer.data()["viewer"]["role"], "MEMBER");
    assert_eq!(
        viewer.data()["viewer"]["member"]["memberNumber"],
        my_number.as_str()
    );
    let own = app
        .gql(
            &mine,
            "query($id: ID!) { member(ref: {memberId: $id}) { id } }",
            json!({"id": me}),
        )
        .await;
    assert_eq!(own.data()["member"]["id"], me.as_str());
    for reference in [
        json!({"memberId": other}),
        json!({"memberNumber": other_number}),
    ] {
        let theirs = app
            .gql(
                &mine,
                "query($r: MemberRefInput!) { member(ref: $r) { id } }",
                json!({"r": reference}),
            )
            .await;
        assert_eq!(theirs.code(), "NOT_FOUND");
        assert!(theirs.has_no_data());
    }
    let enrol = app
        .gql(
            &mine,
            "mutation { enrollMember(input: {partnerCustomerId: \"Z\"}) { created } }",
            json!({}),
        )
        .await;
    assert_eq!(enrol.code(), "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_partners_token_stops_working_at_once() {
    let app = TestApp::new().await;
    let a = app.create_partner("suspendable").await;
    let token = app.partner_token(&a, ALL_SCOPES);
    assert_eq!(
        app.gql(&token, VIEWER, json!({})).await.data()["viewer"]["role"],
        "PARTNER"
    );

    let suspend = "mutation($id: ID!, $s: PartnerStatus!) { updatePartner(id: $id, input: {status: $s}) { status } }";
    let op = app.operator_token();
    let done = app
        .gql(&op, suspend, json!({"id": a, "s": "SUSPENDED"}))
        .await;
    assert_eq!(done.data()["updatePartner"]["status"], "SUSPENDED");

    let refused = app.gql(&token, VIEWER, json!({})).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.code(), "PARTNER_SUSPENDED");
    assert!(refused.body.get("data").is_none());
    // Suspended partners leave the directory that others see, but the operator still sees them.
    let other = app.create_partner("other").await;
    let other_token = app.partner_token(&other, ALL_SCOPES);
    let listed = app
        .gql(&other_token, "{ partners { nodes { slug } } }", json!({}))
        .await;
    assert_eq!(
        listed.data()["partners"]["nodes"],
        json!([{"slug": "other"}])
    );
    let all = app
        .gql(&op, "{ partners { nodes { slug status } } }", json!({}))
        .await;
    assert_eq!(all.data()["partners"]["nodes"].as_array().unwrap().len(), 2);

    app.gql(&op, suspend, json!({"id": a, "s": "ACTIVE"}))
        .await
        .data();
    assert_eq!(
        app.gql(&token, VIEWER, json!({})).await.data()["viewer"]["role"],
        "PARTNER"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_mint_member_tokens_only_for_their_members() {
    let app = TestApp::new().await;
    let a = app.create_partner("app-a").await;
    let b = app.create_partner("app-b").await;
    let token_a = app.partner_token(&a, ALL_SCOPES);
    let (member, _) = app.enroll(&token_a, "M-1").await;
    let mint = "mutation($r: MemberRefInput!) { issueMemberToken(input: {member: $r, ttlSeconds: 120}) { token expiresAt member { id } } }";

    let minted = app
        .gql(&token_a, mint, json!({"r": {"partnerCustomerId": "M-1"}}))
        .await;
    let member_token = minted.data()["issueMemberToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let viewer = app
        .gql(
            &member_token,
            "{ viewer { role member { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(viewer.data()["viewer"]["member"]["id"], member.as_str());

    let without_scope = app.partner_token(&a, "points:issue members:read");
    assert_eq!(
        app.gql(&without_scope, mint, json!({"r": {"memberId": member}}))
            .await
            .code(),
        "FORBIDDEN"
    );
    let token_b = app.partner_token(&b, ALL_SCOPES);
    assert_eq!(
        app.gql(&token_b, mint, json!({"r": {"memberId": member}}))
            .await
            .code(),
        "NOT_FOUND"
    );
    let too_long = "mutation($r: MemberRefInput!) { issueMemberToken(input: {member: $r, ttlSeconds: 86400}) { token } }";
    assert_eq!(
        app.gql(&token_a, too_long, json!({"r": {"memberId": member}}))
            .await
            .code(),
        "BAD_USER_INPUT"
    );
}

/// Two hub processes on one database whose partner caches would keep a row for 10 minutes:
/// only the change announcement (NOTIFY) can make one see another's change in time.
async fn two_hubs_with_a_long_partner_cache() -> (TestApp, TestApp) {
    let long =
        |c: &mut coalition_hub::Config| c.partner_cache_ttl = std::time::Duration::from_secs(600);
    let hub1 = TestApp::builder().await.config(long).spawn().await;
    let hub2 = TestApp::builder_on(hub1.state.config.database_url.clone())
        .config(long)
        .spawn()
        .await;
    (hub1, hub2)
}

/// Two hub processes on one database: suspending a partner on one stops its token on the
/// other too. The cache lifetime is set far longer than the wait, so only the change
/// announcement (NOTIFY) can explain the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_reaches_every_hub_process() {
    let (hub1, hub2) = two_hubs_with_a_long_partner_cache().await;
    let partner = hub1.create_partner("everywhere").await;
    let token = hub1.partner_token(&partner, ALL_SCOPES);
    // hub2 has now cached the partner as active.
    assert_eq!(
        hub2.gql(&token, VIEWER, json!({})).await.data()["viewer"]["role"],
        "PARTNER"
    );
    // Give hub2's listener a moment to be connected before the change is announced.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    hub1.gql(
        &hub1.operator_token(),
        "mutation($id: ID!) { updatePartner(id: $id, input: {status: SUSPENDED}) { status } }",
        json!({"id": partner}),
    )
    .await
    .data();
    let mut refused = None;
    for _ in 0..100 {
        let response = hub2.gql(&token, VIEWER, json!({})).await;
        if response.body.get("errors").is_some() {
            refused = Some(response.code().to_owned());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(refused.as_deref(), Some("PARTNER_SUSPENDED"));
}

/// Partner names on pages of entries come from each process's partner cache: a rename on
/// one hub shows on the other at once (the NOTIFY, not the cache lifetime, which is long).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_partner_shows_its_new_name_on_every_hub_process() {
    let (hub1, hub2) = two_hubs_with_a_long_partner_cache().await;
    let partner = hub1.create_partner("renamed").await;
    let token = hub1.partner_token(&partner, ALL_SCOPES);
    hub1.enroll(&token, "c-1").await;
    hub1.gql(
        &token,
        "mutation($input: IssuePointsInput!) { issuePoints(input: $input) { entryId } }",
        json!({"input": {"member": {"partnerCustomerId": "c-1"}, "points": 5, "idempotencyKey": "k"}}),
    )
    .await
    .data();
    let names = "{ ledgerEntries(first: 5) { nodes { partner { name } } } }";
    let operator = hub2.operator_token();
    let name_on_hub2 = async || {
        hub2.gql(&operator, names, json!({})).await.data()["ledgerEntries"]["nodes"][0]["partner"]
            ["name"]
            .clone()
    };
    let old_name = name_on_hub2().await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    hub1.gql(
        &hub1.operator_token(),
        "mutation($id: ID!) { updatePartner(id: $id, input: {name: \"Renamed Ltd\"}) { name } }",
        json!({"id": partner}),
    )
    .await
    .data();
    let mut seen = old_name.clone();
    for _ in 0..100 {
        seen = name_on_hub2().await;
        if seen != old_name {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen, "Renamed Ltd");
}

/// Verified tokens are cached (a signature check per token, not per request): the cache
/// must still honour `exp`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_accepted_before_is_refused_once_expired() {
    let app = TestApp::builder()
        .await
        .config(|c| c.jwt.leeway = std::time::Duration::ZERO)
        .spawn()
        .await;
    let mut c = claims(&app);
    let exp = Utc::now().timestamp() + 2;
    c["exp"] = json!(exp);
    let token = sign(Algorithm::EdDSA, "test-ed", &c, &ed_key("ed25519.pem"));
    for _ in 0..3 {
        assert_eq!(
            send(&app, Some(&token)).await.data()["viewer"]["role"],
            "OPERATOR"
        );
    }
    while Utc::now().timestamp() <= exp {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let expired = send(&app, Some(&token)).await;
    assert_eq!(expired.code(), "UNAUTHENTICATED");
    assert_eq!(expired.status, 401);
}
