use async_graphql::{ID, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::models::settlement::PartnerRate;
use crate::graphql::scalars::Decimal;

/// A rate card: money per point, in the coalition currency, from `effectiveFrom` on.
#[derive(SimpleObject)]
pub(crate) struct PartnerRates {
    pub partner_id: ID,
    /// Owed to the partner per point redeemed at it (by the partner that issued the point).
    pub redemption_value: Decimal,
    /// Owed by the partner to the hub per point it issues.
    pub issuance_fee: Decimal,
    pub effective_from: DateTime<Utc>,
    pub set_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<PartnerRate> for PartnerRates {
    fn from(r: PartnerRate) -> Self {
        PartnerRates {
            partner_id: ID(r.partner_id.to_string()),
            redemption_value: Decimal(r.redemption_value),
            issuance_fee: Decimal(r.issuance_fee),
            effective_from: r.effective_from,
            set_by: r.set_by,
            created_at: r.created_at,
        }
    }
}
