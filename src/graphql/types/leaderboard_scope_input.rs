use async_graphql::{ID, InputObject};

/// Whose board: one partner's, or the whole coalition's when `partnerId` is omitted.
#[derive(InputObject, Default)]
pub(crate) struct LeaderboardScopeInput {
    pub partner_id: Option<ID>,
}
