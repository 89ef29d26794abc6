//! Who calls: a bearer token's principal (API clients) or a page's session cookie (people
//! on the hub's pages), and whether that caller's partner is active.

use axum::http::{HeaderMap, HeaderValue, header};

use super::{HttpState, sessions};
use crate::{auth::Principal, error::AppError};

/// The caller of a request that changes nothing (a query, a download).
pub(crate) async fn authenticate(
    http: &HttpState,
    headers: &HeaderMap,
) -> Result<Principal, AppError> {
    authenticate_caller(http, headers, false)
        .await
        .map(|caller| caller.principal)
}

/// Who calls: a bearer token's principal, or a page's session (cookie). A session's state
/// change (`changes`) must carry its CSRF token.
pub(crate) struct Caller {
    pub principal: Principal,
    /// A staff member's session: queries only.
    pub read_only: bool,
}

pub(crate) async fn authenticate_caller(
    http: &HttpState,
    headers: &HeaderMap,
    changes: bool,
) -> Result<Caller, AppError> {
    let principal = match headers.get(header::AUTHORIZATION) {
        Some(value) => bearer(http, value)?,
        None => match sessions::from_cookie(http, headers, changes).await? {
            Some(session) => {
                return active(http, session.principal.clone())
                    .await
                    .map(|principal| Caller {
                        principal,
                        read_only: session.read_only,
                    });
            }
            None => return Err(AppError::Unauthenticated("no bearer token")),
        },
    };
    Ok(Caller {
        principal: active(http, principal).await?,
        read_only: false,
    })
}

fn bearer(http: &HttpState, value: &HeaderValue) -> Result<Principal, AppError> {
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(AppError::Unauthenticated("malformed Authorization header"))?;
    http.app.keys.verify(token)
}

/// Checked on every request, so a suspension takes effect at once.
async fn active(http: &HttpState, principal: Principal) -> Result<Principal, AppError> {
    if let Principal::Partner { partner_id, .. } = &principal {
        http.app
            .partners
            .require_active(&http.app.db, *partner_id)
            .await?;
    }
    Ok(principal)
}
