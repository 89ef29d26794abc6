use async_graphql::{Context, ID, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::PartnerConsent;
use crate::graphql::types::PresenceCode;
use crate::services::consents;

#[derive(Default)]
pub(crate) struct ConsentMutation;

fn shaped(list: Vec<crate::db::models::consent::MemberConsent>) -> Vec<PartnerConsent> {
    list.into_iter().map(PartnerConsent).collect()
}

#[Object]
impl ConsentMutation {
    /// Member: a code to show at a till, valid about two minutes, used once.
    async fn create_presence_code(&self, ctx: &Context<'_>) -> Result<PresenceCode> {
        let created = consents::create_presence_code(&ctx.state().db, ctx.principal()?).await?;
        Ok(PresenceCode {
            code: created.code,
            expires_at: created.expires_at,
        })
    }

    /// Member: lets a partner redeem, hold, link and log the member in without a presence
    /// code (an online shop's account linking). Answers the member's consents.
    async fn grant_partner_consent(
        &self,
        ctx: &Context<'_>,
        partner_id: ID,
    ) -> Result<Vec<PartnerConsent>> {
        let partner_id = parse_id(&partner_id, "partnerId")?;
        let list = consents::grant(&ctx.state().db, ctx.principal()?, partner_id).await?;
        Ok(shaped(list))
    }

    /// Member: withdraws a consent at once. Answers the consents left.
    async fn revoke_partner_consent(
        &self,
        ctx: &Context<'_>,
        partner_id: ID,
    ) -> Result<Vec<PartnerConsent>> {
        let partner_id = parse_id(&partner_id, "partnerId")?;
        let list = consents::revoke(&ctx.state().db, ctx.principal()?, partner_id).await?;
        Ok(shaped(list))
    }
}
