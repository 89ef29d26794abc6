use async_graphql::{ID, InputObject};

use crate::graphql::types::MemberRefInput;

#[derive(InputObject)]
pub(crate) struct EnrollAmbassadorInput {
    /// Operator only: the partner to enrol for; omitted, the whole coalition. Partners
    /// always enrol for themselves.
    pub partner_id: Option<ID>,
    /// A member linked to the calling partner.
    pub member: MemberRefInput,
    /// Public name on the boards: 3-32 letters, digits, '_', '.', '-'.
    pub handle: String,
}
