use async_graphql::{Context, ID, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::{CreatePortalUserInput, CreatedPortalUser, PortalUserNode};
use crate::services::portal::{self, NewPortalUser};

#[derive(Default)]
pub(crate) struct PortalMutation;

#[Object]
impl PortalMutation {
    /// A person who signs in at `/login`: the operator creates anyone, a partner holding
    /// `partner:admin` its own staff. The answer holds the first password, shown this once.
    async fn create_portal_user(
        &self,
        ctx: &Context<'_>,
        input: CreatePortalUserInput,
    ) -> Result<CreatedPortalUser> {
        let partner_id = input
            .partner_id
            .map(|id| parse_id(&id, "partnerId"))
            .transpose()?;
        let created = portal::create_user(
            &ctx.state().db,
            ctx.principal()?,
            NewPortalUser {
                email: input.email,
                role: input.role,
                partner_id,
            },
        )
        .await?;
        Ok(CreatedPortalUser {
            user: PortalUserNode(created.user),
            password: created.password,
        })
    }

    /// A new password for a portal user, shown this once; its sessions end. The operator
    /// resets anyone's, a partner's admin its own staff's.
    async fn reset_portal_user_password(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<CreatedPortalUser> {
        let id = parse_id(&id, "id")?;
        let reset = portal::reset_password(&ctx.state().db, ctx.principal()?, id).await?;
        Ok(CreatedPortalUser {
            user: PortalUserNode(reset.user),
            password: reset.password,
        })
    }

    /// Disables a portal user and ends its sessions at once.
    async fn disable_portal_user(&self, ctx: &Context<'_>, id: ID) -> Result<PortalUserNode> {
        let id = parse_id(&id, "id")?;
        let user = portal::disable_user(&ctx.state().db, ctx.principal()?, id).await?;
        Ok(PortalUserNode(user))
    }
}
