use async_graphql::InputObject;

use crate::graphql::scalars::BigInt;
use crate::graphql::scalars::Decimal;

#[derive(InputObject)]
pub(crate) struct TierInput {
    pub name: String,
    pub min_points: BigInt,
    pub earn_multiplier: Decimal,
}
