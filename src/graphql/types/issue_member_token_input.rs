use async_graphql::InputObject;

use crate::graphql::types::MemberRefInput;

#[derive(InputObject)]
pub(crate) struct IssueMemberTokenInput {
    pub member: MemberRefInput,
    /// The code the member's app shows (`createPresenceCode`); without it the member must
    /// have consented to this partner (`grantPartnerConsent`, or enrolment here).
    pub presence_code: Option<String>,
    /// Lifetime in seconds, at most the configured member token lifetime (the default).
    pub ttl_seconds: Option<i32>,
}
