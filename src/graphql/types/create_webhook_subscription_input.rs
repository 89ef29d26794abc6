use async_graphql::{ID, InputObject};

#[derive(InputObject)]
pub(crate) struct CreateWebhookSubscriptionInput {
    /// Operator only: a partner's subscription. Without it the operator makes one of the
    /// coalition's own (every event); a partner always makes its own.
    pub partner_id: Option<ID>,
    /// `https://...` (plain `http` only to loopback, where the operator allows it).
    pub url: String,
    /// Dotted lower case names (`points.issued`, `hold.captured`, ...), or `*`.
    pub event_types: Vec<String>,
}
