//! Coalition tiers: the levels (`tiers`, `setTiers`) and a member's standing (`Member.tier`).

use async_graphql::{Context, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::types::TierInput;
use crate::graphql::types::TierView;
use crate::{
    domain::tiers::TierLevel,
    services::tiers::{self},
};

#[derive(Default)]
pub(crate) struct TierMutation;

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
        let saved = tiers::set_levels(&ctx.state().db, ctx.principal()?, levels).await?;
        Ok(saved.iter().map(Into::into).collect())
    }
}
