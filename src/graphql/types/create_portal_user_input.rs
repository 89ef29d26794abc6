use async_graphql::{ID, InputObject};

use crate::domain::portal::PortalRole;

#[derive(InputObject)]
pub(crate) struct CreatePortalUserInput {
    pub email: String,
    /// An admin changes things; staff read.
    pub role: PortalRole,
    /// The partner whose staff the user is. The operator may leave it out (its own staff);
    /// a partner's admin names itself or nothing.
    pub partner_id: Option<ID>,
}
