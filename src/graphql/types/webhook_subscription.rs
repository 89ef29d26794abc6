use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};

use super::WebhookStatus;
use crate::db::models::webhook::SubscriptionRow;

/// Where the hub POSTs events, signed with the subscription's secret (docs/WEBHOOKS.md).
pub(crate) struct WebhookSubscriptionNode(pub SubscriptionRow);

#[Object(name = "WebhookSubscription")]
impl WebhookSubscriptionNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The partner that receives; null for the coalition's own (every event).
    async fn partner_id(&self) -> Option<ID> {
        self.0.partner_id.map(|p| ID(p.to_string()))
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Dotted lower case names (`points.issued`), or `*` for every type.
    async fn event_types(&self) -> Vec<&str> {
        self.0.event_types()
    }
    async fn status(&self) -> WebhookStatus {
        WebhookStatus::parse(&self.0.status)
    }
    /// Why the hub disabled it.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// Since when its oldest waiting delivery has failed (null: none failing).
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since
    }
    /// Attempts failed in a row.
    async fn failed_attempts(&self) -> i32 {
        self.0.failed_attempts
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
