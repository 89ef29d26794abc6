use async_graphql::{Context, Object, Result};

use crate::domain::portal::wallet_link;
use crate::graphql::ContextExt;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::EnrollMemberInput;
use crate::graphql::types::EnrollMemberPayload;
use crate::graphql::types::IssueMemberTokenInput;
use crate::graphql::types::LinkMemberInput;
use crate::graphql::types::MemberNode;
use crate::graphql::types::MemberToken;
use crate::{
    error::AppError,
    services::members::{self},
};

#[derive(Default)]
pub(crate) struct MemberMutation;

#[Object]
impl MemberMutation {
    /// Partner (`points:issue`) or operator: enrols a coalition member.
    async fn enroll_member(
        &self,
        ctx: &Context<'_>,
        input: EnrollMemberInput,
    ) -> Result<EnrollMemberPayload> {
        let partner_id = input
            .partner_id
            .as_ref()
            .map(|id| parse_id(id, "partnerId"))
            .transpose()?;
        let enrolment = members::enroll(
            &ctx.state().members,
            ctx.principal()?,
            partner_id,
            input.partner_customer_id,
            input.referral_code,
        )
        .await?;
        Ok(EnrollMemberPayload {
            member: MemberNode::from(enrolment.member),
            created: enrolment.created,
            referral_attached: enrolment.referral_attached,
        })
    }

    /// Partner (`points:issue`) or operator: links an existing member to the partner's own
    /// customer id. A partner needs the member's `presenceCode` or consent.
    async fn link_member(&self, ctx: &Context<'_>, input: LinkMemberInput) -> Result<MemberNode> {
        let partner_id = input
            .partner_id
            .as_ref()
            .map(|id| parse_id(id, "partnerId"))
            .transpose()?;
        let member = members::link(
            &ctx.state().members,
            ctx.principal()?,
            partner_id,
            input.member.to_ref()?,
            input.partner_customer_id,
            input.presence_code,
        )
        .await?;
        Ok(MemberNode::from(member))
    }

    /// Partner (`members:token`) or operator: a short-lived token for one linked member, for
    /// the partner's app backend to log the member in. A partner needs the member's
    /// `presenceCode` or consent (the partner the member enrolled at has it).
    async fn issue_member_token(
        &self,
        ctx: &Context<'_>,
        input: IssueMemberTokenInput,
    ) -> Result<MemberToken> {
        let state = ctx.state();
        let max = state.config.jwt.member_token_ttl;
        let ttl = match input.ttl_seconds {
            None => max,
            Some(s) if s >= 60 && (s as u64) <= max.as_secs() => {
                std::time::Duration::from_secs(s as u64)
            }
            Some(_) => {
                return Err(AppError::bad_input(format!(
                    "ttlSeconds must be between 60 and {}",
                    max.as_secs()
                ))
                .into());
            }
        };
        let (member, minted) = members::issue_member_token(
            &state.members,
            ctx.principal()?,
            &input.member.to_ref()?,
            input.presence_code,
            ttl,
        )
        .await?;
        Ok(MemberToken {
            wallet_link: wallet_link(state.config.public_url.as_deref(), &minted.token),
            token: minted.token,
            expires_at: minted.expires_at,
            member: MemberNode::from(member),
        })
    }
}
