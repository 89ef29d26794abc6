use async_graphql::Enum;

/// Whether a webhook subscription receives and delivers events.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebhookStatus {
    /// Events are queued for it and delivered.
    Active,
    /// Paused by its owner: no new events, nothing delivered until resumed.
    Paused,
    /// Its deliveries failed for three days (`disabledReason`); resume it with
    /// `paused: false`.
    Disabled,
}

impl WebhookStatus {
    pub(crate) fn parse(text: &str) -> WebhookStatus {
        match text {
            "ACTIVE" => WebhookStatus::Active,
            "PAUSED" => WebhookStatus::Paused,
            _ => WebhookStatus::Disabled,
        }
    }
}
