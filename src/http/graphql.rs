//! The hardened `/graphql` endpoint (DESIGN.md "HTTP hardening"): JSON only, one operation
//! per request, mutations over POST only, a body limit, authentication before any work,
//! introspection for operators only, a request timeout, and mutations that run to the end
//! even when the client goes away.

use std::{collections::HashMap, sync::Arc, time::Instant};

use async_graphql::{
    http::ALL_WEBSOCKET_PROTOCOLS,
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    Json,
    body::Body,
    extract::{
        Query, State, WebSocketUpgrade, rejection::QueryRejection,
        ws::rejection::WebSocketUpgradeRejection,
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;
use tracing::Instrument;

use super::{
    HttpState,
    callers::authenticate_caller,
    refusals::{refuse, refuse_for},
    sessions,
};
use crate::{
    auth::Principal,
    config::Introspection,
    error::AppError,
    graphql::{
        cost,
        extensions::{WebsocketSession, check_aliases, selects_introspection},
    },
    services::rate_limits::Charge,
};

/// The GraphQL-over-HTTP media type: a client that accepts it gets it, and a request that
/// failed before execution (no `data`) is answered 400 rather than 200.
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

fn accepts_graphql_response(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let essence = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "") == "q=0");
            essence.eq_ignore_ascii_case(GRAPHQL_RESPONSE) && !refused
        })
}

/// Answers in the media type the client asked for: `application/json` as always, or
/// `application/graphql-response+json`.
fn in_media_type(headers: &HeaderMap, mut response: Response) -> Response {
    let is_json_body = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json_body && accepts_graphql_response(headers) {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/graphql-response+json; charset=utf-8"),
        );
    }
    response
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

pub(crate) async fn post(
    State(http): State<HttpState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let response = post_json(http, &headers, body).await;
    in_media_type(&headers, response)
}

async fn post_json(http: HttpState, headers: &HeaderMap, body: Body) -> Response {
    if !is_json(headers) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::bad_input("send the request as application/json"),
        );
    }
    let limit = http.app.config.limits.max_body_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            AppError::bad_input(format!("the request body is larger than {limit} bytes")),
        );
    };
    let value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                AppError::bad_input("the body is not valid JSON"),
            );
        }
    };
    if value.is_array() {
        return refuse(
            StatusCode::BAD_REQUEST,
            AppError::bad_input(
                "batched requests are not supported: send one operation per request",
            ),
        );
    }
    match serde_json::from_value::<async_graphql::Request>(value) {
        Ok(request) => execute(http, headers, request, false).await,
        Err(_) => refuse(
            StatusCode::BAD_REQUEST,
            AppError::bad_input(
                "the body must be an object with \"query\" and optional \"variables\" and \"operationName\"",
            ),
        ),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetParams {
    query: String,
    operation_name: Option<String>,
    /// JSON text, as the GraphQL-over-HTTP spec has it.
    variables: Option<String>,
}

pub(crate) async fn get(
    State(http): State<HttpState>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    protocol: Result<GraphQLProtocol, StatusCode>,
) -> Response {
    if let (Ok(upgrade), Ok(protocol)) = (upgrade, protocol) {
        return websocket(http, upgrade, protocol, headers);
    }
    let response = get_query(http, &headers, params).await;
    in_media_type(&headers, response)
}

async fn get_query(
    http: HttpState,
    headers: &HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return refuse(
            StatusCode::BAD_REQUEST,
            AppError::bad_input("GET needs a query parameter \"query\""),
        );
    };
    let mut request = async_graphql::Request::new(params.query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(text) = params.variables {
        match serde_json::from_str(&text) {
            Ok(variables) => request = request.variables(variables),
            Err(_) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    AppError::bad_input("variables must be a JSON object"),
                );
            }
        }
    }
    execute(http, headers, request, true).await
}

/// Subscriptions over the graphql-transport-ws (or legacy graphql-ws) websocket. The token
/// comes in `connection_init` (`{"authorization": "Bearer <JWT>"}`, or `token`) within
/// [`INIT_WAIT`]; without a valid one (or for a suspended partner) the connection is
/// refused. It serves subscriptions only (`graphql::extensions::WebsocketGate`), at most
/// [`SUBSCRIPTIONS_PER_CONNECTION`] at once, and a principal holds at most
/// [`CONNECTIONS_PER_PRINCIPAL`] connections per process. It closes when the token expires.
fn websocket(
    http: HttpState,
    upgrade: WebSocketUpgrade,
    protocol: GraphQLProtocol,
    headers: HeaderMap,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // Clients send a few small messages; the default 128 KiB buffers would cost that
        // much memory per open subscription.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            let (expires_tx, expires_rx) = tokio::sync::oneshot::channel::<i64>();
            let (held_tx, held_rx) = tokio::sync::oneshot::channel::<HeldConnection>();
            let init_http = http.clone();
            let serve = GraphQLWebSocket::new(socket, http.websocket_schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let (principal, valid_until, held) =
                        admit(&init_http, &payload, &headers).await?;
                    let _ = expires_tx.send(valid_until);
                    let _ = held_tx.send(held);
                    let mut data = async_graphql::Data::default();
                    data.insert(principal);
                    data.insert(WebsocketSession {
                        open: Arc::default(),
                        max_subscriptions: SUBSCRIPTIONS_PER_CONNECTION,
                    });
                    Ok(data)
                })
                .serve();
            let expiry = async {
                match tokio::time::timeout(INIT_WAIT, expires_rx).await {
                    Ok(Ok(valid_until)) => {
                        let left = (valid_until + 1 - chrono::Utc::now().timestamp()).max(0);
                        tokio::time::sleep(std::time::Duration::from_secs(left as u64)).await;
                        tracing::debug!("websocket closed: its token expired");
                    }
                    Ok(Err(_)) => std::future::pending::<()>().await,
                    Err(_) => tracing::debug!("websocket closed: no connection_init in time"),
                }
            };
            tokio::select! {
                _ = serve => {}
                _ = expiry => {}
            }
            // The principal's count goes down when the connection ends.
            drop(held_rx);
        })
}

/// How long a new websocket may take to send `connection_init`.
const INIT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
const SUBSCRIPTIONS_PER_CONNECTION: usize = 16;
const CONNECTIONS_PER_PRINCIPAL: usize = 8;

/// One open websocket counted against its principal, for as long as it is held.
pub(crate) struct HeldConnection {
    subject: String,
    counts: Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

impl Drop for HeldConnection {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.subject) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.subject);
            }
        }
    }
}

/// `connection_init`: the token (or a page's session and its CSRF token), the partner's
/// status, and a place among the principal's connections.
async fn admit(
    http: &HttpState,
    payload: &serde_json::Value,
    upgrade_headers: &HeaderMap,
) -> Result<(Principal, i64, HeldConnection), AppError> {
    let token = ["authorization", "Authorization", "token"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_owned());
    let csrf = payload.get("csrfToken").and_then(|v| v.as_str());
    let (principal, valid_until) = match (token, csrf) {
        (Some(token), _) => http.app.keys.verify_until(&token)?,
        (None, Some(csrf)) => sessions::for_websocket(http, upgrade_headers, csrf)
            .await
            .map(|s| (s.principal, s.expires_at.timestamp()))?,
        (None, None) => return Err(AppError::Unauthenticated("no token in connection_init")),
    };
    if let Principal::Partner { partner_id, .. } = &principal {
        http.app
            .partners
            .require_active(&http.app.db, *partner_id)
            .await?;
    }
    let subject = format!("{:?}:{}", principal.role(), principal.subject());
    let counts = http.websockets.clone();
    let mut open = counts.lock().unwrap_or_else(|p| p.into_inner());
    let count = open.entry(subject.clone()).or_default();
    if *count >= CONNECTIONS_PER_PRINCIPAL {
        return Err(AppError::RateLimited);
    }
    *count += 1;
    drop(open);
    Ok((principal, valid_until, HeldConnection { subject, counts }))
}

fn operation_type(document: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    }
}

/// Aborts a spawned query when the client goes away (the handler future is dropped).
struct AbortOnDrop(Option<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
        }
    }
}

async fn execute(
    http: HttpState,
    headers: &HeaderMap,
    mut request: async_graphql::Request,
    over_get: bool,
) -> Response {
    // Every POST counts as a state change: its CSRF token is checked before it is parsed.
    let caller = match authenticate_caller(&http, headers, !over_get).await {
        Ok(caller) => caller,
        Err(e) => return refuse_for(e),
    };
    let principal = caller.principal;
    let may_introspect = match http.app.config.introspection {
        Introspection::Off => false,
        Introspection::Operator => principal.is_operator(),
        Introspection::Authenticated => true,
    };
    let is_mutation = match check_document(&http, &mut request, may_introspect, over_get) {
        Ok(is_mutation) => is_mutation,
        Err(refused) => return with_status(headers, *refused),
    };
    if is_mutation && caller.read_only {
        return refuse_for(AppError::forbidden(
            "a staff account reads; an admin of the account makes changes",
        ));
    }
    let kind_label = if is_mutation { "mutation" } else { "query" };
    let charge = match charge(&http, &principal, &mut request).await {
        Ok(charge) => charge,
        Err(refused) => return *refused,
    };
    if !may_introspect {
        request = request.disable_introspection();
    }
    let span = tracing::info_span!(
        "graphql",
        operation = request.operation_name.as_deref().unwrap_or("-"),
        kind = kind_label,
        role = ?principal.role(),
        principal = %principal.subject(),
    );
    let request = request.data(principal);
    let started = Instant::now();
    match run(&http, request, is_mutation, span).await {
        Ok(response) => with_status(
            headers,
            answer(&http, response, kind_label, started, charge),
        ),
        Err(failure) => {
            http.metrics
                .record(kind_label, failure.outcome(), started.elapsed());
            failure.into_response(is_mutation)
        }
    }
}

/// Parses the request's document (kept parsed for the schema) and applies what is checked
/// once per request: introspection, the alias limit, and which operations go where.
/// Answers whether it is a mutation, or the refusal to send.
fn check_document(
    http: &HttpState,
    request: &mut async_graphql::Request,
    may_introspect: bool,
    over_get: bool,
) -> Result<bool, Box<Response>> {
    let operation_name = request.operation_name.clone();
    http.documents.prepare(request);
    let document = match request.parsed_query() {
        Ok(document) => document,
        Err(error) => {
            let mut error = error;
            AppError::finalize(&mut error);
            let body = Json(json!({ "errors": [error] }));
            return Err(Box::new((StatusCode::BAD_REQUEST, body).into_response()));
        }
    };
    if !may_introspect && selects_introspection(document) {
        return Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            AppError::forbidden("introspection is not available to this caller"),
        )));
    }
    if let Err(mut error) = check_aliases(document, http.app.config.limits.max_aliases) {
        AppError::finalize(&mut error);
        let body = Json(async_graphql::Response::from_errors(vec![error]));
        let mut response = body.into_response();
        response.extensions_mut().insert(RequestError);
        return Err(Box::new(response));
    }
    match operation_type(document, operation_name.as_deref()) {
        Some(OperationType::Mutation) if over_get => Err(Box::new(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            AppError::bad_input("mutations must be sent with POST"),
        ))),
        Some(OperationType::Subscription) => Err(Box::new(refuse(
            StatusCode::BAD_REQUEST,
            AppError::bad_input("subscriptions use the graphql-transport-ws websocket"),
        ))),
        kind => Ok(kind == Some(OperationType::Mutation)),
    }
}

/// Charges the request's cost (`graphql::cost`) to its caller's budget: the charge, for the
/// answer's `extensions.rateLimit`, or the 429 to send when the budget is spent.
async fn charge(
    http: &HttpState,
    principal: &Principal,
    request: &mut async_graphql::Request,
) -> Result<Option<Charge>, Box<Response>> {
    if !http.app.rate_limits.applies_to(principal) {
        return Ok(None);
    }
    // (Taken out and put back: the parsed document borrows the request mutably.)
    let operation = request.operation_name.take();
    let variables = std::mem::take(&mut request.variables);
    let max_page = http.app.config.limits.max_page_size;
    let cost = request.parsed_query().ok().map(|document| {
        let cost = cost::of(document, operation.as_deref(), &variables, max_page);
        match selects_introspection(document) {
            true => cost.saturating_add(cost::INTROSPECTION_SURCHARGE),
            false => cost,
        }
    });
    request.operation_name = operation;
    request.variables = variables;
    let Some(cost) = cost else {
        return Ok(None);
    };
    let charge = http.app.rate_limits.charge(principal, cost).await;
    match charge {
        Some(refused) if !refused.allowed => {
            let body = json!({
                "errors": [AppError::RateLimited.to_server_error()],
                "extensions": { "rateLimit": rate_limit_value(&refused) },
            });
            let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
            let seconds = refused.retry_after.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Err(Box::new(response))
        }
        charge => Ok(charge),
    }
}

/// `extensions.rateLimit`, built as the response's own value (no JSON in between); the
/// 429 answer serializes the same value.
fn rate_limit_value(charge: &Charge) -> async_graphql::Value {
    use async_graphql::{Name, Value};
    let reset_at = charge
        .reset_at
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Value::Object(
        [
            (Name::new("cost"), Value::from(charge.cost)),
            (Name::new("remaining"), Value::from(charge.remaining)),
            (Name::new("resetAt"), Value::String(reset_at)),
        ]
        .into_iter()
        .collect(),
    )
}

/// Why a request has no GraphQL response.
enum RunFailure {
    Crashed(AppError),
    TimedOut,
}

impl RunFailure {
    fn outcome(&self) -> &'static str {
        match self {
            RunFailure::Crashed(error) => error.code(),
            RunFailure::TimedOut => "TIMEOUT",
        }
    }

    fn into_response(self, is_mutation: bool) -> Response {
        match self {
            RunFailure::Crashed(error) => refuse(StatusCode::SERVICE_UNAVAILABLE, error),
            RunFailure::TimedOut => {
                let message = if is_mutation {
                    "the mutation is still running; retry with the same idempotency key to get its result"
                } else {
                    "the request took too long"
                };
                let mut error = AppError::internal(anyhow::anyhow!("timeout")).to_server_error();
                error.message = message.into();
                let body = Json(json!({ "errors": [error] }));
                (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
            }
        }
    }
}

/// Runs the request within the request timeout, its errors mapped to their codes.
/// Spawned so that a mutation is never cancelled half way when the client disconnects: it
/// commits or rolls back on its own. Queries are aborted instead.
async fn run(
    http: &HttpState,
    request: async_graphql::Request,
    is_mutation: bool,
    span: tracing::Span,
) -> Result<async_graphql::Response, RunFailure> {
    let schema = http.schema.clone();
    let request_id = crate::request_id::current();
    let task = tokio::spawn(
        crate::request_id::scope(request_id, async move { schema.execute(request).await })
            .instrument(span),
    );
    let _abort_guard = AbortOnDrop((!is_mutation).then(|| task.abort_handle()));
    let timeout = http.app.config.limits.request_timeout;
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(mut response)) => {
            response.errors.iter_mut().for_each(AppError::finalize);
            Ok(response)
        }
        Ok(Err(join_error)) => {
            let error = AppError::internal(anyhow::anyhow!("resolver task failed: {join_error}"));
            tracing::error!(error = ?error, "request failed");
            Err(RunFailure::Crashed(error))
        }
        Err(_) => {
            tracing::warn!(?timeout, "request timed out");
            Err(RunFailure::TimedOut)
        }
    }
}

/// A request error (see [`RequestError`]) is 400 in the GraphQL-over-HTTP media type; as
/// `application/json` it stays 200, as it always was.
fn with_status(headers: &HeaderMap, mut response: Response) -> Response {
    if response.extensions().get::<RequestError>().is_some() && accepts_graphql_response(headers) {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

/// Marks an answer whose errors came before execution (no `data`, no error with a path):
/// the GraphQL-over-HTTP media type answers it 400.
#[derive(Clone, Copy)]
struct RequestError;

/// The HTTP answer for a GraphQL response, with its outcome in the metrics.
fn answer(
    http: &HttpState,
    mut response: async_graphql::Response,
    kind_label: &'static str,
    started: Instant,
    charge: Option<Charge>,
) -> Response {
    if let Some(charge) = &charge {
        response
            .extensions
            .insert("rateLimit".to_owned(), rate_limit_value(charge));
    }
    let outcome = response
        .errors
        .first()
        .and_then(|e| e.extensions.as_ref())
        .and_then(|ext| match ext.get("code") {
            Some(async_graphql::Value::String(code)) => Some(code.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "ok".into());
    http.metrics.record(kind_label, &outcome, started.elapsed());
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut answer = Json(response).into_response();
    if request_error {
        answer.extensions_mut().insert(RequestError);
    }
    if outcome == AppError::RateLimited.code() {
        // Nothing was written: the client may send the same request again after a pause.
        *answer.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    answer
}
