use async_graphql::InputObject;

use crate::domain::partner::PartnerCategory;
use crate::graphql::scalars::Decimal;

#[derive(InputObject)]
pub(crate) struct CreatePartnerInput {
    pub name: String,
    /// Unique, URL-safe: 1-64 characters of a-z, 0-9 and '-'.
    pub slug: String,
    pub category: PartnerCategory,
    /// ISO 4217; the coalition currency when omitted.
    pub currency: Option<String>,
    /// Points earned per one unit of currency spent (0 to 10000, 4 decimals at most).
    pub earn_rate: Decimal,
    #[graphql(default = true)]
    pub accepts_redemptions: bool,
}
