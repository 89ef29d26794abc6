//! `POST /oauth/token`: OAuth2 client credentials (RFC 6749 section 4.4), form-encoded,
//! client authentication in the body or by HTTP Basic.

use axum::{
    Form, Json,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::Deserialize;
use serde_json::json;

use super::HttpState;
use crate::services::credentials::{ExchangeError, exchange};

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
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send grant_type, client_id and client_secret as application/x-www-form-urlencoded",
        );
    };
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    let (client_id, client_secret) = match (
        basic_credentials(&headers),
        form.client_id,
        form.client_secret,
    ) {
        (Some(basic), None, None) => basic,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "give the client credentials once: in the body or by HTTP Basic",
            );
        }
    };
    if client_id.len() > 128 || client_secret.len() > 256 {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    let ttl = http.app.config.jwt.partner_token_ttl;
    let result = exchange(
        &http.app.db,
        &http.app.keys,
        ttl,
        &client_id,
        &client_secret,
        form.scope.as_deref().filter(|s| !s.trim().is_empty()),
    )
    .await;
    match result {
        Ok((minted, scopes)) => {
            tracing::info!(%client_id, "partner token issued");
            let mut response = Json(json!({
                "access_token": minted.token,
                "token_type": "Bearer",
                "expires_in": ttl.as_secs(),
                "scope": scopes.to_string(),
            }))
            .into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(ExchangeError::InvalidClient) => {
            tracing::info!(%client_id, "client authentication failed");
            oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client or wrong secret",
            )
        }
        Err(ExchangeError::PartnerSuspended) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the partner is suspended",
        ),
        Err(ExchangeError::InvalidScope(why)) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &why)
        }
        Err(ExchangeError::Internal) => oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try again later",
        ),
    }
}
