use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::{
    app::AppState,
    db::{announcements, partner_cache},
    http,
    services::{campaigns, expiry, leaderboards::relay, live},
};

/// Serves until Ctrl-C or SIGTERM, then finishes the requests under way. The expiry job and
/// the leaderboard relay run alongside.
pub async fn serve(state: AppState, listener: TcpListener) -> anyhow::Result<()> {
    let expiry_job = expiry::spawn(&state.ledger);
    let relay_job = relay::spawn(&state.leaderboards);
    let live_listener = live::spawn_listener(
        state.config.redis_url.clone(),
        state.redis.clone(),
        state.live.clone(),
    );
    let status_listener = announcements::spawn_listener(
        state.config.database_url.clone(),
        vec![
            partner_cache::announcement(state.partners.clone()),
            campaigns::announcement(state.ledger.campaigns.clone()),
        ],
    );
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
    for job in [expiry_job, relay_job].into_iter().flatten() {
        job.abort();
    }
    status_listener.abort();
    live_listener.abort();
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
