use async_graphql::{Context, ID, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::CampaignInput;
use crate::graphql::types::CampaignNode;
use crate::graphql::types::Offer;
use crate::services::campaigns;

#[derive(Default)]
pub(crate) struct CampaignMutation;

#[Object]
impl CampaignMutation {
    /// Partner: a campaign on its own earns, sponsored by itself. Operator: for one partner
    /// or every partner, sponsored by a partner it names.
    async fn create_campaign(
        &self,
        ctx: &Context<'_>,
        input: CampaignInput,
    ) -> Result<CampaignNode> {
        let state = ctx.state();
        let row = campaigns::create(
            &state.db,
            &state.ledger.campaigns,
            ctx.principal()?,
            input.settings()?,
        )
        .await?;
        Ok(CampaignNode(row))
    }

    /// Replaces a campaign's settings (its partner and sponsor stay).
    async fn update_campaign(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: CampaignInput,
    ) -> Result<CampaignNode> {
        let state = ctx.state();
        let id = parse_id(&id, "id")?;
        let row = campaigns::update(
            &state.db,
            &state.ledger.campaigns,
            ctx.principal()?,
            id,
            input.settings()?,
        )
        .await?;
        Ok(CampaignNode(row))
    }

    /// Ends a campaign now: no bonus after it, whatever its window.
    async fn end_campaign(&self, ctx: &Context<'_>, id: ID) -> Result<CampaignNode> {
        let state = ctx.state();
        let id = parse_id(&id, "id")?;
        let row = campaigns::end(&state.db, &state.ledger.campaigns, ctx.principal()?, id).await?;
        Ok(CampaignNode(row))
    }

    /// Member (its own) or operator (`memberId`): sets or clears the birth date, for
    /// birthday campaigns.
    async fn set_birth_date(
        &self,
        ctx: &Context<'_>,
        member_id: Option<ID>,
        birth_date: Option<chrono::NaiveDate>,
    ) -> Result<Option<chrono::NaiveDate>> {
        let principal = ctx.principal()?;
        let member_id = match (member_id, principal) {
            (Some(id), _) => parse_id(&id, "memberId")?,
            (None, crate::auth::Principal::Member { member_id }) => *member_id,
            (None, _) => {
                return Err(crate::error::AppError::bad_input("memberId is required").into());
            }
        };
        Ok(crate::services::members::set_birth_date(
            &ctx.state().members,
            principal,
            member_id,
            birth_date,
        )
        .await?)
    }

    /// Member: switches an offer on before shopping.
    async fn activate_offer(&self, ctx: &Context<'_>, campaign_id: ID) -> Result<Offer> {
        let id = parse_id(&campaign_id, "campaignId")?;
        let row = campaigns::activate(&ctx.state().db, ctx.principal()?, id).await?;
        Ok(Offer {
            campaign: CampaignNode(row),
            activated: true,
        })
    }
}
