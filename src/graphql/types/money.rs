use async_graphql::SimpleObject;

use crate::graphql::scalars::Decimal;

#[derive(SimpleObject)]
pub(crate) struct Money {
    pub amount: Decimal,
    pub currency: String,
}
