use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};

use crate::graphql::types::MemberRefInput;
use crate::graphql::types::MoneyInput;
use crate::graphql::types::PurchaseLineInput;

#[derive(InputObject)]
pub(crate) struct IssuePointsInput {
    /// Operator only; partners always issue as themselves.
    pub partner_id: Option<ID>,
    /// An unknown `partnerCustomerId` enrols the member.
    pub member: MemberRefInput,
    /// Exactly one of `points` and `purchase`.
    pub points: Option<i32>,
    /// Points from the partner's earn rate, rounded down.
    pub purchase: Option<MoneyInput>,
    pub idempotency_key: String,
    pub reference: Option<String>,
    /// When the points expire; the coalition's default lifetime when omitted.
    pub expires_at: Option<DateTime<Utc>>,
    /// An ambassador's referral code given by the member. It converts when this is the
    /// member's first earn at this partner; it is ignored when the member has earned here
    /// before or was already referred here.
    pub referral_code: Option<String>,
    /// What was bought, for campaigns on a category or SKU (at most 100 lines).
    pub lines: Option<Vec<PurchaseLineInput>>,
}
