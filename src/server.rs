use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::{
    app::AppState,
    db::{announcements, partner_cache},
    http,
    services::{
        campaigns, expiry,
        leaderboards::relay,
        live, reports,
        webhooks::worker::{self, Worker},
    },
};

/// Background tasks that end with `serve`, however it ends: returned, or dropped (a test's
/// hub killed mid-work).
struct Jobs(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Jobs {
    fn drop(&mut self) {
        for job in &self.0 {
            job.abort();
        }
    }
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests under way. The expiry job,
/// the leaderboard relay and webhook delivery run alongside.
pub async fn serve(state: AppState, listener: TcpListener) -> anyhow::Result<()> {
    let webhook_worker = Worker::new(state.webhooks.clone()).context("webhook client")?;
    let mut jobs = Jobs(
        [
            expiry::spawn(&state.ledger),
            relay::spawn(&state.leaderboards),
            worker::spawn(webhook_worker),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );
    jobs.0.push(reports::spawn_snapshots(state.db.clone()));
    jobs.0.push(live::spawn_listener(
        state.config.redis_url.clone(),
        state.redis.clone(),
        state.live.clone(),
    ));
    jobs.0.push(announcements::spawn_listener(
        state.config.database_url.clone(),
        vec![
            partner_cache::announcement(state.partners.clone()),
            campaigns::announcement(state.ledger.campaigns.clone()),
        ],
    ));
    let router = http::router(state);
    // Answers are small and written whole: no reason to let Nagle hold any part back.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
    });
    // The source address limits `/oauth/token` attempts (http::oauth).
    let router = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP");
    drop(jobs);
    served
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests under way");
}
