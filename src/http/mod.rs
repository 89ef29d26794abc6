//! HTTP: the router, the hardened `/graphql` handler, OAuth2 token endpoint, JWKS, health
//! and metrics.

pub(crate) mod attempts;
pub(crate) mod audit;
pub(crate) mod boards;
pub(crate) mod callers;
pub(crate) mod documents;
pub(crate) mod graphiql;
pub(crate) mod graphql;
pub(crate) mod metrics;
pub(crate) mod oauth;
pub(crate) mod pages;
pub(crate) mod refusals;
pub(crate) mod sessions;
pub(crate) mod settlement;

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;
use tracing::Instrument;

use crate::{app::AppState, db, graphql::HubSchema};

/// What the handlers share, behind one `Arc`: axum clones the state for every request.
#[derive(Clone)]
pub(crate) struct HttpState(Arc<Shared>);

pub(crate) struct Shared {
    pub app: AppState,
    pub schema: HubSchema,
    pub websocket_schema: HubSchema,
    pub metrics: Arc<metrics::Metrics>,
    pub documents: Arc<documents::DocumentCache>,
    pub oauth: oauth::Guards,
    /// Open websockets by principal (`graphql::admit`).
    pub websockets: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

impl std::ops::Deref for HttpState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub(crate) fn router(app: AppState) -> Router {
    let graphiql = app.config.graphiql;
    let oauth = oauth::Guards::new(&app.config.oauth);
    let state = HttpState(Arc::new(Shared {
        oauth,
        websockets: Arc::default(),
        schema: crate::graphql::schema(app.clone()),
        websocket_schema: crate::graphql::websocket_schema(app.clone()),
        app,
        metrics: Arc::new(metrics::Metrics::default()),
        documents: Arc::default(),
    }));
    let mut router = Router::new()
        .route("/graphql", post(graphql::post).get(graphql::get))
        .route("/oauth/token", post(oauth::token))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::render))
        .route("/settlement/statements/{id}/csv", get(settlement::csv))
        .route("/audit/csv", get(audit::csv))
        .route("/boards/public", get(boards::page))
        .route("/boards/public/board.js", get(boards::script))
        .route("/boards/public/data", get(boards::data))
        .route("/login", get(pages::login).post(sessions::login))
        .route("/logout", post(sessions::logout))
        .route("/session", get(sessions::current))
        .route("/app/session", post(sessions::member))
        .route("/app", get(pages::wallet))
        .route("/boards", get(pages::boards))
        .route("/portal", get(pages::portal))
        .route("/console", get(pages::console))
        .route("/pages/{name}", get(pages::asset));
    if graphiql {
        router = router.route("/", get(graphiql::page)).route(
            &format!("{}/{{name}}", graphiql::ASSETS_PATH),
            get(graphiql::asset),
        );
    }
    router
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// The headers of every page: its content security policy, no guessing of content types,
/// no referrer sent on.
pub(crate) fn page_headers(policy: &'static str) -> [(header::HeaderName, HeaderValue); 3] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(policy),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

/// Gives every request an id (the caller's `x-request-id` if sane, else a new one), logs it
/// on every line of the request and returns it.
async fn request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut response =
        crate::request_id::scope(Some(id.clone()), next.run(request).instrument(span)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when PostgreSQL and Redis both answer.
async fn readyz(State(state): State<HttpState>) -> Response {
    let (postgres, redis) = tokio::join!(db::ping(&state.app.db), state.app.redis.ping());
    let status = if postgres && redis {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    (
        status,
        Json(json!({ "postgres": word(postgres), "redis": word(redis) })),
    )
        .into_response()
}

async fn jwks(State(state): State<HttpState>) -> Response {
    let mut response = Json(state.app.keys.jwks()).into_response();
    response.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
