use async_graphql::{ID, Json, Object};
use chrono::{DateTime, Utc};

use crate::db::models::audit::AuditEntry;

/// One administrative change: who made it, when, in which request, before and after.
pub(crate) struct AuditEntryNode(pub AuditEntry);

#[Object(name = "AuditEntry")]
impl AuditEntryNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// `operator:<subject>` or `partner:<id>`.
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    /// The partner whose business it is; null for the coalition's own.
    async fn partner_id(&self) -> Option<ID> {
        self.0.partner_id.map(|p| ID(p.to_string()))
    }
    /// Dotted lower case: `partner.updated`, `rates.set`, `campaign.ended`, ...
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The id of what changed.
    async fn target(&self) -> &str {
        &self.0.target
    }
    /// The `x-request-id` of the request that made the change.
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
    /// The values before the change (null for a creation).
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        self.0.before.clone().map(Json)
    }
    /// The values after the change.
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        self.0.after.clone().map(Json)
    }
}
