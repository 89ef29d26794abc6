use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::graphql::ContextExt;
use crate::graphql::scalars::BigInt;
use crate::graphql::types::BalanceView;
use crate::graphql::types::ExpiringPoints;
use crate::graphql::types::FamilyLink;
use crate::graphql::types::LedgerEntryKind;
use crate::graphql::types::LedgerEntryNode;
use crate::graphql::types::MemberTierView;
use crate::graphql::types::ledger_entry::entry_connection;
use crate::{
    auth::Principal,
    db::models::Member,
    db::models::ledger::EntryFilter,
    services::{ledger, tiers},
};

use crate::db::models::ledger::Balance;
use crate::error::AppError;
use crate::graphql::loaders::{self, MemberRow};
use crate::graphql::types::PartnerConsent;
use crate::services::{access, consents, family};

/// A member as the API shows it. `balance` is the member's balance row when it was loaded
/// with the member (the member DataLoader's query returns both); otherwise `balance` asks
/// the ledger.
pub(crate) struct MemberNode {
    pub member: Member,
    pub balance: Option<Balance>,
}

impl From<Member> for MemberNode {
    fn from(member: Member) -> Self {
        MemberNode {
            member,
            balance: None,
        }
    }
}

impl From<MemberRow> for MemberNode {
    fn from(row: MemberRow) -> Self {
        MemberNode {
            member: row.member,
            balance: row.balance,
        }
    }
}

impl MemberNode {
    /// A member by id, through the member DataLoader.
    pub(crate) async fn load(ctx: &Context<'_>, id: uuid::Uuid) -> Result<MemberNode> {
        Ok(loaders::member(ctx, id).await?.into())
    }

    /// The partners this member is linked to (a page of members costs one query).
    async fn linked_partners(&self, ctx: &Context<'_>) -> Result<Vec<uuid::Uuid>> {
        let links = loaders::member_links(ctx, self.member.id).await?;
        Ok(links.into_iter().map(|link| link.partner_id).collect())
    }

    /// Whether the caller may know who the member is (`access::may_know_member`).
    pub(crate) async fn known_to_caller(&self, ctx: &Context<'_>) -> Result<bool> {
        let principal = ctx.principal()?;
        if !matches!(principal, Principal::Partner { .. }) {
            return Ok(access::may_know_member(principal, self.member.id, &[]));
        }
        let linked = self.linked_partners(ctx).await?;
        Ok(access::may_know_member(principal, self.member.id, &linked))
    }

    /// `FORBIDDEN` unless the caller may see the member's points (`access::may_see_points`).
    async fn require_points_visible(&self, ctx: &Context<'_>) -> Result<()> {
        let principal = ctx.principal()?;
        let linked = match principal {
            Principal::Partner { .. } => self.linked_partners(ctx).await?,
            _ => Vec::new(),
        };
        Ok(access::may_see_points(principal, self.member.id, &linked)?)
    }
}

#[Object(name = "Member")]
impl MemberNode {
    /// The member's id: opaque, the same for every caller.
    async fn id(&self) -> ID {
        ID(self.member.id.to_string())
    }
    /// The card number: for the operator, the member itself, and partners the member is
    /// linked to; null for other partners.
    async fn member_number(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(self
            .known_to_caller(ctx)
            .await?
            .then_some(self.member.member_number.as_str()))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.member.created_at
    }
    /// The calling partner's customer id for this member (null for other callers).
    async fn partner_customer_id(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        match ctx.principal()? {
            Principal::Partner { partner_id, .. } => {
                let links = loaders::member_links(ctx, self.member.id).await?;
                Ok(links
                    .into_iter()
                    .find(|link| link.partner_id == *partner_id)
                    .map(|link| link.partner_customer_id))
            }
            _ => Ok(None),
        }
    }
    /// The member's points. Visible to the operator, the member, and partners with
    /// `members:read` the member is linked to.
    async fn balance(&self, ctx: &Context<'_>) -> Result<BalanceView> {
        self.require_points_visible(ctx).await?;
        let balance = match self.balance {
            Some(balance) => balance,
            None => ledger::balance(&ctx.state().ledger, self.member.id).await?,
        };
        Ok(balance.into())
    }
    /// Points expiring within the next `withinDays` days, by date.
    async fn expiring_points(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 30)] within_days: i32,
    ) -> Result<Vec<ExpiringPoints>> {
        self.require_points_visible(ctx).await?;
        let days = ledger::check_within_days(within_days)?;
        let rows = loaders::expiring(ctx, self.member.id, days).await?;
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
        self.require_points_visible(ctx).await?;
        let filter = EntryFilter {
            member_id: Some(self.member.id),
            kinds: kinds.map(|k| k.iter().map(|k| k.as_str().to_owned()).collect()),
            ..EntryFilter::default()
        };
        entry_connection(ctx, filter, first, after).await
    }
    /// The member's coalition tier: level, when it was reached, what keeps it, what is
    /// needed for the next. Visible to whoever may see the member's points.
    async fn tier(&self, ctx: &Context<'_>) -> Result<Option<MemberTierView>> {
        self.require_points_visible(ctx).await?;
        let inputs = loaders::tier_inputs(ctx, self.member.id).await?;
        let tier = tiers::member_tier(
            &inputs.levels,
            &inputs.earn_days,
            self.member.created_at.date_naive(),
        );
        Ok((!tier.levels.is_empty()).then_some(MemberTierView(tier)))
    }
    /// Family links and requests (the member itself and the operator only).
    async fn family_members(&self, ctx: &Context<'_>) -> Result<Vec<FamilyLink>> {
        access::may_see_family(ctx.principal()?, self.member.id)?;
        Ok(family::list(&ctx.state().db, self.member.id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
    /// How many partners this member is linked to (for whoever may know the member).
    async fn linked_partner_count(&self, ctx: &Context<'_>) -> Result<i32> {
        if !self.known_to_caller(ctx).await? {
            return Err(AppError::forbidden("this member is not linked to you").into());
        }
        let links = loaders::member_links(ctx, self.member.id).await?;
        Ok(i32::try_from(links.len()).unwrap_or(i32::MAX))
    }
    /// The member's birth date (the member itself and the operator only).
    async fn birth_date(&self, ctx: &Context<'_>) -> Result<Option<chrono::NaiveDate>> {
        Ok(crate::services::members::birth_date(
            &ctx.state().members,
            ctx.principal()?,
            self.member.id,
        )
        .await?)
    }
    /// Campaigns the member may switch on before shopping, and whether it has (the member
    /// itself only).
    async fn offers(&self, ctx: &Context<'_>) -> Result<Vec<crate::graphql::types::Offer>> {
        match ctx.principal()? {
            Principal::Member { member_id } if *member_id == self.member.id => {}
            _ => return Err(AppError::forbidden("offers are the member's own").into()),
        }
        let offers = crate::services::campaigns::offers(&ctx.state().db, self.member.id).await?;
        Ok(offers
            .into_iter()
            .map(|(row, activated)| crate::graphql::types::Offer {
                campaign: crate::graphql::types::CampaignNode(row),
                activated,
            })
            .collect())
    }
    /// The partners holding the member's standing consent (the member itself and the
    /// operator).
    async fn partner_consents(&self, ctx: &Context<'_>) -> Result<Vec<PartnerConsent>> {
        let list = consents::list(&ctx.state().db, ctx.principal()?, self.member.id).await?;
        Ok(list.into_iter().map(PartnerConsent).collect())
    }
}
