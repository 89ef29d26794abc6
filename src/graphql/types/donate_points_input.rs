use async_graphql::{ID, InputObject};

#[derive(InputObject)]
pub(crate) struct DonatePointsInput {
    /// The charity partner.
    pub partner_id: ID,
    pub points: i32,
    pub idempotency_key: String,
}
