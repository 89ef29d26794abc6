//! `GET /settlement/statements/{id}/csv`: a closed statement as CSV, for the operator in
//! full and for a partner (`settlement:read`) restricted to its own lines.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};

use super::{HttpState, callers::authenticate, refusals::refuse_for};
use crate::{error::AppError, services::settlement};

pub(crate) async fn csv(
    State(http): State<HttpState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let principal = match authenticate(&http, &headers).await {
        Ok(principal) => principal,
        Err(error) => return refuse_for(error),
    };
    let Ok(id) = id.parse() else {
        return refuse_for(AppError::NotFound("settlement statement"));
    };
    match settlement::statement(&http.app.settlement, &principal, id).await {
        Ok(view) => {
            let mut response = view.statement.to_csv().into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Ok(value) =
                HeaderValue::from_str(&format!("attachment; filename=\"statement-{id}.csv\""))
            {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(error) => refuse_for(error),
    }
}
