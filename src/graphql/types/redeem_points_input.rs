use async_graphql::{ID, InputObject};

use crate::graphql::types::MemberRefInput;

#[derive(InputObject)]
pub(crate) struct RedeemPointsInput {
    pub partner_id: Option<ID>,
    /// The member must be linked to the partner.
    pub member: MemberRefInput,
    pub points: i32,
    pub idempotency_key: String,
    pub reference: Option<String>,
}
