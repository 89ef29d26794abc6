use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};

use crate::{db::models::portal::PortalUser, domain::portal::PortalRole};

/// A person who signs in to the pages: one of the operator's staff (no partner) or a
/// partner's. Its password never leaves the hub.
pub(crate) struct PortalUserNode(pub PortalUser);

#[Object(name = "PortalUser")]
impl PortalUserNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// None: the coalition operator's staff.
    async fn partner_id(&self) -> Option<ID> {
        self.0.partner_id.map(|id| ID(id.to_string()))
    }
    async fn role(&self) -> PortalRole {
        PortalRole::parse(&self.0.role).unwrap_or(PortalRole::Staff)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn disabled_at(&self) -> Option<DateTime<Utc>> {
        self.0.disabled_at
    }
}
