use async_graphql::{Context, ID, InputObject, Object, OneofObject, Result, SimpleObject};
use chrono::{DateTime, Utc};

use async_graphql::connection::Connection;

use super::{
    ContextExt,
    family::{FamilyLink, family_links},
    ledger::{BalanceView, ExpiringPoints, LedgerEntryKind, LedgerEntryNode, entry_connection},
    partners::parse_id,
    scalars::BigInt,
    tiers::MemberTierView,
};
use crate::{
    auth::Principal,
    db::models::Member,
    db::models::ledger::EntryFilter,
    error::AppError,
    services::{
        ledger,
        members::{self, MemberRef},
        tiers,
    },
};

fn may_see_points(principal: &Principal) -> Result<(), AppError> {
    match principal {
        Principal::Partner { .. } => principal
            .require_partner_scope(crate::auth::Scope::MembersRead)
            .map(drop),
        _ => Ok(()),
    }
}

/// Exactly one way of naming a member.
#[derive(OneofObject, Clone)]
pub enum MemberRefInput {
    MemberId(ID),
    /// The 16-digit number on the member's card (spaces and dashes allowed).
    MemberNumber(String),
    /// The calling partner's own customer id for the member.
    PartnerCustomerId(String),
}

impl MemberRefInput {
    pub fn to_ref(&self) -> Result<MemberRef, AppError> {
        Ok(match self {
            MemberRefInput::MemberId(id) => MemberRef::Id(parse_id(id, "memberId")?),
            MemberRefInput::MemberNumber(n) => MemberRef::Number(n.clone()),
            MemberRefInput::PartnerCustomerId(c) => MemberRef::PartnerCustomerId(c.clone()),
        })
    }
}

pub struct MemberNode(pub Member);

#[Object(name = "Member")]
impl MemberNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn member_number(&self) -> &str {
        &self.0.member_number
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The calling partner's customer id for this member (null for other callers).
    async fn partner_customer_id(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        match ctx.principal()? {
            Principal::Partner { partner_id, .. } => {
                Ok(members::customer_id_for(&ctx.state().db, *partner_id, self.0.id).await?)
            }
            _ => Ok(None),
        }
    }
    /// The member's points. Visible to the operator, the member, and partners with
    /// `members:read`.
    async fn balance(&self, ctx: &Context<'_>) -> Result<BalanceView> {
        may_see_points(ctx.principal()?)?;
        Ok(ledger::balance(ctx.state(), self.0.id).await?.into())
    }
    /// Points expiring within the next `withinDays` days, by date.
    async fn expiring_points(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 30)] within_days: i32,
    ) -> Result<Vec<ExpiringPoints>> {
        may_see_points(ctx.principal()?)?;
        let rows = ledger::expiring(ctx.state(), self.0.id, i64::from(within_days)).await?;
        Ok(rows
            .into_iter()
            .map(|(date, points)| ExpiringPoints {
                date,
                points: BigInt(points),
            })
            .collect())
    }
    /// The member's entries, newest first (for a partner: the entries with that partner).
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        kinds: Option<Vec<LedgerEntryKind>>,
    ) -> Result<Connection<String, LedgerEntryNode>> {
        may_see_points(ctx.principal()?)?;
        let filter = EntryFilter {
            member_id: Some(self.0.id),
            kinds: kinds.map(|k| k.iter().map(|k| k.as_str().to_owned()).collect()),
            ..EntryFilter::default()
        };
        entry_connection(ctx, filter, first, after).await
    }
    /// The member's coalition tier: level, when it was reached, what keeps it, what is
    /// needed for the next. Visible to whoever may see the member's points.
    async fn tier(&self, ctx: &Context<'_>) -> Result<Option<MemberTierView>> {
        may_see_points(ctx.principal()?)?;
        let tier = tiers::of_member(ctx.state(), self.0.id, self.0.created_at.date_naive()).await?;
        Ok((!tier.levels.is_empty()).then_some(MemberTierView(tier)))
    }
    /// Family links and requests (the member itself and the operator only).
    async fn family_members(&self, ctx: &Context<'_>) -> Result<Vec<FamilyLink>> {
        match ctx.principal()? {
            Principal::Member { member_id } if *member_id == self.0.id => {}
            Principal::Operator { .. } => {}
            _ => return Err(AppError::forbidden("family links are the member's own").into()),
        }
        family_links(ctx, self.0.id).await
    }
    /// How many partners this member is linked to.
    async fn linked_partner_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let links = members::links(&ctx.state().db, self.0.id).await?;
        Ok(links.len() as i32)
    }
}

#[derive(InputObject)]
pub struct EnrollMemberInput {
    /// Operator only: the partner to link the member to. Partners always act as themselves.
    pub partner_id: Option<ID>,
    /// The partner's own customer id; enrolling one that is already linked returns its member.
    pub partner_customer_id: Option<String>,
    /// An ambassador's referral code given by the member; it converts on the member's first
    /// earn at this partner.
    pub referral_code: Option<String>,
}

#[derive(SimpleObject)]
pub struct EnrollMemberPayload {
    pub member: MemberNode,
    /// False when the customer id was already linked and the existing member is returned.
    pub created: bool,
    /// The referral code was attached. False without a code, or when the member was already
    /// referred at this partner or has earned here before (only a first earn converts).
    pub referral_attached: bool,
}

#[derive(InputObject)]
pub struct LinkMemberInput {
    /// Operator only; partners always act as themselves.
    pub partner_id: Option<ID>,
    /// The coalition member to link, by `memberId` or `memberNumber`.
    pub member: MemberRefInput,
    pub partner_customer_id: String,
}

#[derive(InputObject)]
pub struct IssueMemberTokenInput {
    pub member: MemberRefInput,
    /// Lifetime in seconds, at most the configured member token lifetime (the default).
    pub ttl_seconds: Option<i32>,
}

#[derive(SimpleObject)]
pub struct MemberToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub member: MemberNode,
}

#[derive(Default)]
pub struct MemberQuery;

#[Object]
impl MemberQuery {
    /// A member the caller may see: operators any, partners (`members:read`) their linked
    /// members, members themselves. Others are `NOT_FOUND`.
    async fn member(&self, ctx: &Context<'_>, r#ref: MemberRefInput) -> Result<MemberNode> {
        let member = members::get(&ctx.state().db, ctx.principal()?, &r#ref.to_ref()?).await?;
        Ok(MemberNode(member))
    }
}

#[derive(Default)]
pub struct MemberMutation;

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
            &ctx.state().db,
            ctx.principal()?,
            partner_id,
            input.partner_customer_id,
            input.referral_code,
        )
        .await?;
        Ok(EnrollMemberPayload {
            member: MemberNode(enrolment.member),
            created: enrolment.created,
            referral_attached: enrolment.referral_attached,
        })
    }

    /// Partner (`points:issue`) or operator: links an existing member to the partner's own
    /// customer id.
    async fn link_member(&self, ctx: &Context<'_>, input: LinkMemberInput) -> Result<MemberNode> {
        let partner_id = input
            .partner_id
            .as_ref()
            .map(|id| parse_id(id, "partnerId"))
            .transpose()?;
        let member = members::link(
            &ctx.state().db,
            ctx.principal()?,
            partner_id,
            input.member.to_ref()?,
            input.partner_customer_id,
        )
        .await?;
        Ok(MemberNode(member))
    }

    /// Partner (`members:token`) or operator: a short-lived token for one linked member, for
    /// the partner's app backend to log the member in.
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
            &state.db,
            &state.keys,
            ctx.principal()?,
            &input.member.to_ref()?,
            ttl,
        )
        .await?;
        Ok(MemberToken {
            token: minted.token,
            expires_at: minted.expires_at,
            member: MemberNode(member),
        })
    }
}
