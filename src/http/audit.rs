//! `GET /audit/csv`: the audit trail as CSV, newest first: everything for the operator, a
//! partner's own business for a partner. Query parameters: `from`, `to` (RFC 3339),
//! `action`, and for the operator `partnerId`.

use axum::{
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{HttpState, callers::authenticate, refusals::refuse_for};
use crate::{db::models::audit::AuditFilter, error::AppError, services::audit};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CsvParams {
    partner_id: Option<String>,
    action: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

pub(crate) async fn csv(
    State(http): State<HttpState>,
    headers: HeaderMap,
    params: Result<Query<CsvParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let principal = match authenticate(&http, &headers).await {
        Ok(principal) => principal,
        Err(error) => return refuse_for(error),
    };
    let Ok(Query(params)) = params else {
        return refuse_for(AppError::bad_input(
            "query parameters: partnerId (an id), action, from and to (RFC 3339 times)",
        ));
    };
    let partner_id = match params.partner_id.map(|p| p.parse()).transpose() {
        Ok(partner_id) => partner_id,
        Err(_) => return refuse_for(AppError::bad_input("partnerId must be an id")),
    };
    let filter = AuditFilter {
        partner_id,
        action: params.action,
        from: params.from,
        to: params.to,
    };
    match audit::csv(&http.app.db, &principal, filter).await {
        Ok(text) => {
            let mut response = text.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            headers.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"audit.csv\""),
            );
            response
        }
        Err(error) => refuse_for(error),
    }
}
