use async_graphql::InputObject;

use crate::graphql::types::MemberRefInput;

#[derive(InputObject)]
pub(crate) struct IssueMemberTokenInput {
    pub member: MemberRefInput,
    /// Lifetime in seconds, at most the configured member token lifetime (the default).
    pub ttl_seconds: Option<i32>,
}
