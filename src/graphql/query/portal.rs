use async_graphql::{Context, ID, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::PortalUserNode;
use crate::services::portal;

#[derive(Default)]
pub(crate) struct PortalQuery;

#[Object]
impl PortalQuery {
    /// The people who sign in to the pages: for the operator everyone (or one partner's,
    /// `partnerId`), for a partner holding `partner:admin` its own staff.
    async fn portal_users(
        &self,
        ctx: &Context<'_>,
        partner_id: Option<ID>,
    ) -> Result<Vec<PortalUserNode>> {
        let partner_id = partner_id
            .map(|id| parse_id(&id, "partnerId"))
            .transpose()?;
        let rows = portal::list_users(&ctx.state().db, ctx.principal()?, partner_id).await?;
        Ok(rows.into_iter().map(PortalUserNode).collect())
    }
}
