//! Coalition tiers: the levels (`tiers`, `setTiers`) and a member's standing (`Member.tier`).

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::NaiveDate;

use super::{
    ContextExt,
    scalars::{BigInt, Decimal},
};
use crate::{
    domain::tiers::TierLevel,
    services::tiers::{self, MemberTier},
};

/// One level of the coalition's tiers.
#[derive(SimpleObject, Clone)]
#[graphql(name = "Tier")]
pub struct TierView {
    pub name: String,
    /// Points earned in a rolling 12 months needed to reach this tier.
    pub min_points: BigInt,
    /// Earns at partners that opt in (`appliesTierMultiplier`) are multiplied by this.
    pub earn_multiplier: Decimal,
}

impl From<&TierLevel> for TierView {
    fn from(level: &TierLevel) -> Self {
        TierView {
            name: level.name.clone(),
            min_points: BigInt(level.min_points),
            earn_multiplier: Decimal(level.earn_multiplier.clone()),
        }
    }
}

#[derive(InputObject)]
pub struct TierInput {
    pub name: String,
    pub min_points: BigInt,
    pub earn_multiplier: Decimal,
}

/// A member's tier: points earned on a day count on that day and the 365 days after it.
pub struct MemberTierView(pub MemberTier);

#[Object(name = "MemberTier")]
impl MemberTierView {
    async fn tier(&self) -> TierView {
        (&self.0.levels[self.0.status.level]).into()
    }
    /// Points that count now: earned (less clawbacks) from `windowStart` until today.
    async fn qualifying_points(&self) -> BigInt {
        BigInt(self.0.status.window_points)
    }
    /// The first day whose earns still count.
    async fn window_start(&self) -> NaiveDate {
        crate::domain::tiers::window_start(self.0.today)
    }
    /// The day the member reached this tier (its current run at this level began; a
    /// downgrade starts a run too).
    async fn reached_on(&self) -> NaiveDate {
        self.0.status.reached_on
    }
    /// The last day the tier holds if nothing more is earned (null for the lowest tier).
    async fn kept_until(&self) -> Option<NaiveDate> {
        self.0.status.kept_until
    }
    /// Points to earn by `keptUntil` to hold the tier past it.
    async fn points_to_keep(&self) -> Option<BigInt> {
        self.0.status.points_to_keep.map(BigInt)
    }
    /// The next tier up (null at the top).
    async fn next_tier(&self) -> Option<TierView> {
        self.0.levels.get(self.0.status.level + 1).map(Into::into)
    }
    /// Points to earn to reach `nextTier`.
    async fn points_to_next_tier(&self) -> Option<BigInt> {
        self.0.status.points_to_next.map(BigInt)
    }
}

#[derive(Default)]
pub struct TierQuery;

#[Object]
impl TierQuery {
    /// The coalition's tiers, lowest first.
    async fn tiers(&self, ctx: &Context<'_>) -> Result<Vec<TierView>> {
        ctx.principal()?;
        let levels = tiers::levels(ctx.state()).await?;
        Ok(levels.iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct TierMutation;

#[Object]
impl TierMutation {
    /// Operator: replaces the coalition's tiers (1-10, the lowest at 0 points, multipliers
    /// 1-10 and never lower than a lower tier's). Members' tiers follow at once.
    async fn set_tiers(&self, ctx: &Context<'_>, tiers: Vec<TierInput>) -> Result<Vec<TierView>> {
        let levels = tiers
            .into_iter()
            .map(|t| TierLevel {
                name: t.name,
                min_points: t.min_points.0,
                earn_multiplier: t.earn_multiplier.0,
            })
            .collect();
        let saved = tiers::set_levels(ctx.state(), ctx.principal()?, levels).await?;
        Ok(saved.iter().map(Into::into).collect())
    }
}
