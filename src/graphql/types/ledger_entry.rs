use async_graphql::{Context, ID, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};

use crate::graphql::ContextExt;
use crate::graphql::page::Cursor;
use crate::graphql::page::Page;
use crate::graphql::scalars::BigInt;
use crate::graphql::scalars::Decimal;
use crate::graphql::types::HoldNode;
use crate::graphql::types::LedgerEntryKind;
use crate::graphql::types::MemberNode;
use crate::graphql::types::Money;
use crate::graphql::types::PartnerNode;
use crate::{
    db::models::ledger::{EntryFilter, JournalEntry},
    services::ledger::{self},
};

use crate::db::models::Partner;
use crate::graphql::loaders::{self, MemberRow};
use crate::services::access;

/// An entry, and its member and partner when the page it is on loaded them for all its
/// entries at once (see [`entry_connection`]).
pub(crate) struct LedgerEntryNode {
    pub entry: JournalEntry,
    pub member: Option<MemberRow>,
    pub partner: Option<Partner>,
}

impl From<JournalEntry> for LedgerEntryNode {
    fn from(entry: JournalEntry) -> Self {
        LedgerEntryNode {
            entry,
            member: None,
            partner: None,
        }
    }
}

impl LedgerEntryNode {
    /// An entry the caller may see (`NOT_FOUND` otherwise), through the entry DataLoader.
    pub(crate) async fn load_visible(ctx: &Context<'_>, id: uuid::Uuid) -> Result<LedgerEntryNode> {
        let entry = loaders::entry(ctx, id).await?;
        Ok(LedgerEntryNode::from(access::visible_entry(
            ctx.principal()?,
            entry,
        )?))
    }
}

#[Object(name = "LedgerEntry")]
impl LedgerEntryNode {
    async fn id(&self) -> ID {
        ID(self.entry.id.to_string())
    }
    async fn kind(&self) -> Result<LedgerEntryKind> {
        Ok(LedgerEntryKind::parse(&self.entry.kind)?)
    }
    /// For a capture or void, the hold's points; see `hold.capturedPoints`.
    async fn points(&self) -> BigInt {
        BigInt(self.entry.points)
    }
    /// Part of the points that repaid a points debt.
    async fn debt_repaid(&self) -> BigInt {
        BigInt(self.entry.debt_repaid)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.entry.created_at
    }
    async fn reference(&self) -> Option<&str> {
        self.entry.reference.as_deref()
    }
    /// The partner the entry is with (none for expiries).
    async fn partner(&self, ctx: &Context<'_>) -> Result<Option<PartnerNode>> {
        match &self.partner {
            Some(partner) => Ok(Some(PartnerNode(partner.clone()))),
            None => PartnerNode::load(ctx, self.entry.partner_id).await,
        }
    }
    async fn member(&self, ctx: &Context<'_>) -> Result<MemberNode> {
        match &self.member {
            Some(member) => Ok(member.clone().into()),
            None => MemberNode::load(ctx, self.entry.member_id).await,
        }
    }
    /// The purchase an earn was computed from.
    async fn purchase(&self) -> Option<Money> {
        match (&self.entry.purchase_amount, &self.entry.purchase_currency) {
            (Some(amount), Some(currency)) => Some(Money {
                amount: Decimal(amount.clone()),
                currency: currency.clone(),
            }),
            _ => None,
        }
    }
    async fn earn_rate(&self) -> Option<Decimal> {
        self.entry.earn_rate.clone().map(Decimal)
    }
    /// The member's tier multiplier this earn applied (the partner opted in); null if none.
    async fn tier_multiplier(&self) -> Option<Decimal> {
        self.entry.tier_multiplier.clone().map(Decimal)
    }
    /// For a transfer: the other member's card number.
    async fn transfer_member_number(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let is_transfer = matches!(self.entry.kind.as_str(), "TRANSFER_OUT" | "TRANSFER_IN");
        match self.entry.related_entry_id.filter(|_| is_transfer) {
            None => Ok(None),
            Some(id) => Ok(loaders::member_number_of_entry(ctx, id).await?),
        }
    }
    /// An earn or bonus booked pending (the partner's return window): when its points
    /// become available. A reversal: it cancelled points that were still pending (no debt).
    async fn available_at(&self) -> Option<DateTime<Utc>> {
        self.entry.available_at
    }
    /// For a RELEASE: the earn or bonus whose pending points it made available.
    async fn releases(&self, ctx: &Context<'_>) -> Result<Option<LedgerEntryNode>> {
        match self
            .entry
            .related_entry_id
            .filter(|_| self.entry.kind == "RELEASE")
        {
            None => Ok(None),
            Some(id) => Ok(Some(LedgerEntryNode::load_visible(ctx, id).await?)),
        }
    }
    /// The entry this one reverses.
    async fn reverses(&self, ctx: &Context<'_>) -> Result<Option<LedgerEntryNode>> {
        match self.entry.reverses_entry_id {
            None => Ok(None),
            Some(id) => Ok(Some(LedgerEntryNode::load_visible(ctx, id).await?)),
        }
    }
    /// Points of this entry reversed so far (earns and redemptions).
    async fn reversed_points(&self, ctx: &Context<'_>) -> Result<BigInt> {
        Ok(BigInt(loaders::reversed_points(ctx, self.entry.id).await?))
    }
    /// For an earn: the campaign bonuses booked with it. For a bonus: its campaign.
    async fn bonuses(&self, ctx: &Context<'_>) -> Result<Vec<crate::graphql::types::BonusNode>> {
        if self.entry.kind != "ISSUE" {
            return Ok(Vec::new());
        }
        crate::graphql::types::bonus::bonuses_of(ctx, self.entry.id).await
    }
    async fn campaign_id(&self) -> Option<ID> {
        self.entry.campaign_id.map(|id| ID(id.to_string()))
    }
    async fn hold(&self, ctx: &Context<'_>) -> Result<Option<HoldNode>> {
        match self.entry.hold_id {
            None => Ok(None),
            Some(id) => Ok(Some(HoldNode::load_visible(ctx, id).await?)),
        }
    }
}

/// Lists entries newest first.
pub(crate) async fn entry_connection(
    ctx: &Context<'_>,
    filter: EntryFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, LedgerEntryNode>> {
    let state = ctx.state();
    let page = Page::new(first, after, state.config.limits.max_page_size)?;
    let filter = ledger::visible_filter(ctx.principal()?, filter)?;
    // A member's first page (the home screen's) goes through the DataLoader, which reads
    // the first pages of concurrent requests together; other pages read on their own.
    let rows = match filter.only_member() {
        Some(member) if page.after.is_none() => {
            loaders::latest_entries(ctx, member, page.limit()).await?
        }
        _ => {
            let before = page.after.map(|c| c.id);
            ledger::entries(
                &state.ledger,
                ctx.principal()?,
                filter,
                before,
                page.limit(),
            )
            .await?
        }
    };
    // The page's members and partners, each in one batch, when the query asks for them
    // (a DataLoader batches by timing alone, which a busy machine can split).
    let look = ctx.look_ahead();
    let nodes = [look.field("nodes"), look.field("edges").field("node")];
    let wants = |field: &str| nodes.iter().any(|n| n.field(field).exists());
    let member_ids: Vec<_> = rows.iter().map(|e| e.member_id).collect();
    let partner_ids: Vec<_> = rows.iter().filter_map(|e| e.partner_id).collect();
    let (members, partners) = futures_util::try_join!(
        async {
            match wants("member") {
                true => loaders::members(ctx, &member_ids).await,
                false => Ok(Default::default()),
            }
        },
        async {
            match wants("partner") {
                true => loaders::partners_by_id(ctx, &partner_ids).await,
                false => Ok(Default::default()),
            }
        },
    )?;
    Ok(page.connection(
        rows,
        |e| Cursor {
            at: e.created_at,
            id: e.id,
        },
        |entry| LedgerEntryNode {
            member: members.get(&entry.member_id).cloned(),
            partner: entry.partner_id.and_then(|id| partners.get(&id).cloned()),
            entry,
        },
    ))
}
