use async_graphql::{Context, ID, Object, Result, connection::Connection};

use crate::graphql::ContextExt;
use crate::graphql::page::{Cursor, Page};
use crate::graphql::scalars::parse_id;
use crate::graphql::types::{WebhookDeliveryNode, WebhookSubscriptionNode};
use crate::services::webhooks;

#[derive(Default)]
pub(crate) struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// A partner's own subscriptions; for the operator every subscription, or one
    /// partner's (`partnerId`).
    async fn webhook_subscriptions(
        &self,
        ctx: &Context<'_>,
        partner_id: Option<ID>,
    ) -> Result<Vec<WebhookSubscriptionNode>> {
        let partner_id = partner_id
            .map(|id| parse_id(&id, "partnerId"))
            .transpose()?;
        let rows = webhooks::list(&ctx.state().webhooks, ctx.principal()?, partner_id).await?;
        Ok(rows.into_iter().map(WebhookSubscriptionNode).collect())
    }

    async fn webhook_subscription(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<WebhookSubscriptionNode> {
        let id = parse_id(&id, "id")?;
        let row = webhooks::get(&ctx.state().webhooks, ctx.principal()?, id).await?;
        Ok(WebhookSubscriptionNode(row))
    }

    /// Attempts to deliver the subscription's events, newest first.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        subscription_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, WebhookDeliveryNode>> {
        let state = ctx.state();
        let subscription = parse_id(&subscription_id, "subscriptionId")?;
        let page = Page::new(first, after, state.config.limits.max_page_size)?;
        let rows = webhooks::deliveries(
            &state.webhooks,
            ctx.principal()?,
            subscription,
            page.after.map(|c| c.id),
            page.limit(),
        )
        .await?;
        Ok(page.connection(
            rows,
            |a| Cursor {
                at: a.attempted_at,
                id: a.id,
            },
            WebhookDeliveryNode,
        ))
    }
}
