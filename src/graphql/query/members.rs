use async_graphql::{Context, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::types::MemberNode;
use crate::graphql::types::MemberRefInput;
use crate::services::members;

#[derive(Default)]
pub(crate) struct MemberQuery;

#[Object]
impl MemberQuery {
    /// A member the caller may see: operators any, partners (`members:read`) their linked
    /// members, members themselves. Others are `NOT_FOUND`.
    async fn member(&self, ctx: &Context<'_>, r#ref: MemberRefInput) -> Result<MemberNode> {
        let member = members::get(&ctx.state().members, ctx.principal()?, &r#ref.to_ref()?).await?;
        Ok(MemberNode::from(member))
    }
}
