use async_graphql::SimpleObject;

use super::WebhookSubscriptionNode;

/// A new subscription with its signing secret, shown this once.
#[derive(SimpleObject)]
pub(crate) struct CreatedWebhookSubscription {
    pub subscription: WebhookSubscriptionNode,
    /// The HMAC-SHA256 key of the `Hub-Signature` header. Not shown again.
    pub secret: String,
}
