use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::graphql::ContextExt;
use crate::graphql::scalars::Decimal;
use crate::graphql::types::PartnerCredential;
use crate::{
    db::models::Partner,
    domain::partner::{PartnerCategory, PartnerStatus},
    error::AppError,
    services::credentials,
};

use crate::graphql::loaders;
use crate::services::access;

pub(crate) struct PartnerNode(pub Partner);

impl PartnerNode {
    /// A partner by id, through the partner DataLoader (none for no id).
    pub(crate) async fn load(ctx: &Context<'_>, id: Option<Uuid>) -> Result<Option<PartnerNode>> {
        let Some(id) = id else { return Ok(None) };
        Ok(loaders::partner(ctx, id).await?.map(PartnerNode))
    }
}

#[Object(name = "Partner")]
impl PartnerNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    /// Public name, shown to members.
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn category(&self) -> Result<PartnerCategory> {
        Ok(self.0.category.parse().map_err(AppError::internal)?)
    }
    /// Currency of the partner's purchases (`purchase` amounts of `issuePoints`).
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// Points earned per one unit of currency spent.
    async fn earn_rate(&self) -> Decimal {
        Decimal(self.0.earn_rate.clone())
    }
    async fn accepts_redemptions(&self) -> bool {
        self.0.accepts_redemptions
    }
    /// Leaderboard score of a referral that converts here.
    async fn referral_score(&self) -> i64 {
        self.0.referral_score
    }
    /// Points issued to the ambassador when a referral converts here.
    async fn referral_reward_points(&self) -> i64 {
        self.0.referral_reward_points
    }
    /// Earns here are multiplied by the member's tier multiplier (the partner opted in).
    async fn applies_tier_multiplier(&self) -> bool {
        self.0.applies_tier_multiplier
    }
    /// Days the points earned here stay pending before they can be spent (0: none).
    async fn return_window_days(&self) -> i32 {
        self.0.return_window_days
    }
    async fn status(&self) -> Result<PartnerStatus> {
        Ok(self.0.status.parse().map_err(AppError::internal)?)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// API credentials (never their secrets): the operator's and the partner's own view.
    async fn credentials(&self, ctx: &Context<'_>) -> Result<Vec<PartnerCredential>> {
        access::may_see_credentials(ctx.principal()?, self.0.id)?;
        let rows = credentials::for_partner(&ctx.state().db, self.0.id).await?;
        Ok(rows.into_iter().map(PartnerCredential::from).collect())
    }
}
