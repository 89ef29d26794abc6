//! Partner status for authentication, cached so that a partner's requests do not each pay a
//! database round trip. A change of status is announced by PostgreSQL (`NOTIFY
//! hub_partner_status`) and drops the cached copy in every hub process at once; the short
//! lifetime of an entry bounds staleness should the announcement channel be down. Money
//! never depends on this cache: every ledger function checks the partner's status itself.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::StreamExt;
use uuid::Uuid;

use crate::{
    db::{DbPool, models::Partner},
    error::{AppError, AppResult},
};

pub const CHANNEL: &str = "hub_partner_status";

pub struct PartnerStatusCache {
    entries: RwLock<HashMap<Uuid, (bool, Instant)>>,
    ttl: Duration,
}

impl PartnerStatusCache {
    pub fn new(ttl: Duration) -> PartnerStatusCache {
        PartnerStatusCache {
            entries: RwLock::new(HashMap::new()),
            ttl,
        }
    }

    fn cached(&self, id: Uuid) -> Option<bool> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&id)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(active, _)| *active)
    }

    /// Refuses a suspended partner (`PARTNER_SUSPENDED`) or one that does not exist.
    pub async fn require_active(&self, db: &DbPool, id: Uuid) -> AppResult<()> {
        let active = match self.cached(id) {
            Some(active) => active,
            None => {
                let mut conn = db.get().await?;
                let status = Partner::status(&mut conn, id)
                    .await?
                    .ok_or(AppError::Unauthenticated("unknown partner"))?;
                let active = status == "ACTIVE";
                let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
                // A partner count is small; the bound only guards against a flood of ids.
                if entries.len() > 100_000 {
                    entries.clear();
                }
                entries.insert(id, (active, Instant::now()));
                active
            }
        };
        if active {
            Ok(())
        } else {
            Err(AppError::PartnerSuspended)
        }
    }

    pub fn forget(&self, id: Uuid) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    pub fn forget_all(&self) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Listens for status changes for as long as the process runs, reconnecting after errors
/// (and forgetting everything then, since announcements may have been missed).
pub fn spawn_listener(
    database_url: String,
    cache: std::sync::Arc<PartnerStatusCache>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match AsyncPgConnection::establish(&database_url).await {
                Ok(mut conn) => {
                    if conn
                        .batch_execute(&format!("LISTEN {CHANNEL}"))
                        .await
                        .is_ok()
                    {
                        cache.forget_all();
                        let mut stream = std::pin::pin!(conn.notifications_stream());
                        while let Some(Ok(notification)) = stream.next().await {
                            match notification.payload.parse() {
                                Ok(id) => cache.forget(id),
                                Err(_) => cache.forget_all(),
                            }
                        }
                    }
                    tracing::warn!("partner status listener lost its connection; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "partner status listener cannot connect"),
            }
            cache.forget_all();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}
