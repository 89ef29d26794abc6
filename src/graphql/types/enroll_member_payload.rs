use async_graphql::SimpleObject;

use crate::graphql::types::MemberNode;

#[derive(SimpleObject)]
pub(crate) struct EnrollMemberPayload {
    pub member: MemberNode,
    /// False when the customer id was already linked and the existing member is returned.
    pub created: bool,
    /// The referral code was attached. False without a code, or when the member was already
    /// referred at this partner or has earned here before (only a first earn converts).
    pub referral_attached: bool,
}
