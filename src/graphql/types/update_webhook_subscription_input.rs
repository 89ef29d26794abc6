use async_graphql::InputObject;

/// Only the fields given change.
#[derive(InputObject)]
pub(crate) struct UpdateWebhookSubscriptionInput {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// true: pause (no new events, no deliveries); false: resume, a disabled subscription
    /// included.
    pub paused: Option<bool>,
}
