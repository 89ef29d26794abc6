use async_graphql::SimpleObject;

use crate::domain::tiers::TierLevel;
use crate::graphql::scalars::BigInt;
use crate::graphql::scalars::Decimal;

/// One level of the coalition's tiers.
#[derive(SimpleObject, Clone)]
#[graphql(name = "Tier")]
pub(crate) struct TierView {
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
