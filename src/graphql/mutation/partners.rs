use async_graphql::{Context, ID, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::CreatePartnerCredentialsInput;
use crate::graphql::types::CreatePartnerInput;
use crate::graphql::types::CreatedCredentials;
use crate::graphql::types::PartnerCredential;
use crate::graphql::types::PartnerNode;
use crate::graphql::types::UpdatePartnerInput;
use crate::services::{credentials, partners};

#[derive(Default)]
pub(crate) struct PartnerMutation;

#[Object]
impl PartnerMutation {
    /// Operator: admits a partner to the coalition.
    async fn create_partner(
        &self,
        ctx: &Context<'_>,
        input: CreatePartnerInput,
    ) -> Result<PartnerNode> {
        let state = ctx.state();
        let partner = partners::create(
            &state.db,
            ctx.principal()?,
            &state.config.currency,
            partners::NewPartner {
                name: input.name,
                slug: input.slug,
                category: input.category,
                currency: input.currency,
                earn_rate: input.earn_rate.0,
                accepts_redemptions: input.accepts_redemptions,
            },
        )
        .await?;
        Ok(PartnerNode(partner))
    }

    /// Operator: changes a partner, including suspending and reactivating it.
    async fn update_partner(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdatePartnerInput,
    ) -> Result<PartnerNode> {
        let id = parse_id(&id, "id")?;
        let partner = partners::update(
            &ctx.state().db,
            &ctx.state().partners,
            ctx.principal()?,
            id,
            partners::PartnerUpdate {
                name: input.name,
                category: input.category,
                earn_rate: input.earn_rate.map(|d| d.0),
                accepts_redemptions: input.accepts_redemptions,
                status: input.status,
                referral_score: input.referral_score.map(i64::from),
                referral_reward_points: input.referral_reward_points.map(i64::from),
                applies_tier_multiplier: input.applies_tier_multiplier,
                return_window_days: input.return_window_days,
            },
        )
        .await?;
        Ok(PartnerNode(partner))
    }

    /// New OAuth2 client credentials for a partner (`POST /oauth/token`): the operator for
    /// any partner, a partner holding `partner:admin` for itself (scopes it holds only).
    async fn create_partner_credentials(
        &self,
        ctx: &Context<'_>,
        input: CreatePartnerCredentialsInput,
    ) -> Result<CreatedCredentials> {
        let partner_id = parse_id(&input.partner_id, "partnerId")?;
        let created =
            credentials::create(&ctx.state().db, ctx.principal()?, partner_id, &input.scopes)
                .await?;
        let view = PartnerCredential::from(created.credential);
        Ok(CreatedCredentials {
            client_id: view.client_id,
            client_secret: created.client_secret,
            scopes: view.scopes,
            created_at: view.created_at,
        })
    }

    /// Revokes credentials (the operator any, a `partner:admin` its own); tokens already
    /// issued run out with their lifetime.
    async fn revoke_partner_credentials(
        &self,
        ctx: &Context<'_>,
        client_id: String,
    ) -> Result<bool> {
        credentials::revoke(&ctx.state().db, ctx.principal()?, &client_id).await?;
        Ok(true)
    }
}
