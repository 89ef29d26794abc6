use async_graphql::{ID, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::models::ambassador::ReferralCode;

#[derive(SimpleObject)]
pub(crate) struct ReferralCodeNode {
    pub code: String,
    pub ambassador_id: ID,
    /// Where the code may be used; any partner when null.
    pub partner_id: Option<ID>,
    pub created_at: DateTime<Utc>,
}

impl From<ReferralCode> for ReferralCodeNode {
    fn from(r: ReferralCode) -> Self {
        ReferralCodeNode {
            code: r.code,
            ambassador_id: ID(r.ambassador_id.to_string()),
            partner_id: r.partner_id.map(|id| ID(id.to_string())),
            created_at: r.created_at,
        }
    }
}
