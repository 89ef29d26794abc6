//! The id of the request being served (the `x-request-id` the HTTP layer answers with), for
//! the audit trail. The HTTP layer sets it around each request, and the GraphQL handler
//! around the task that runs a document; anything else (CLI commands, jobs) has none.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `work` with `id` as the current request id.
pub(crate) async fn scope<F: Future>(id: Option<String>, work: F) -> F::Output {
    match id {
        Some(id) => REQUEST_ID.scope(id, work).await,
        None => work.await,
    }
}

/// The current request id, if a request is being served.
pub(crate) fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}
