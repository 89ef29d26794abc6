//! `/boards/public`: a read-only ambassador board for a screen in a shop, open to anyone
//! (handles and scores only), which updates itself every few seconds from
//! `/boards/public/data`. `?partner=<slug>` shows a partner's board instead of the
//! coalition's, `?period=week|month|all-time` (week by default), `?first=1-100` (10).

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderValue, header},
    response::{Html, IntoResponse, Response},
};
use serde_json::json;

use super::{HttpState, page_headers, refusals::refuse_for};
use crate::{
    domain::leaderboard::Period,
    error::{AppError, AppResult},
    services::leaderboards,
};

#[derive(serde::Deserialize)]
pub(crate) struct BoardQuery {
    partner: Option<String>,
    period: Option<String>,
    first: Option<i64>,
}

/// Its script and data from the hub only; its one stylesheet is inline. A shop's signage
/// may frame it.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; \
    connect-src 'self'; base-uri 'none'; form-action 'none'";

pub(crate) async fn page() -> Response {
    let html = Html(include_str!("../../web/boards/public.html"));
    (page_headers(POLICY), html).into_response()
}

pub(crate) async fn script() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        include_str!("../../web/boards/public.js"),
    )
        .into_response()
}

pub(crate) async fn data(
    State(http): State<HttpState>,
    Query(query): Query<BoardQuery>,
) -> Response {
    match board(&http, query).await {
        Ok(body) => {
            let mut response = Json(body).into_response();
            // Many screens may show one board: a few seconds of caching is fresh enough.
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3"),
            );
            response
        }
        Err(error) => refuse_for(error),
    }
}

async fn board(http: &HttpState, query: BoardQuery) -> AppResult<serde_json::Value> {
    let period = match query.period.as_deref().unwrap_or("week") {
        "week" => Period::Week,
        "month" => Period::Month,
        "all-time" => Period::AllTime,
        _ => {
            return Err(AppError::bad_input(
                "period must be week, month or all-time",
            ));
        }
    };
    let slug = query.partner.as_deref().filter(|s| !s.is_empty());
    let first = query.first.unwrap_or(10);
    let page = leaderboards::public_top(&http.app.leaderboards, slug, period, first).await?;
    Ok(json!({
        "partner": slug,
        "period": query.period.as_deref().unwrap_or("week"),
        "startsOn": page.board.start,
        "totalRanked": page.total_ranked,
        "entries": page.entries.iter().map(|e| json!({
            "rank": e.rank, "handle": e.handle, "score": e.score,
        })).collect::<Vec<_>>(),
    }))
}
