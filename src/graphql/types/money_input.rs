use async_graphql::InputObject;

use crate::graphql::scalars::Decimal;

#[derive(InputObject)]
pub(crate) struct MoneyInput {
    pub amount: Decimal,
    /// ISO 4217; must be the partner's currency.
    pub currency: String,
}
