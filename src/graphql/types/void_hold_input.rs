use async_graphql::{ID, InputObject};

#[derive(InputObject)]
pub(crate) struct VoidHoldInput {
    pub hold_id: ID,
    pub idempotency_key: String,
}
