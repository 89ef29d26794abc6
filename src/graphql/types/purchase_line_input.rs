use async_graphql::InputObject;

use crate::graphql::scalars::Decimal;

/// One line of a purchase, for campaigns on a category or a SKU.
#[derive(InputObject)]
pub(crate) struct PurchaseLineInput {
    pub sku: String,
    pub category: Option<String>,
    pub quantity: i32,
    pub amount: Decimal,
}
