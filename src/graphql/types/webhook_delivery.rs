use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};

use crate::db::models::webhook::AttemptRow;

/// One POST of events: what it carried, what the receiver answered, or why nothing came.
pub(crate) struct WebhookDeliveryNode(pub AttemptRow);

#[Object(name = "WebhookDelivery")]
impl WebhookDeliveryNode {
    /// The POST's `Hub-Delivery-Id` (and `deliveryId` in its body).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn subscription_id(&self) -> ID {
        ID(self.0.subscription_id.to_string())
    }
    /// The events the POST carried, in order.
    async fn event_ids(&self) -> Vec<ID> {
        self.0.event_ids().map(|id| ID(id.to_string())).collect()
    }
    /// Queued by `redeliverWebhookEvent`.
    async fn redelivery(&self) -> bool {
        self.0.redelivery
    }
    async fn attempted_at(&self) -> DateTime<Utc> {
        self.0.attempted_at
    }
    /// The receiver's HTTP status (null: no answer).
    async fn status_code(&self) -> Option<i32> {
        self.0.status_code
    }
    async fn latency_ms(&self) -> i32 {
        self.0.latency_ms
    }
    /// The first KiB of the answer.
    async fn response_body(&self) -> Option<&str> {
        self.0.response_body.as_deref()
    }
    /// Why no answer came: timed out, could not connect, an address webhooks may not call.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// Answered with a 2xx status.
    async fn succeeded(&self) -> bool {
        self.0.succeeded
    }
}
