use async_graphql::{ID, InputObject};

#[derive(InputObject)]
pub(crate) struct CaptureHoldInput {
    pub hold_id: ID,
    /// Points to capture; the whole hold when omitted. The rest returns to the member.
    pub points: Option<i32>,
    pub idempotency_key: String,
}
