//! Requests refused before any GraphQL runs, answered in the GraphQL error shape
//! (`{"errors": [...]}` with `extensions.code`) and the HTTP status that fits the code.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::error::AppError;

/// A response with errors only (no `data`), for requests refused before execution.
pub(super) fn refuse(status: StatusCode, error: AppError) -> Response {
    let body = json!({ "errors": [error.to_server_error()] });
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

pub(crate) fn refuse_for(error: AppError) -> Response {
    let status = match &error {
        AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        AppError::PartnerSuspended | AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::LeaderboardUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(source) => {
            tracing::error!(error = ?source, "request failed before execution");
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::BAD_REQUEST,
    };
    refuse(status, error)
}
