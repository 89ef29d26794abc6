use async_graphql::{Context, Result, SimpleObject};

use crate::graphql::ContextExt;
use crate::graphql::types::MemberNode;
use crate::graphql::types::PartnerNode;
use crate::{
    auth::{Principal, Role},
    services::{members, partners},
};

/// Who the token says the caller is.
#[derive(SimpleObject)]
#[graphql(complex)]
pub(crate) struct Viewer {
    pub role: Role,
    /// The token's subject: operator name, partner id or member id.
    pub subject: String,
    pub scopes: Vec<String>,
}

#[async_graphql::ComplexObject]
impl Viewer {
    /// The calling partner, for partner tokens.
    async fn partner(&self, ctx: &Context<'_>) -> Result<Option<PartnerNode>> {
        match ctx.principal()? {
            principal @ Principal::Partner { partner_id, .. } => {
                let partner = partners::get(&ctx.state().db, principal, *partner_id).await?;
                Ok(Some(PartnerNode(partner)))
            }
            _ => Ok(None),
        }
    }

    /// The calling member, for member tokens.
    async fn member(&self, ctx: &Context<'_>) -> Result<Option<MemberNode>> {
        match ctx.principal()? {
            principal @ Principal::Member { member_id } => {
                let member = members::get(
                    &ctx.state().members,
                    principal,
                    &members::MemberRef::Id(*member_id),
                )
                .await?;
                Ok(Some(MemberNode::from(member)))
            }
            _ => Ok(None),
        }
    }
}
