use async_graphql::{ID, InputObject};

#[derive(InputObject, Default)]
pub(crate) struct CreateReferralCodeInput {
    /// Partners and operators name the ambassador; an ambassador (member token) gets its own.
    pub ambassador_id: Option<ID>,
    /// Where the code may be used. A partner's codes are always its own; otherwise omitted
    /// means at any partner (the ambassador must be enrolled for the coalition).
    pub partner_id: Option<ID>,
}
