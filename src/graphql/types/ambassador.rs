use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::db::models::ambassador::Ambassador;
use crate::graphql::types::PartnerNode;

use crate::graphql::loaders;

pub(crate) struct AmbassadorNode {
    pub ambassador: Ambassador,
    pub scopes: Vec<Option<uuid::Uuid>>,
}

/// An ambassador as partners and operators see it (boards show only the handle).
#[Object(name = "Ambassador")]
impl AmbassadorNode {
    async fn id(&self) -> ID {
        ID(self.ambassador.id.to_string())
    }
    async fn handle(&self) -> &str {
        &self.ambassador.handle
    }
    /// Enrolled for the whole coalition: any partner may record its activity.
    async fn coalition_wide(&self) -> bool {
        self.scopes.contains(&None)
    }
    /// The partners it is enrolled for.
    async fn partners(&self, ctx: &Context<'_>) -> Result<Vec<PartnerNode>> {
        let ids: Vec<_> = self.scopes.iter().flatten().copied().collect();
        let partners = loaders::partners(ctx, &ids).await?;
        Ok(partners.into_iter().map(PartnerNode).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.ambassador.created_at
    }
}
