use async_graphql::{Context, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::types::Viewer;

#[derive(Default)]
pub(crate) struct ViewerQuery;

#[Object]
impl ViewerQuery {
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        let principal = ctx.principal()?;
        Ok(Viewer {
            role: principal.role(),
            subject: principal.subject(),
            scopes: principal.scopes().to_vec(),
        })
    }
}
