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

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

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
async fn next(socket: &mut Socket, wait: Duration) -> Option<Value> {
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

async fn subscribe(app: &TestApp, token: &str) -> Socket {
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
    two.gql(&partner_token, earn, json!({"c": "alice", "k": "a-1"}))
        .await
        .data();
    two.gql(&partner_token, earn, json!({"c": "bob", "k": "b-1"}))
        .await
        .data();

    let mut alice_socket = subscribe(&one, &one.member_token(&alice)).await;
    let mut bob_socket = subscribe(&one, &one.member_token(&bob)).await;
    // The subscriptions register when their operation starts; give them a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;

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
