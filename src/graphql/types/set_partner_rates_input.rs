use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};

use crate::graphql::scalars::Decimal;

#[derive(InputObject)]
pub(crate) struct SetPartnerRatesInput {
    pub partner_id: ID,
    /// 0 to 1000 per point, at most 6 decimals.
    pub redemption_value: Decimal,
    /// 0 to 1000 per point, at most 6 decimals.
    pub issuance_fee: Decimal,
    /// Now when omitted; never inside a closed period.
    pub effective_from: Option<DateTime<Utc>>,
}
