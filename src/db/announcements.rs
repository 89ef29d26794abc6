//! PostgreSQL announcements (`LISTEN`/`NOTIFY`) that drop cached copies in every hub process
//! at once: partner rows (`db::partner_cache`) and the live campaigns
//! (`services::campaigns::LiveCampaigns`). One connection listens on every channel.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::StreamExt;

/// What hearing on a channel does: `Some(payload)` for an announcement, `None` when
/// announcements may have been missed (a new or lost connection), so forget everything.
pub(crate) type Heard = Box<dyn Fn(Option<&str>) + Send + Sync>;

/// A channel and what hearing on it does.
pub(crate) struct Announcement {
    pub channel: &'static str,
    pub heard: Heard,
}

/// Listens for as long as the process runs, reconnecting after errors.
pub(crate) fn spawn_listener(
    database_url: String,
    announcements: Vec<Announcement>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match AsyncPgConnection::establish(&database_url).await {
                Ok(mut conn) => {
                    let listen: String = announcements
                        .iter()
                        .map(|a| format!("LISTEN {};", a.channel))
                        .collect();
                    if conn.batch_execute(&listen).await.is_ok() {
                        announcements.iter().for_each(|a| (a.heard)(None));
                        let mut stream = std::pin::pin!(conn.notifications_stream());
                        while let Some(Ok(notification)) = stream.next().await {
                            announcements
                                .iter()
                                .filter(|a| a.channel == notification.channel)
                                .for_each(|a| (a.heard)(Some(&notification.payload)));
                        }
                    }
                    tracing::warn!("announcement listener lost its connection; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "announcement listener cannot connect"),
            }
            announcements.iter().for_each(|a| (a.heard)(None));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}
