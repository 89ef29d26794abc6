use async_graphql::{ID, InputObject};

use crate::graphql::types::MemberRefInput;

#[derive(InputObject)]
pub(crate) struct AuthorizeRedemptionInput {
    pub partner_id: Option<ID>,
    pub member: MemberRefInput,
    pub points: i32,
    pub idempotency_key: String,
    pub reference: Option<String>,
    /// The code the member's app shows (`createPresenceCode`); without it the member must
    /// have consented to this partner (`grantPartnerConsent`, or enrolment here).
    pub presence_code: Option<String>,
    /// How long the hold lasts; the configured default when omitted.
    pub expires_in_seconds: Option<i32>,
}
