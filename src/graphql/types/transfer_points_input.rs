use async_graphql::InputObject;

#[derive(InputObject)]
pub(crate) struct TransferPointsInput {
    /// The linked family member's card number.
    pub to_member_number: String,
    pub points: i32,
    pub idempotency_key: String,
}
