use async_graphql::{Context, ID, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::{
    CreateWebhookSubscriptionInput, CreatedWebhookSubscription, UpdateWebhookSubscriptionInput,
    WebhookSubscriptionNode,
};
use crate::services::webhooks::{self, NewSubscription, SubscriptionUpdate};

#[derive(Default)]
pub(crate) struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// A partner subscribes itself; the operator the coalition (every event) or a partner.
    /// The answer holds the signing secret, shown this once.
    async fn create_webhook_subscription(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookSubscriptionInput,
    ) -> Result<CreatedWebhookSubscription> {
        let partner_id = input
            .partner_id
            .map(|id| parse_id(&id, "partnerId"))
            .transpose()?;
        let created = webhooks::create(
            &ctx.state().webhooks,
            ctx.principal()?,
            NewSubscription {
                partner_id,
                url: input.url,
                event_types: input.event_types,
            },
        )
        .await?;
        Ok(CreatedWebhookSubscription {
            subscription: WebhookSubscriptionNode(created.subscription),
            secret: created.secret,
        })
    }

    /// Changes the URL or event types, pauses or resumes.
    async fn update_webhook_subscription(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookSubscriptionInput,
    ) -> Result<WebhookSubscriptionNode> {
        let id = parse_id(&id, "id")?;
        let row = webhooks::update(
            &ctx.state().webhooks,
            ctx.principal()?,
            id,
            SubscriptionUpdate {
                url: input.url,
                event_types: input.event_types,
                paused: input.paused,
            },
        )
        .await?;
        Ok(WebhookSubscriptionNode(row))
    }

    /// Deletes the subscription with its deliveries' history.
    async fn delete_webhook_subscription(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = parse_id(&id, "id")?;
        webhooks::delete(&ctx.state().webhooks, ctx.principal()?, id).await?;
        Ok(true)
    }

    /// Sends one event to the subscription again (queued after its waiting deliveries);
    /// answers the new delivery's id.
    async fn redeliver_webhook_event(
        &self,
        ctx: &Context<'_>,
        event_id: ID,
        subscription_id: ID,
    ) -> Result<ID> {
        let event = parse_id(&event_id, "eventId")?;
        let subscription = parse_id(&subscription_id, "subscriptionId")?;
        let id = webhooks::redeliver(&ctx.state().webhooks, ctx.principal()?, event, subscription)
            .await?;
        Ok(ID(id.to_string()))
    }
}
