use async_graphql::SimpleObject;

use crate::graphql::types::PortalUserNode;

/// A new portal user. The first password is shown here once; the hub keeps only its hash.
#[derive(SimpleObject)]
pub(crate) struct CreatedPortalUser {
    pub user: PortalUserNode,
    pub password: String,
}
