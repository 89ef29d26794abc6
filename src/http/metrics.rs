//! A few Prometheus counters, kept by hand to keep the dependency tree small.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    extract::State,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};

use super::{HttpState, callers::authenticate, refusals::refuse_for};

#[derive(Default)]
pub(crate) struct Metrics {
    /// (operation kind, error code or "ok") -> count
    operations: Mutex<BTreeMap<(&'static str, String), u64>>,
    duration_micros_sum: AtomicU64,
    duration_count: AtomicU64,
}

impl Metrics {
    pub(crate) fn record(&self, kind: &'static str, outcome: &str, elapsed: Duration) {
        let mut ops = self.operations.lock().unwrap_or_else(|p| p.into_inner());
        *ops.entry((kind, outcome.to_owned())).or_default() += 1;
        drop(ops);
        self.duration_micros_sum
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        self.duration_count.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP hub_graphql_operations_total GraphQL operations by kind and outcome.\n",
        );
        out.push_str("# TYPE hub_graphql_operations_total counter\n");
        let ops = self.operations.lock().unwrap_or_else(|p| p.into_inner());
        for ((kind, outcome), n) in ops.iter() {
            let _ = writeln!(
                out,
                "hub_graphql_operations_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        drop(ops);
        out.push_str("# HELP hub_graphql_duration_seconds Time to answer GraphQL operations.\n");
        out.push_str("# TYPE hub_graphql_duration_seconds summary\n");
        let sum = self.duration_micros_sum.load(Ordering::Relaxed) as f64 / 1e6;
        let count = self.duration_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "hub_graphql_duration_seconds_sum {sum}");
        let _ = writeln!(out, "hub_graphql_duration_seconds_count {count}");
        out
    }
}

/// `GET /metrics` for the operator's bearer token only: the counters tell a competitor how
/// busy the coalition is (a Prometheus job sends the token with `authorization`).
pub(crate) async fn render(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    match authenticate(&state, &headers)
        .await
        .and_then(|principal| principal.require_operator())
    {
        Ok(()) => text(&state),
        Err(error) => refuse_for(error),
    }
}

fn text(state: &HttpState) -> Response {
    let mut out = state.metrics.render();
    let counts = state.app.ledger.batcher.counts();
    for (name, help, value) in [
        (
            "hub_ledger_batches_total",
            "Group commits of issues and redemptions (one transaction each).",
            &counts.batches,
        ),
        (
            "hub_ledger_batched_operations_total",
            "Issues and redemptions sent in group commits.",
            &counts.operations,
        ),
        (
            "hub_ledger_refused_operations_total",
            "Issues and redemptions answered RATE_LIMITED because the group-commit queue was full.",
            &counts.refused,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
    }
    let name = "hub_ledger_batch_busy_seconds_total";
    let _ = writeln!(
        out,
        "# HELP {name} Time the group commit workers spent on batches (mostly waiting for PostgreSQL).\n# TYPE {name} counter\n{name} {:.6}",
        counts.busy_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    let name = "hub_db_queries_total";
    let _ = writeln!(
        out,
        "# HELP {name} Statements sent to PostgreSQL by the pool's connections (round trips).\n# TYPE {name} counter\n{name} {}",
        state.app.db_queries()
    );
    let pool = state.app.db.status();
    for (name, help, value) in [
        (
            "hub_ledger_queued_operations",
            "Issues and redemptions waiting for a group-commit worker (HUB_LEDGER_QUEUE_CAPACITY at most).",
            state.app.ledger.batcher.queued(),
        ),
        (
            "hub_db_pool_connections",
            "Open database connections.",
            pool.size,
        ),
        (
            "hub_db_pool_idle_connections",
            "Open database connections not in use (group-commit workers keep theirs while busy).",
            pool.available,
        ),
        (
            "hub_db_pool_waiting",
            "Tasks waiting for a database connection.",
            pool.waiting,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
