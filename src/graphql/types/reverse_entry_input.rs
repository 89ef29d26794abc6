use async_graphql::{ID, InputObject};

#[derive(InputObject)]
pub(crate) struct ReverseEntryInput {
    /// The partner's own earn (ISSUE) or redemption (REDEEM or CAPTURE).
    pub entry_id: ID,
    /// Points to reverse; what is left of the entry when omitted.
    pub points: Option<i32>,
    pub idempotency_key: String,
    pub reference: Option<String>,
}
