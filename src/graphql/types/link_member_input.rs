use async_graphql::{ID, InputObject};

use crate::graphql::types::MemberRefInput;

#[derive(InputObject)]
pub(crate) struct LinkMemberInput {
    /// Operator only; partners always act as themselves.
    pub partner_id: Option<ID>,
    /// The coalition member to link, by `memberId` or `memberNumber`.
    pub member: MemberRefInput,
    pub partner_customer_id: String,
    /// The code the member's app shows (`createPresenceCode`); without it the member must
    /// have consented to this partner (`grantPartnerConsent`, or enrolment here).
    pub presence_code: Option<String>,
}
