//! The ledger's GraphQL surface: money-moving mutations, entries, holds, balances.

use async_graphql::{
    ComplexObject, Context, Enum, ID, InputObject, Object, Result, SimpleObject,
    connection::Connection,
};
use chrono::{DateTime, NaiveDate, Utc};

use super::{
    ContextExt,
    members::{MemberNode, MemberRefInput},
    page::{Cursor, Page},
    partners::{PartnerNode, parse_id},
    scalars::{BigInt, Decimal},
};
use crate::{
    auth::Principal,
    db::models::{
        Member, Partner,
        ledger::{Balance, EntryFilter, Hold, JournalEntry},
    },
    error::AppError,
    services::{
        ledger::{self, Amount, Outcome},
        members::MemberRef,
    },
};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum LedgerEntryKind {
    /// Points earned at a partner.
    Issue,
    /// Points spent at a partner.
    Redeem,
    /// Points reserved at a checkout (`authorizeRedemption`).
    Hold,
    /// A hold captured, all or part.
    Capture,
    /// A hold voided.
    Void,
    /// A hold timed out.
    HoldExpiry,
    /// A partner took back points it issued (refund clawback).
    ReverseIssue,
    /// A partner gave back points redeemed at it (refund of a points purchase).
    ReverseRedeem,
    /// Points that reached their expiry date (breakage).
    Expiry,
    /// Points given to a linked family member (`transferPoints`).
    TransferOut,
    /// Points received from a linked family member.
    TransferIn,
}

impl LedgerEntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerEntryKind::Issue => "ISSUE",
            LedgerEntryKind::Redeem => "REDEEM",
            LedgerEntryKind::Hold => "HOLD",
            LedgerEntryKind::Capture => "CAPTURE",
            LedgerEntryKind::Void => "VOID",
            LedgerEntryKind::HoldExpiry => "HOLD_EXPIRY",
            LedgerEntryKind::ReverseIssue => "REVERSE_ISSUE",
            LedgerEntryKind::ReverseRedeem => "REVERSE_REDEEM",
            LedgerEntryKind::Expiry => "EXPIRY",
            LedgerEntryKind::TransferOut => "TRANSFER_OUT",
            LedgerEntryKind::TransferIn => "TRANSFER_IN",
        }
    }

    fn parse(text: &str) -> Result<LedgerEntryKind, AppError> {
        [
            LedgerEntryKind::Issue,
            LedgerEntryKind::Redeem,
            LedgerEntryKind::Hold,
            LedgerEntryKind::Capture,
            LedgerEntryKind::Void,
            LedgerEntryKind::HoldExpiry,
            LedgerEntryKind::ReverseIssue,
            LedgerEntryKind::ReverseRedeem,
            LedgerEntryKind::Expiry,
            LedgerEntryKind::TransferOut,
            LedgerEntryKind::TransferIn,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown entry kind {text}")))
    }
}

#[derive(SimpleObject)]
pub struct Money {
    pub amount: Decimal,
    pub currency: String,
}

#[derive(InputObject)]
pub struct MoneyInput {
    pub amount: Decimal,
    /// ISO 4217; must be the partner's currency.
    pub currency: String,
}

/// A member's points.
#[derive(SimpleObject)]
pub struct BalanceView {
    /// Points the member can spend now (zero while in debt).
    pub available: BigInt,
    /// Points reserved by pending holds.
    pub held: BigInt,
    /// Points owed after a refund clawback; earns repay it first.
    pub debt: BigInt,
    /// Points ever earned, less clawbacks.
    pub lifetime_earned: BigInt,
    /// `available - debt`: negative while the member owes points.
    pub net: BigInt,
}

impl From<Balance> for BalanceView {
    fn from(b: Balance) -> Self {
        BalanceView {
            available: BigInt(b.available),
            held: BigInt(b.held),
            debt: BigInt(b.debt),
            lifetime_earned: BigInt(b.lifetime_earned),
            net: BigInt(b.available - b.debt),
        }
    }
}

#[derive(SimpleObject)]
pub struct ExpiringPoints {
    /// The UTC date the points expire on.
    pub date: NaiveDate,
    pub points: BigInt,
}

async fn partner_node(ctx: &Context<'_>, id: Option<uuid::Uuid>) -> Result<Option<PartnerNode>> {
    let Some(id) = id else { return Ok(None) };
    let mut conn = ctx.state().db.get().await.map_err(AppError::from)?;
    let partner = Partner::find(&mut conn, id).await.map_err(AppError::from)?;
    Ok(partner.map(PartnerNode))
}

async fn member_node(ctx: &Context<'_>, id: uuid::Uuid) -> Result<MemberNode> {
    let mut conn = ctx.state().db.get().await.map_err(AppError::from)?;
    let member = Member::find(&mut conn, id)
        .await
        .map_err(AppError::from)?
        .ok_or(AppError::NotFound("member"))?;
    Ok(MemberNode(member))
}

pub struct LedgerEntryNode(pub JournalEntry);

#[Object(name = "LedgerEntry")]
impl LedgerEntryNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> Result<LedgerEntryKind> {
        Ok(LedgerEntryKind::parse(&self.0.kind)?)
    }
    /// For a capture or void, the hold's points; see `hold.capturedPoints`.
    async fn points(&self) -> BigInt {
        BigInt(self.0.points)
    }
    /// Part of the points that repaid a points debt.
    async fn debt_repaid(&self) -> BigInt {
        BigInt(self.0.debt_repaid)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }
    /// The partner the entry is with (none for expiries).
    async fn partner(&self, ctx: &Context<'_>) -> Result<Option<PartnerNode>> {
        partner_node(ctx, self.0.partner_id).await
    }
    async fn member(&self, ctx: &Context<'_>) -> Result<MemberNode> {
        member_node(ctx, self.0.member_id).await
    }
    /// The purchase an earn was computed from.
    async fn purchase(&self) -> Option<Money> {
        match (&self.0.purchase_amount, &self.0.purchase_currency) {
            (Some(amount), Some(currency)) => Some(Money {
                amount: Decimal(amount.clone()),
                currency: currency.clone(),
            }),
            _ => None,
        }
    }
    async fn earn_rate(&self) -> Option<Decimal> {
        self.0.earn_rate.clone().map(Decimal)
    }
    /// The member's tier multiplier this earn applied (the partner opted in); null if none.
    async fn tier_multiplier(&self) -> Option<Decimal> {
        self.0.tier_multiplier.clone().map(Decimal)
    }
    /// For a transfer: the other member's card number.
    async fn transfer_member_number(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        match self.0.related_entry_id {
            None => Ok(None),
            Some(id) => Ok(crate::services::family::member_number_of_entry(ctx.state(), id).await?),
        }
    }
    /// The entry this one reverses.
    async fn reverses(&self, ctx: &Context<'_>) -> Result<Option<LedgerEntryNode>> {
        match self.0.reverses_entry_id {
            None => Ok(None),
            Some(id) => Ok(Some(LedgerEntryNode(
                ledger::entry(ctx.state(), ctx.principal()?, id).await?,
            ))),
        }
    }
    /// Points of this entry reversed so far (earns and redemptions).
    async fn reversed_points(&self, ctx: &Context<'_>) -> Result<BigInt> {
        Ok(BigInt(
            ledger::reversed_points(ctx.state(), self.0.id).await?,
        ))
    }
    async fn hold(&self, ctx: &Context<'_>) -> Result<Option<HoldNode>> {
        match self.0.hold_id {
            None => Ok(None),
            Some(id) => Ok(Some(HoldNode(
                ledger::hold(ctx.state(), ctx.principal()?, id).await?,
            ))),
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum HoldStatus {
    Pending,
    Captured,
    Voided,
    Expired,
}

pub struct HoldNode(pub Hold);

#[Object(name = "Hold")]
impl HoldNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn status(&self) -> Result<HoldStatus> {
        Ok(match self.0.status.as_str() {
            "PENDING" => HoldStatus::Pending,
            "CAPTURED" => HoldStatus::Captured,
            "VOIDED" => HoldStatus::Voided,
            "EXPIRED" => HoldStatus::Expired,
            other => return Err(AppError::internal(anyhow::anyhow!("hold status {other}")).into()),
        })
    }
    async fn points(&self) -> BigInt {
        BigInt(self.0.points)
    }
    async fn captured_points(&self) -> BigInt {
        BigInt(self.0.captured_points)
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn finalized_at(&self) -> Option<DateTime<Utc>> {
        self.0.finalized_at
    }
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }
    async fn partner(&self, ctx: &Context<'_>) -> Result<Option<PartnerNode>> {
        partner_node(ctx, Some(self.0.partner_id)).await
    }
    async fn member(&self, ctx: &Context<'_>) -> Result<MemberNode> {
        member_node(ctx, self.0.member_id).await
    }
}

/// What a money-moving mutation did.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct LedgerResult {
    /// The member's balance right after the operation.
    pub balance: BalanceView,
    /// True when this answers a repeated request with the same idempotency key: nothing new
    /// was written.
    pub replayed: bool,
    #[graphql(skip)]
    pub outcome: Outcome,
}

#[ComplexObject]
impl LedgerResult {
    /// The entry's id (no extra lookup, unlike `entry`).
    async fn entry_id(&self) -> ID {
        ID(self.outcome.entry_id.to_string())
    }
    async fn entry(&self, ctx: &Context<'_>) -> Result<LedgerEntryNode> {
        Ok(LedgerEntryNode(
            ledger::entry(ctx.state(), ctx.principal()?, self.outcome.entry_id).await?,
        ))
    }
    async fn hold(&self, ctx: &Context<'_>) -> Result<Option<HoldNode>> {
        match self.outcome.hold_id {
            None => Ok(None),
            Some(id) => Ok(Some(HoldNode(
                ledger::hold(ctx.state(), ctx.principal()?, id).await?,
            ))),
        }
    }
    async fn member(&self, ctx: &Context<'_>) -> Result<MemberNode> {
        member_node(ctx, self.outcome.member_id).await
    }
}

impl From<Outcome> for LedgerResult {
    fn from(outcome: Outcome) -> Self {
        LedgerResult {
            balance: outcome.balance.into(),
            replayed: outcome.replayed,
            outcome,
        }
    }
}

fn optional_id(id: &Option<ID>, what: &str) -> Result<Option<uuid::Uuid>, AppError> {
    id.as_ref().map(|id| parse_id(id, what)).transpose()
}

#[derive(InputObject)]
pub struct IssuePointsInput {
    /// Operator only; partners always issue as themselves.
    pub partner_id: Option<ID>,
    /// An unknown `partnerCustomerId` enrols the member.
    pub member: MemberRefInput,
    /// Exactly one of `points` and `purchase`.
    pub points: Option<i32>,
    /// Points from the partner's earn rate, rounded down.
    pub purchase: Option<MoneyInput>,
    pub idempotency_key: String,
    pub reference: Option<String>,
    /// When the points expire; the coalition's default lifetime when omitted.
    pub expires_at: Option<DateTime<Utc>>,
    /// An ambassador's referral code given by the member. It converts when this is the
    /// member's first earn at this partner; it is ignored when the member has earned here
    /// before or was already referred here.
    pub referral_code: Option<String>,
}

#[derive(InputObject)]
pub struct RedeemPointsInput {
    pub partner_id: Option<ID>,
    /// The member must be linked to the partner.
    pub member: MemberRefInput,
    pub points: i32,
    pub idempotency_key: String,
    pub reference: Option<String>,
}

#[derive(InputObject)]
pub struct AuthorizeRedemptionInput {
    pub partner_id: Option<ID>,
    pub member: MemberRefInput,
    pub points: i32,
    pub idempotency_key: String,
    pub reference: Option<String>,
    /// How long the hold lasts; the configured default when omitted.
    pub expires_in_seconds: Option<i32>,
}

#[derive(InputObject)]
pub struct CaptureHoldInput {
    pub hold_id: ID,
    /// Points to capture; the whole hold when omitted. The rest returns to the member.
    pub points: Option<i32>,
    pub idempotency_key: String,
}

#[derive(InputObject)]
pub struct VoidHoldInput {
    pub hold_id: ID,
    pub idempotency_key: String,
}

#[derive(InputObject)]
pub struct ReverseEntryInput {
    /// The partner's own earn (ISSUE) or redemption (REDEEM or CAPTURE).
    pub entry_id: ID,
    /// Points to reverse; what is left of the entry when omitted.
    pub points: Option<i32>,
    pub idempotency_key: String,
    pub reference: Option<String>,
}

#[derive(InputObject)]
pub struct DonatePointsInput {
    /// The charity partner.
    pub partner_id: ID,
    pub points: i32,
    pub idempotency_key: String,
}

#[derive(InputObject, Default)]
pub struct LedgerEntryFilter {
    pub member: Option<MemberRefInput>,
    pub kinds: Option<Vec<LedgerEntryKind>>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
}

fn member_ref(input: &MemberRefInput) -> Result<MemberRef, AppError> {
    input.to_ref()
}

/// Lists entries newest first.
pub async fn entry_connection(
    ctx: &Context<'_>,
    filter: EntryFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, LedgerEntryNode>> {
    let state = ctx.state();
    let page = Page::new(first, after, state.config.limits.max_page_size)?;
    let rows = ledger::entries(
        state,
        ctx.principal()?,
        filter,
        page.after.map(|c| c.id),
        page.limit(),
    )
    .await?;
    Ok(page.connection(
        rows,
        |e| Cursor {
            at: e.created_at,
            id: e.id,
        },
        LedgerEntryNode,
    ))
}

#[derive(Default)]
pub struct LedgerQuery;

#[Object]
impl LedgerQuery {
    async fn ledger_entry(&self, ctx: &Context<'_>, id: ID) -> Result<LedgerEntryNode> {
        let id = parse_id(&id, "id")?;
        Ok(LedgerEntryNode(
            ledger::entry(ctx.state(), ctx.principal()?, id).await?,
        ))
    }

    /// Entries newest first: all for the operator, those it is party to for a partner, its
    /// own for a member.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn ledger_entries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<LedgerEntryFilter>,
    ) -> Result<Connection<String, LedgerEntryNode>> {
        let filter = filter.unwrap_or_default();
        let member_id = match &filter.member {
            None => None,
            Some(reference) => {
                let principal = ctx.principal()?;
                let mut conn = ctx.state().db.get().await.map_err(AppError::from)?;
                let member = crate::services::members::find_visible(
                    &mut conn,
                    principal,
                    &member_ref(reference)?,
                )
                .await?;
                Some(member.id)
            }
        };
        let filter = EntryFilter {
            member_id,
            partner_id: None,
            kinds: filter
                .kinds
                .map(|kinds| kinds.iter().map(|k| k.as_str().to_owned()).collect()),
            from: filter.from,
            to: filter.to,
        };
        entry_connection(ctx, filter, first, after).await
    }

    async fn hold(&self, ctx: &Context<'_>, id: ID) -> Result<HoldNode> {
        let id = parse_id(&id, "id")?;
        Ok(HoldNode(
            ledger::hold(ctx.state(), ctx.principal()?, id).await?,
        ))
    }

    /// The calling member (member tokens only).
    async fn me(&self, ctx: &Context<'_>) -> Result<MemberNode> {
        match ctx.principal()? {
            Principal::Member { member_id } => member_node(ctx, *member_id).await,
            _ => Err(AppError::forbidden("me is for member tokens").into()),
        }
    }
}

#[derive(Default)]
pub struct LedgerMutation;

fn points_arg(points: i32) -> i64 {
    i64::from(points)
}

#[Object]
impl LedgerMutation {
    /// Partner (`points:issue`): earn. By `points`, or by `purchase` through the partner's
    /// earn rate (rounded down). Earns repay a points debt first.
    async fn issue_points(
        &self,
        ctx: &Context<'_>,
        input: IssuePointsInput,
    ) -> Result<LedgerResult> {
        let amount = match (input.points, input.purchase) {
            (Some(points), None) => Amount::Points(points_arg(points)),
            (None, Some(purchase)) => Amount::Purchase {
                amount: purchase.amount.0,
                currency: purchase.currency,
            },
            _ => {
                return Err(AppError::bad_input("give exactly one of points and purchase").into());
            }
        };
        let outcome = ledger::issue(
            ctx.state(),
            ctx.principal()?,
            ledger::IssueInput {
                partner_id: optional_id(&input.partner_id, "partnerId")?,
                member: member_ref(&input.member)?,
                amount,
                idempotency_key: input.idempotency_key,
                reference: input.reference,
                expires_at: input.expires_at,
                referral_code: input.referral_code,
            },
        )
        .await?;
        Ok(outcome.into())
    }

    /// Partner (`points:redeem`): spend points at once, first-expiring first.
    async fn redeem_points(
        &self,
        ctx: &Context<'_>,
        input: RedeemPointsInput,
    ) -> Result<LedgerResult> {
        let outcome = ledger::redeem(
            ctx.state(),
            ctx.principal()?,
            ledger::RedeemInput {
                partner_id: optional_id(&input.partner_id, "partnerId")?,
                member: member_ref(&input.member)?,
                points: points_arg(input.points),
                idempotency_key: input.idempotency_key,
                reference: input.reference,
            },
        )
        .await?;
        Ok(outcome.into())
    }

    /// Partner (`points:redeem`): reserve points at a checkout; capture or void later.
    async fn authorize_redemption(
        &self,
        ctx: &Context<'_>,
        input: AuthorizeRedemptionInput,
    ) -> Result<LedgerResult> {
        let outcome = ledger::authorize(
            ctx.state(),
            ctx.principal()?,
            ledger::AuthorizeInput {
                redeem: ledger::RedeemInput {
                    partner_id: optional_id(&input.partner_id, "partnerId")?,
                    member: member_ref(&input.member)?,
                    points: points_arg(input.points),
                    idempotency_key: input.idempotency_key,
                    reference: input.reference,
                },
                expires_in: input
                    .expires_in_seconds
                    .map(|s| chrono::Duration::seconds(i64::from(s))),
            },
        )
        .await?;
        Ok(outcome.into())
    }

    /// Partner (`points:redeem`): capture all or part of its pending hold.
    async fn capture_hold(
        &self,
        ctx: &Context<'_>,
        input: CaptureHoldInput,
    ) -> Result<LedgerResult> {
        let capture = match input.points {
            Some(points) if points <= 0 => {
                return Err(AppError::bad_input(
                    "points must be positive; use voidHold to capture nothing",
                )
                .into());
            }
            other => other.map(points_arg),
        };
        let outcome = ledger::settle_hold(
            ctx.state(),
            ctx.principal()?,
            ledger::SettleHoldInput {
                hold_id: parse_id(&input.hold_id, "holdId")?,
                capture,
                idempotency_key: input.idempotency_key,
            },
        )
        .await?;
        Ok(outcome.into())
    }

    /// Partner (`points:redeem`): release its pending hold.
    async fn void_hold(&self, ctx: &Context<'_>, input: VoidHoldInput) -> Result<LedgerResult> {
        let outcome = ledger::settle_hold(
            ctx.state(),
            ctx.principal()?,
            ledger::SettleHoldInput {
                hold_id: parse_id(&input.hold_id, "holdId")?,
                capture: Some(0),
                idempotency_key: input.idempotency_key,
            },
        )
        .await?;
        Ok(outcome.into())
    }

    /// Partner (`points:reverse`): refund all or part of its own earn (the points are taken
    /// back even if spent, leaving a debt) or its own redemption (the points return).
    async fn reverse_entry(
        &self,
        ctx: &Context<'_>,
        input: ReverseEntryInput,
    ) -> Result<LedgerResult> {
        let outcome = ledger::reverse(
            ctx.state(),
            ctx.principal()?,
            ledger::ReverseInput {
                entry_id: parse_id(&input.entry_id, "entryId")?,
                points: input.points.map(points_arg),
                idempotency_key: input.idempotency_key,
                reference: input.reference,
            },
        )
        .await?;
        Ok(outcome.into())
    }

    /// Member: give points to a charity partner (category `CHARITY`). It is a redemption at
    /// the charity, paid to it through settlement; at most `HUB_DONATION_DAILY_LIMIT` points
    /// a day over all charities.
    async fn donate_points(
        &self,
        ctx: &Context<'_>,
        input: DonatePointsInput,
    ) -> Result<LedgerResult> {
        let outcome = ledger::donate(
            ctx.state(),
            ctx.principal()?,
            parse_id(&input.partner_id, "partnerId")?,
            points_arg(input.points),
            input.idempotency_key,
        )
        .await?;
        Ok(outcome.into())
    }
}
