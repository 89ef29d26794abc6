use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::graphql::ContextExt;
use crate::graphql::scalars::BigInt;
use crate::graphql::types::HoldStatus;
use crate::graphql::types::MemberNode;
use crate::graphql::types::PartnerNode;
use crate::{db::models::ledger::Hold, error::AppError};

use crate::graphql::loaders;
use crate::services::access;

pub(crate) struct HoldNode(pub Hold);

impl HoldNode {
    /// A hold the caller may see (`NOT_FOUND` otherwise), through the hold DataLoader.
    pub(crate) async fn load_visible(ctx: &Context<'_>, id: uuid::Uuid) -> Result<HoldNode> {
        let hold = loaders::hold(ctx, id).await?;
        Ok(HoldNode(access::visible_hold(ctx.principal()?, hold)?))
    }
}

#[Object(name = "Hold")]
impl HoldNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn status(&self) -> Result<HoldStatus> {
        Ok(match self.0.status.as_str() {
            "PENDING" => HoldStatus::Pending,
            "CAPTURED" => HoldStatus::Captured,
            "VOIDED" => HoldStatus::Voided,
            "EXPIRED" => HoldStatus::Expired,
            other => return Err(AppError::internal(anyhow::anyhow!("hold status {other}")).into()),
        })
    }
    async fn points(&self) -> BigInt {
        BigInt(self.0.points)
    }
    async fn captured_points(&self) -> BigInt {
        BigInt(self.0.captured_points)
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn finalized_at(&self) -> Option<DateTime<Utc>> {
        self.0.finalized_at
    }
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }
    async fn partner(&self, ctx: &Context<'_>) -> Result<Option<PartnerNode>> {
        PartnerNode::load(ctx, Some(self.0.partner_id)).await
    }
    async fn member(&self, ctx: &Context<'_>) -> Result<MemberNode> {
        MemberNode::load(ctx, self.0.member_id).await
    }
}
