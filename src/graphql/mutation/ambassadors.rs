//! Ambassadors and leaderboards. Board fields carry handles and scores only: nothing on a
//! board names a member (no member id, number or customer id).

use async_graphql::{Context, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::scalars::optional_id;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::ActivityNode;
use crate::graphql::types::AmbassadorNode;
use crate::graphql::types::CreateReferralCodeInput;
use crate::graphql::types::EnrollAmbassadorInput;
use crate::graphql::types::RecordAmbassadorActivityInput;
use crate::graphql::types::ReferralCodeNode;
use crate::services::ambassadors::{self, ActivityInput, EnrollInput};

#[derive(Default)]
pub(crate) struct AmbassadorMutation;

#[Object]
impl AmbassadorMutation {
    /// Partner (`ambassadors:write`) for itself, or operator for a partner or the coalition:
    /// makes a member an ambassador with a public handle. Enrolling again adds the scope.
    async fn enroll_ambassador(
        &self,
        ctx: &Context<'_>,
        input: EnrollAmbassadorInput,
    ) -> Result<AmbassadorNode> {
        let enrolled = ambassadors::enroll(
            &ctx.state().ambassadors,
            ctx.principal()?,
            EnrollInput {
                partner_id: optional_id(&input.partner_id, "partnerId")?,
                member: input.member.to_ref()?,
                handle: input.handle,
            },
        )
        .await?;
        Ok(AmbassadorNode {
            ambassador: enrolled.ambassador,
            scopes: enrolled.scopes,
        })
    }

    /// Partner (`ambassadors:write`): scores an ambassador's activity, once per idempotency
    /// key, with optional reward points issued by the partner in the same transaction.
    async fn record_ambassador_activity(
        &self,
        ctx: &Context<'_>,
        input: RecordAmbassadorActivityInput,
    ) -> Result<ActivityNode> {
        let (activity, replayed) = ambassadors::record_activity(
            &ctx.state().ambassadors,
            ctx.principal()?,
            ActivityInput {
                partner_id: optional_id(&input.partner_id, "partnerId")?,
                ambassador_id: parse_id(&input.ambassador_id, "ambassadorId")?,
                kind: input.kind.as_str(),
                score: input.score.into(),
                reward_points: input.reward_points.map(i64::from),
                idempotency_key: input.idempotency_key,
                occurred_at: input.occurred_at,
                reference: input.reference,
            },
        )
        .await?;
        Ok(ActivityNode { activity, replayed })
    }

    /// A new referral code for an ambassador (see `CreateReferralCodeInput`).
    async fn create_referral_code(
        &self,
        ctx: &Context<'_>,
        input: Option<CreateReferralCodeInput>,
    ) -> Result<ReferralCodeNode> {
        let input = input.unwrap_or_default();
        let code = ambassadors::create_referral_code(
            &ctx.state().ambassadors,
            ctx.principal()?,
            optional_id(&input.ambassador_id, "ambassadorId")?,
            optional_id(&input.partner_id, "partnerId")?,
        )
        .await?;
        Ok(code.into())
    }
}
