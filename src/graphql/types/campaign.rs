use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::auth::Principal;
use crate::db::models::campaign::CampaignRow;
use crate::graphql::ContextExt;
use crate::graphql::scalars::{BigInt, Decimal};
use crate::graphql::types::CampaignAudience;
use crate::graphql::types::PartnerNode;
use crate::graphql::types::ScheduleSlot;
use crate::services::campaigns;

pub(crate) struct CampaignNode(pub CampaignRow);

#[Object(name = "Campaign")]
impl CampaignNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The partner whose earns it applies to; null: every partner's.
    async fn partner(&self, ctx: &Context<'_>) -> Result<Option<PartnerNode>> {
        PartnerNode::load(ctx, self.0.partner_id).await
    }
    /// Who pays its bonuses (the issuer of their lots).
    /// The coalition pays the bonuses (`sponsor` is then its campaign budget).
    async fn sponsored_by_coalition(&self) -> bool {
        self.0.sponsor_partner_id == crate::domain::partner::COALITION_PARTNER_ID
    }
    async fn sponsor(&self, ctx: &Context<'_>) -> Result<Option<PartnerNode>> {
        PartnerNode::load(ctx, Some(self.0.sponsor_partner_id)).await
    }
    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }
    async fn ends_at(&self) -> DateTime<Utc> {
        self.0.ends_at
    }
    /// Set by `endCampaign`: no bonus after it.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    /// Earns may get its bonus now.
    async fn live(&self) -> bool {
        let now = Utc::now();
        self.0.ended_at.is_none() && self.0.starts_at <= now && now < self.0.ends_at
    }
    async fn schedule(&self) -> Result<Vec<ScheduleSlot>> {
        Ok(campaigns::schedule_of(&self.0)?
            .iter()
            .map(ScheduleSlot::of)
            .collect())
    }
    async fn time_zone(&self) -> &str {
        &self.0.time_zone
    }
    async fn audience(&self) -> Result<CampaignAudience> {
        Ok(CampaignAudience::parse(&self.0.audience)?)
    }
    async fn audience_tier_level(&self) -> Option<i32> {
        self.0.audience_tier_level
    }
    async fn min_purchase(&self) -> Option<Decimal> {
        self.0.min_purchase.clone().map(Decimal)
    }
    async fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }
    async fn sku(&self) -> Option<&str> {
        self.0.sku.as_deref()
    }
    async fn nth_purchase_in_month(&self) -> Option<i32> {
        self.0.nth_purchase_in_month
    }
    async fn multiplier(&self) -> Option<Decimal> {
        self.0.reward_multiplier.clone().map(Decimal)
    }
    async fn points(&self) -> Option<BigInt> {
        self.0.reward_points.map(BigInt)
    }
    async fn per_unit_sku(&self) -> Option<&str> {
        self.0.reward_sku.as_deref()
    }
    async fn stacking_group(&self) -> Option<&str> {
        self.0.stacking_group.as_deref()
    }
    /// Caps and what was given: for the partner and the operator (null for members).
    async fn member_cap(&self, ctx: &Context<'_>) -> Result<Option<BigInt>> {
        Ok(self.for_managers(ctx)?.and(self.0.member_cap.map(BigInt)))
    }
    async fn budget(&self, ctx: &Context<'_>) -> Result<Option<BigInt>> {
        Ok(self.for_managers(ctx)?.and(self.0.budget.map(BigInt)))
    }
    /// Points given against the budget so far (campaigns with a budget).
    async fn awarded(&self, ctx: &Context<'_>) -> Result<Option<BigInt>> {
        Ok(self
            .for_managers(ctx)?
            .and(self.0.budget.map(|_| BigInt(self.0.awarded))))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

impl CampaignNode {
    fn for_managers(&self, ctx: &Context<'_>) -> Result<Option<()>> {
        Ok(match ctx.principal()? {
            Principal::Member { .. } => None,
            _ => Some(()),
        })
    }
}
