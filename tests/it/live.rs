//! `balanceChanged` over the graphql-transport-ws websocket, across two hub processes that
//! share PostgreSQL and Redis.

use std::time::Duration;

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest},
};

use crate::support::{ALL_SCOPES, TestApp, fixture, fresh_database};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const SUBSCRIBE: &str = "subscription { balanceChanged { entryId balance { available held } } }";

async fn connect(app: &TestApp) -> Socket {
    let url = app.base_url.replace("http://", "ws://") + "/graphql";
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (socket, _) = connect_async(request).await.unwrap();
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next protocol message, or None when the socket closes or nothing comes in time.
pub(crate) async fn next(socket: &mut Socket, wait: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(wait, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] == "ping" || value["type"] == "pong" {
                    continue;
                }
                return Some(value);
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            _ => return None,
        }
    }
}

/// Connects with `init` as the connection_init payload; returns the socket once
/// acknowledged, or the first message that was not an acknowledgement (None: closed).
async fn init(app: &TestApp, payload: Value) -> Result<Socket, Option<Value>> {
    let mut socket = connect(app).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": payload}),
    )
    .await;
    match next(&mut socket, Duration::from_secs(5)).await {
        Some(m) if m["type"] == "connection_ack" => Ok(socket),
        other => Err(other),
    }
}

pub(crate) async fn subscribe(app: &TestApp, token: &str) -> Socket {
    let mut socket = init(app, json!({"authorization": format!("Bearer {token}")}))
        .await
        .unwrap_or_else(|m| panic!("connection refused: {m:?}"));
    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}),
    )
    .await;
    socket
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_sees_its_own_changes_from_another_process_exactly_once() {
    let database = fresh_database().await;
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let one = TestApp::builder_on(database.clone())
        .config(|c| c.redis_prefix = prefix.clone())
        .spawn()
        .await;
    let two = TestApp::builder_on(database)
        .config(|c| c.redis_prefix = prefix.clone())
        .spawn()
        .await;
    let partner = one.create_partner("live").await;
    let partner_token = two.partner_token(&partner, ALL_SCOPES);
    let (alice, _) = two.enroll(&partner_token, "alice").await;
    let (bob, _) = two.enroll(&partner_token, "bob").await;
    let earn = "mutation($c: String!, $k: String!) { issuePoints(input: {member: {partnerCustomerId: $c}, points: 500, idempotencyKey: $k}) { entryId } }";

    let mut alice_socket = subscribe(&one, &one.member_token(&alice)).await;
    let mut bob_socket = subscribe(&one, &one.member_token(&bob)).await;
    // The subscriptions register when their operation starts; give them a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Each hears of its own first earn (and only of its own).
    two.gql(&partner_token, earn, json!({"c": "alice", "k": "a-1"}))
        .await
        .data();
    assert_eq!(
        next_balance(&mut alice_socket).await["balance"]["available"],
        "500"
    );
    two.gql(&partner_token, earn, json!({"c": "bob", "k": "b-1"}))
        .await
        .data();
    assert_eq!(
        next_balance(&mut bob_socket).await["balance"]["available"],
        "500"
    );

    let redeem = two
        .gql(
            &partner_token,
            "mutation { redeemPoints(input: {member: {partnerCustomerId: \"alice\"}, points: 120, idempotencyKey: \"r-1\"}) { entryId } }",
            json!({}),
        )
        .await;
    let entry = redeem.data()["redeemPoints"]["entryId"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = std::time::Instant::now();
    let event = next(&mut alice_socket, Duration::from_secs(1))
        .await
        .expect("alice hears of the redemption within a second");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(
        event["payload"]["data"]["balanceChanged"],
        json!({"entryId": entry, "balance": {"available": "380", "held": "0"}})
    );
    // Exactly once, and nothing for bob; a replay of the same key is no new entry.
    two.gql(
        &partner_token,
        "mutation { redeemPoints(input: {member: {partnerCustomerId: \"alice\"}, points: 120, idempotencyKey: \"r-1\"}) { entryId } }",
        json!({}),
    )
    .await
    .data();
    assert_eq!(
        next(&mut alice_socket, Duration::from_millis(700)).await,
        None
    );
    assert_eq!(
        next(&mut bob_socket, Duration::from_millis(100)).await,
        None
    );

    // Bob's own change reaches bob only.
    two.gql(&partner_token, earn, json!({"c": "bob", "k": "b-2"}))
        .await
        .data();
    let event = next(&mut bob_socket, Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        event["payload"]["data"]["balanceChanged"]["balance"]["available"],
        "1000"
    );
    assert_eq!(
        next(&mut alice_socket, Duration::from_millis(300)).await,
        None
    );
    // Closing the socket unsubscribes.
    drop(alice_socket);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(one.state.live.subscriptions(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_need_a_member_token() {
    // No clock-skew leeway, so that a token expires when it says.
    let app = TestApp::builder()
        .await
        .config(|c| c.jwt.leeway = Duration::ZERO)
        .spawn()
        .await;
    let partner = app.create_partner("live-auth").await;
    let partner_token = app.partner_token(&partner, ALL_SCOPES);
    let (member, _) = app.enroll(&partner_token, "m").await;

    // No token, a bad token, an expired token: the connection is refused.
    assert!(init(&app, json!({})).await.is_err());
    assert!(
        init(&app, json!({"authorization": "Bearer not-a-jwt"}))
            .await
            .is_err()
    );
    let jwt = &app.state.config.jwt;
    let now = Utc::now().timestamp();
    let expired = encode(
        &{
            let mut h = Header::new(Algorithm::EdDSA);
            h.kid = Some("test-ed".into());
            h
        },
        &json!({"iss": jwt.issuer, "aud": jwt.audience, "sub": member, "exp": now - 600,
                "nbf": now - 900, "iat": now - 900, "jti": "x", "role": "member", "member_id": member}),
        &EncodingKey::from_ed_pem(&std::fs::read(fixture("ed25519.pem")).unwrap()).unwrap(),
    )
    .unwrap();
    assert!(
        init(&app, json!({"authorization": format!("Bearer {expired}")}))
            .await
            .is_err()
    );

    // A partner token connects but cannot subscribe to a member's balance.
    let mut socket = init(
        &app,
        json!({"authorization": format!("Bearer {partner_token}")}),
    )
    .await
    .unwrap();
    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}),
    )
    .await;
    let refused = next(&mut socket, Duration::from_secs(2)).await.unwrap();
    assert_eq!(refused["payload"]["data"], Value::Null, "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"],
        "FORBIDDEN"
    );

    // A member token that expires closes the connection when it does.
    let short = app
        .state
        .keys
        .mint(coalition_hub::auth::TokenRequest {
            principal: coalition_hub::auth::Principal::Member {
                member_id: member.parse().unwrap(),
            },
            ttl: Duration::from_secs(1),
        })
        .unwrap()
        .token;
    let mut socket = subscribe(&app, &short).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
    assert!(closed.is_ok(), "the connection outlived its token");
}

/// The next `balanceChanged` payload, within a second.
async fn next_balance(socket: &mut Socket) -> Value {
    let event = next(socket, Duration::from_secs(1))
        .await
        .expect("a balance event within a second");
    assert_eq!(event["type"], "next", "{event}");
    event["payload"]["data"]["balanceChanged"].clone()
}

/// Every way a balance changes is announced: transfers (both members), the background
/// expiry of holds and lots, and ambassador rewards (direct, and from a referral that
/// converts inside another member's earn).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_expiry_and_rewards_are_announced() {
    let app = TestApp::new().await;
    let partner = app.create_partner("live-all").await;
    let partner_token = app.partner_token(&partner, ALL_SCOPES);
    let (alice, alice_number) = app.enroll(&partner_token, "alice").await;
    let (bob, bob_number) = app.enroll(&partner_token, "bob").await;
    let earn = "mutation($c: String!, $k: String!, $x: DateTime, $r: String) { issuePoints(input: {member: {partnerCustomerId: $c}, points: 500, idempotencyKey: $k, expiresAt: $x, referralCode: $r}) { entryId } }";
    let soon = (Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    app.gql(
        &partner_token,
        earn,
        json!({"c": "alice", "k": "a-1", "x": soon}),
    )
    .await
    .data();
    let (alice_token, bob_token) = (app.member_token(&alice), app.member_token(&bob));
    let link = "mutation($n: String!) { linkFamilyMember(memberNumber: $n) { status } }";
    app.gql(&alice_token, link, json!({"n": bob_number}))
        .await
        .data();
    app.gql(&bob_token, link, json!({"n": alice_number}))
        .await
        .data();

    let mut alice_socket = subscribe(&app, &alice_token).await;
    let mut bob_socket = subscribe(&app, &bob_token).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A transfer: both members hear of it.
    let transfer = app
        .gql(
            &alice_token,
            "mutation($n: String!) { transferPoints(input: {toMemberNumber: $n, points: 100, idempotencyKey: \"t-1\"}) { receivedEntryId sent { entryId } } }",
            json!({"n": bob_number}),
        )
        .await;
    let transfer = transfer.data()["transferPoints"].clone();
    assert_eq!(
        next_balance(&mut alice_socket).await,
        json!({"entryId": transfer["sent"]["entryId"], "balance": {"available": "400", "held": "0"}})
    );
    assert_eq!(
        next_balance(&mut bob_socket).await,
        json!({"entryId": transfer["receivedEntryId"], "balance": {"available": "100", "held": "0"}})
    );

    // A hold that times out and lots that expire, released by the background job.
    app.gql(
        &partner_token,
        "mutation { authorizeRedemption(input: {member: {partnerCustomerId: \"alice\"}, points: 50, idempotencyKey: \"h-1\", expiresInSeconds: 60}) { entryId } }",
        json!({}),
    )
    .await
    .data();
    assert_eq!(
        next_balance(&mut alice_socket).await["balance"],
        json!({"available": "350", "held": "50"})
    );
    let later = Utc::now() + chrono::Duration::minutes(2);
    let run = coalition_hub::services::expiry::run(
        &app.state.db,
        Some(&app.state.ledger.publisher),
        later,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((run.holds_released, run.members_expired), (1, 2));
    assert_eq!(
        next_balance(&mut alice_socket).await["balance"],
        json!({"available": "400", "held": "0"}),
        "the hold timed out"
    );
    assert_eq!(
        next_balance(&mut alice_socket).await["balance"],
        json!({"available": "0", "held": "0"}),
        "alice's lot expired"
    );
    assert_eq!(
        next_balance(&mut bob_socket).await["balance"],
        json!({"available": "0", "held": "0"}),
        "the lot bob was given keeps its expiry"
    );

    // Ambassador rewards: recorded directly, and for a referral converting on another
    // member's first earn.
    let enrolled = app
        .gql(
            &partner_token,
            "mutation($m: ID!) { enrollAmbassador(input: {member: {memberId: $m}, handle: \"bob_live\"}) { id } }",
            json!({"m": bob}),
        )
        .await;
    let ambassador = enrolled.data()["enrollAmbassador"]["id"].clone();
    app.gql(
        &partner_token,
        "mutation($a: ID!) { recordAmbassadorActivity(input: {ambassadorId: $a, kind: REVIEW, score: 5, rewardPoints: 30, idempotencyKey: \"act-1\"}) { id } }",
        json!({"a": ambassador}),
    )
    .await
    .data();
    assert_eq!(
        next_balance(&mut bob_socket).await["balance"],
        json!({"available": "30", "held": "0"})
    );
    app.gql(
        &app.operator_token(),
        "mutation($p: ID!) { updatePartner(id: $p, input: {referralRewardPoints: 70}) { id } }",
        json!({"p": partner}),
    )
    .await
    .data();
    let code = app
        .gql(
            &partner_token,
            "mutation($a: ID!) { createReferralCode(input: {ambassadorId: $a}) { code } }",
            json!({"a": ambassador}),
        )
        .await;
    let code = code.data()["createReferralCode"]["code"].clone();
    app.gql(
        &partner_token,
        earn,
        json!({"c": "carol", "k": "c-1", "r": code}),
    )
    .await
    .data();
    assert_eq!(
        next_balance(&mut bob_socket).await["balance"],
        json!({"available": "100", "held": "0"}),
        "the referral reward"
    );
    assert_eq!(
        next(&mut alice_socket, Duration::from_millis(300)).await,
        None
    );
}

/// The websocket passes no operation around the HTTP gate: queries, mutations and
/// introspection are refused there; a suspended partner cannot connect; a socket that never
/// sends `connection_init` is closed; a connection holds at most 16 subscriptions and a
/// principal at most 8 connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_serves_subscriptions_only_within_bounds() {
    let app = TestApp::new().await;
    let operator = app.operator_token();
    let partner = app.create_partner("ws-gate").await;
    let partner_token = app.partner_token(&partner, ALL_SCOPES);
    let (member, _) = app.enroll(&partner_token, "m").await;
    let member_token = app.member_token(&member);
    let bearer = |token: &str| json!({"authorization": format!("Bearer {token}")});

    // Queries, mutations and introspection: over HTTP only, even for the operator.
    let mut socket = init(&app, bearer(&operator)).await.unwrap();
    for (id, query) in [
        ("q", "{ viewer { role } }"),
        ("i", "{ __schema { types { name } } }"),
        (
            "m",
            "mutation { createPartner(input: {name: \"W\", slug: \"w\", category: OTHER, earnRate: \"1\"}) { id } }",
        ),
    ] {
        send(
            &mut socket,
            json!({"id": id, "type": "subscribe", "payload": {"query": query}}),
        )
        .await;
        let answer = next(&mut socket, Duration::from_secs(2)).await.unwrap();
        // Then the operation's `complete`, before the next one is sent.
        let complete = next(&mut socket, Duration::from_secs(2)).await.unwrap();
        assert_eq!(complete, json!({"id": id, "type": "complete"}));
        assert_eq!(
            answer["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{answer}"
        );
        assert_eq!(answer["payload"]["data"], Value::Null, "{answer}");
    }
    assert_eq!(
        app.sql_count("SELECT count(*) FROM partners WHERE slug = 'w'")
            .await,
        0
    );

    // A suspended partner cannot open a connection.
    app.gql(
        &operator,
        "mutation($id: ID!) { updatePartner(id: $id, input: {status: SUSPENDED}) { status } }",
        json!({"id": partner}),
    )
    .await
    .data();
    assert!(init(&app, bearer(&partner_token)).await.is_err());

    // No connection_init: closed after a few seconds.
    let mut silent = connect(&app).await;
    let closed = tokio::time::timeout(Duration::from_secs(8), async {
        while let Some(Ok(_)) = silent.next().await {}
    })
    .await;
    assert!(
        closed.is_ok(),
        "a socket without connection_init stayed open"
    );

    // Sixteen subscriptions on one connection; the seventeenth is refused.
    let mut socket = init(&app, bearer(&member_token)).await.unwrap();
    for id in 0..17 {
        send(
            &mut socket,
            json!({"id": id.to_string(), "type": "subscribe", "payload": {"query": SUBSCRIBE}}),
        )
        .await;
    }
    let refused = next(&mut socket, Duration::from_secs(2)).await.unwrap();
    assert_eq!(refused["id"], "16", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"],
        "RATE_LIMITED"
    );

    // Eight connections per principal (this one holds one already); the ninth is refused.
    let mut held = Vec::new();
    for _ in 0..7 {
        held.push(init(&app, bearer(&member_token)).await.unwrap());
    }
    assert!(init(&app, bearer(&member_token)).await.is_err());
    drop(held);
}
