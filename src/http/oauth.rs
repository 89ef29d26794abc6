//! `POST /oauth/token`: OAuth2 client credentials (RFC 6749 section 4.4), form-encoded,
//! client authentication in the body or by HTTP Basic.

use std::{net::SocketAddr, time::Duration};

use axum::{
    Form, Json,
    extract::{ConnectInfo, State, rejection::FormRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::Deserialize;
use serde_json::json;

use super::{HttpState, attempts::Attempts};
use crate::{
    config::OAuthLimits,
    services::credentials::{ExchangeError, exchange},
};

/// What keeps `/oauth/token` and `/login` slow for guessers and bounded in memory: attempts
/// per client id (or email) and per source address, and Argon2id verifications at once.
pub(crate) struct Guards {
    per_client: Attempts,
    per_address: Attempts,
    verifications: tokio::sync::Semaphore,
}

/// How long an attempt may wait for a verification slot before it is turned away.
const VERIFICATION_WAIT: Duration = Duration::from_secs(2);

impl Guards {
    pub(crate) fn new(limits: &OAuthLimits) -> Guards {
        Guards {
            per_client: Attempts::new(limits.per_client_per_minute),
            per_address: Attempts::new(limits.per_address_per_minute),
            verifications: tokio::sync::Semaphore::new(limits.concurrent_verifications.max(1)),
        }
    }

    /// An attempt of `key` (a client id, or a sign-in's email) from `address`, within both
    /// budgets, holding one of the verification slots; or how long to wait.
    pub(crate) async fn slot(
        &self,
        key: &str,
        address: SocketAddr,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, Duration> {
        self.per_address.attempt(&address.ip().to_string())?;
        self.per_client.attempt(key)?;
        match tokio::time::timeout(VERIFICATION_WAIT, self.verifications.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Duration::from_secs(1)),
        }
    }
}

/// HTTP 429 with `Retry-After`, and the hub's code beside OAuth's error fields.
fn rate_limited(wait: Duration) -> Response {
    let seconds = wait.as_secs().max(1);
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({
            "error": "rate_limited",
            "error_description": format!("too many attempts; try again in {seconds} s"),
            "extensions": { "code": "RATE_LIMITED" },
        })),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"coalition-hub\""),
        );
    }
    response
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

pub(crate) async fn token(
    State(http): State<HttpState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let (client_id, client_secret, scope) = match token_request(&headers, form) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    let _slot = match http.oauth.slot(&client_id, address).await {
        Ok(slot) => slot,
        Err(wait) => {
            tracing::info!(%client_id, %address, "token request refused: too many attempts");
            return rate_limited(wait);
        }
    };
    let ttl = http.app.config.jwt.partner_token_ttl;
    let scope = scope.as_deref().filter(|s| !s.trim().is_empty());
    let result = exchange(
        &http.app.db,
        &http.app.keys,
        ttl,
        &client_id,
        &client_secret,
        scope,
    )
    .await;
    match result {
        Ok((minted, scopes)) => {
            tracing::info!(%client_id, "partner token issued");
            let body = json!({
                "access_token": minted.token,
                "token_type": "Bearer",
                "expires_in": ttl.as_secs(),
                "scope": scopes.to_string(),
            });
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(refused) => {
            if matches!(refused, ExchangeError::InvalidClient) {
                tracing::info!(%client_id, "client authentication failed");
            }
            exchange_refusal(refused)
        }
    }
}

/// The client id, secret and scope a token request carries, or the OAuth error to answer.
/// Overlong credentials are an unknown client: nothing is looked up for them.
fn token_request(
    headers: &HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<(String, String, Option<String>), Box<Response>> {
    let Ok(Form(form)) = form else {
        return Err(Box::new(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send grant_type, client_id and client_secret as application/x-www-form-urlencoded",
        )));
    };
    if form.grant_type.as_deref() != Some("client_credentials") {
        return Err(Box::new(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        )));
    }
    let (client_id, client_secret) = match (
        basic_credentials(headers),
        form.client_id,
        form.client_secret,
    ) {
        (Some(basic), None, None) => basic,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            return Err(Box::new(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "give the client credentials once: in the body or by HTTP Basic",
            )));
        }
    };
    if client_id.len() > 128 || client_secret.len() > 256 {
        return Err(Box::new(unknown_client()));
    }
    Ok((client_id, client_secret, form.scope))
}

fn unknown_client() -> Response {
    oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "unknown client or wrong secret",
    )
}

/// The OAuth error for a refused exchange (RFC 6749 section 5.2).
fn exchange_refusal(refused: ExchangeError) -> Response {
    match refused {
        ExchangeError::InvalidClient => unknown_client(),
        ExchangeError::PartnerSuspended => oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the partner is suspended",
        ),
        ExchangeError::InvalidScope(why) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &why)
        }
        ExchangeError::Internal => oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try again later",
        ),
    }
}
