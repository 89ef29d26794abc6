//! Coalition tiers: the levels (`tiers`, `setTiers`) and a member's standing (`Member.tier`).

use async_graphql::{Context, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::types::TierView;
use crate::services::tiers;

#[derive(Default)]
pub(crate) struct TierQuery;

#[Object]
impl TierQuery {
    /// The coalition's tiers, lowest first.
    async fn tiers(&self, ctx: &Context<'_>) -> Result<Vec<TierView>> {
        ctx.principal()?;
        let levels = tiers::levels(&ctx.state().db).await?;
        Ok(levels.iter().map(Into::into).collect())
    }
}
