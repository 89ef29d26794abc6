//! Sign-in for the pages: `POST /login` (portal users), `POST /app/session` (a member's
//! wallet link), `GET /session` (who is signed in, and the page's CSRF token) and
//! `POST /logout`. The session travels in an `HttpOnly`, `SameSite=Strict` cookie
//! (`Secure` outside loopback); every state change sent with it must carry the session's
//! CSRF token in `x-csrf-token` and, when the browser names one, this hub as its `Origin`.

use std::net::SocketAddr;

use axum::{
    Json,
    extract::{ConnectInfo, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{HttpState, refusals::refuse_for};
use crate::{
    auth::Principal,
    error::{AppError, AppResult},
    services::portal::{self, LiveSession, OpenedSession, SignInRefused},
};

pub(crate) const COOKIE: &str = "hub_session";

/// The session cookie's token, if the request carries one.
fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// A browser's `Origin`, when it sends one, must be this hub (the `Host` it asked).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    host.is_some() && origin_host == host
}

/// Compares without an early exit, so the time taken tells nothing of the token.
fn same_token(sent: &[u8], kept: &[u8]) -> bool {
    sent.len() == kept.len() && sent.iter().zip(kept).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
}

/// The request's session, if its cookie holds a live one. A state change (`changes` true)
/// also needs the CSRF token and a same-origin `Origin`; without them it is refused.
pub(crate) async fn from_cookie(
    http: &HttpState,
    headers: &HeaderMap,
    changes: bool,
) -> AppResult<Option<LiveSession>> {
    let Some(token) = cookie_token(headers) else {
        return Ok(None);
    };
    let session = portal::live(&http.app.db, &http.app.config.sessions, token)
        .await?
        .ok_or(AppError::Unauthenticated(
            "the session has ended: sign in again",
        ))?;
    if changes {
        let sent = headers
            .get("x-csrf-token")
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if !same_origin(headers) || !same_token(sent, session.csrf_token.as_bytes()) {
            tracing::warn!("a state change with a session cookie came without its CSRF token");
            return Err(AppError::forbidden(
                "this request did not come from the hub's own pages",
            ));
        }
    }
    Ok(Some(session))
}

/// A page's websocket: its upgrade request carried the cookie, its `connection_init` the
/// CSRF token.
pub(crate) async fn for_websocket(
    http: &HttpState,
    upgrade_headers: &HeaderMap,
    csrf: &str,
) -> AppResult<LiveSession> {
    let mut headers = upgrade_headers.clone();
    let csrf =
        HeaderValue::from_str(csrf).map_err(|_| AppError::forbidden("malformed CSRF token"))?;
    headers.insert("x-csrf-token", csrf);
    from_cookie(http, &headers, true)
        .await?
        .ok_or(AppError::Unauthenticated("not signed in"))
}

fn set_cookie(http: &HttpState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if http.app.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let cookie =
        format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// What a page learns of its session (never the cookie's token).
fn describe(session: &LiveSession) -> serde_json::Value {
    let (kind, partner_id, member_id) = match &session.principal {
        Principal::Operator { .. } => ("operator", None, None),
        Principal::Partner { partner_id, .. } => ("partner", Some(partner_id.to_string()), None),
        Principal::Member { member_id } => ("member", None, Some(member_id.to_string())),
    };
    json!({
        "kind": kind,
        "email": session.user.as_ref().map(|u| u.email.clone()),
        "role": session.user.as_ref().map(|u| u.role.clone()),
        "partnerId": partner_id,
        "memberId": member_id,
        "readOnly": session.read_only,
        "csrfToken": session.csrf_token,
        "expiresAt": session.expires_at,
        "home": match kind { "operator" => "/console", "partner" => "/portal", _ => "/app" },
    })
}

fn opened(http: &HttpState, opened: OpenedSession, home: &str) -> Response {
    let max_age = (opened.expires_at - chrono::Utc::now())
        .num_seconds()
        .max(0);
    let mut response = Json(json!({
        "csrfToken": opened.csrf_token,
        "expiresAt": opened.expires_at,
        "home": home,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(http, &opened.token, max_age));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// JSON bodies only: a form on another site cannot send one without the browser asking.
fn json_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> AppResult<T> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json || !same_origin(headers) {
        return Err(AppError::bad_input("send JSON from the hub's own pages"));
    }
    serde_json::from_slice(body)
        .map_err(|_| AppError::bad_input("the body is not the expected JSON"))
}

#[derive(Deserialize)]
struct SignIn {
    email: String,
    password: String,
}

/// 429 `RATE_LIMITED` with `Retry-After`, in the GraphQL error shape.
fn too_many(wait_secs: i64, message: String) -> Response {
    let body =
        json!({ "errors": [{ "message": message, "extensions": { "code": "RATE_LIMITED" } }] });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait_secs.max(1)));
    response
}

pub(crate) async fn login(
    State(http): State<HttpState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let input: SignIn = match json_body(&headers, &body) {
        Ok(input) => input,
        Err(e) => return refuse_for(e),
    };
    if input.password.len() > 1024 || input.email.len() > 254 {
        return refuse_for(AppError::Unauthenticated("wrong email or password"));
    }
    // The budgets of /oauth/token: attempts per email and per address, and a bounded number
    // of Argon2id verifications at once.
    let key = format!("login:{}", input.email.trim().to_lowercase());
    let _slot = match http.oauth.slot(&key, address).await {
        Ok(slot) => slot,
        Err(wait) => {
            let secs = wait.as_secs() as i64;
            return too_many(
                secs,
                format!("too many sign-in attempts: try again in {secs} s"),
            );
        }
    };
    let sessions = &http.app.config.sessions;
    match portal::sign_in(&http.app.db, sessions, &input.email, &input.password).await {
        Ok((session, user)) => {
            tracing::info!(user = %user.id, "portal user signed in");
            let home = if user.partner_id.is_some() {
                "/portal"
            } else {
                "/console"
            };
            opened(&http, session, home)
        }
        Err(SignInRefused::WrongCredentials) => {
            refuse_for(AppError::Unauthenticated("wrong email or password"))
        }
        Err(SignInRefused::Locked { until }) => {
            let wait = (until - chrono::Utc::now()).num_seconds().max(1);
            let minutes = (wait + 59) / 60;
            too_many(
                wait,
                format!(
                    "too many wrong passwords: this account is locked for {minutes} more minutes"
                ),
            )
        }
        Err(SignInRefused::PartnerSuspended) => refuse_for(AppError::PartnerSuspended),
        Err(SignInRefused::Failed(e)) => refuse_for(e),
    }
}

#[derive(Deserialize)]
struct WalletLink {
    token: String,
}

/// The wallet page sends the member token of its link's fragment here once, and forgets it.
pub(crate) async fn member(
    State(http): State<HttpState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let input: WalletLink = match json_body(&headers, &body) {
        Ok(input) => input,
        Err(e) => return refuse_for(e),
    };
    let keys = &http.app.keys;
    match portal::open_for_member(&http.app.db, keys, &http.app.config.sessions, &input.token).await
    {
        Ok(session) => opened(&http, session, "/app"),
        Err(e) => refuse_for(e),
    }
}

pub(crate) async fn current(State(http): State<HttpState>, headers: HeaderMap) -> Response {
    match from_cookie(&http, &headers, false).await {
        Ok(Some(session)) => {
            let mut response = Json(describe(&session)).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(None) => refuse_for(AppError::Unauthenticated("not signed in")),
        Err(e) => refuse_for(e),
    }
}

pub(crate) async fn logout(State(http): State<HttpState>, headers: HeaderMap) -> Response {
    if let Err(e) = from_cookie(&http, &headers, true).await {
        return refuse_for(e);
    }
    if let Some(token) = cookie_token(&headers)
        && let Err(e) = portal::close(&http.app.db, token).await
    {
        return refuse_for(e);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&http, "", 0));
    response
}
