use async_graphql::{ID, InputObject};

#[derive(InputObject)]
pub(crate) struct CreatePartnerCredentialsInput {
    pub partner_id: ID,
    /// Partner scopes, for example `points:issue`; the client may request any subset.
    pub scopes: Vec<String>,
}
