//! Money-moving operations. Each validates its input (domain rules), fingerprints it for
//! idempotency and makes one call of a ledger SQL function: all or nothing. Issues and
//! redemptions go through the group commit ([`super::batch`]); the rest are one call each.

use bigdecimal::{BigDecimal, Zero};
use chrono::{DateTime, Duration, Utc};
use diesel::result::Error as DieselError;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use std::sync::Arc;

use bigdecimal::ToPrimitive;

use crate::{
    auth::{Principal, Scope},
    config::LedgerConfig,
    db::{
        ledger::{self as sql, database_error},
        models::ledger::{Balance, EntryFilter, Hold, JournalEntry},
    },
    domain::{
        campaign::{Earn, Line},
        leaderboard::normalize_referral_code,
        ledger::{
            Booked, Fingerprint, LedgerAnswer, lot_expiry, validate_key, validate_points,
            validate_reference,
        },
        member::{
            generate_member_number, normalize_member_number, normalize_presence_code,
            validate_customer_id,
        },
        money::{fraction_digits, is_currency_code},
    },
    error::{AppError, AppResult},
    services::{
        access,
        batch::{BatchOp, Batcher, BonusArg},
        campaigns,
        live::Publisher,
        members::MemberRef,
    },
};

pub use super::outcome::Outcome;

/// The ledger's handle: what its operations need and nothing more. Built once per process
/// (`AppState::new`); cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    pub db: crate::db::DbPool,
    /// The group commit of issues and redemptions.
    pub batcher: Batcher,
    /// Announces committed balances (`balanceChanged`).
    pub publisher: Publisher,
    pub config: Arc<LedgerConfig>,
    /// The partners' rows (earn rates, for campaign bonuses on purchases).
    pub partners: Arc<crate::db::partner_cache::PartnerCache>,
    /// The live campaigns an earn may qualify for.
    pub campaigns: Arc<super::campaigns::LiveCampaigns>,
}

pub enum Amount {
    Points(i64),
    /// Points from the partner's earn rate, rounded down.
    Purchase {
        amount: BigDecimal,
        currency: String,
    },
}

pub struct IssueInput {
    pub partner_id: Option<Uuid>,
    pub member: MemberRef,
    pub amount: Amount,
    pub idempotency_key: String,
    pub reference: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// An ambassador's referral code; the referral converts on the member's first earn at
    /// this partner.
    pub referral_code: Option<String>,
    /// Purchase lines, for campaigns on a category or SKU.
    pub lines: Vec<Line>,
}

pub struct RedeemInput {
    pub partner_id: Option<Uuid>,
    pub member: MemberRef,
    pub points: i64,
    pub idempotency_key: String,
    pub reference: Option<String>,
    /// The code the member's app shows; without it the member must have consented
    /// (sql/members/presence.sql). Not part of the fingerprint: a retry may bring the same
    /// request with a code already used by its first attempt.
    pub presence_code: Option<String>,
}

pub struct AuthorizeInput {
    pub redeem: RedeemInput,
    pub expires_in: Option<Duration>,
}

pub struct SettleHoldInput {
    pub hold_id: Uuid,
    /// `None` captures the whole hold; voids pass `Some(0)`.
    pub capture: Option<i64>,
    pub idempotency_key: String,
}

pub struct ReverseInput {
    pub entry_id: Uuid,
    /// `None` reverses what is left of the entry.
    pub points: Option<i64>,
    pub idempotency_key: String,
    pub reference: Option<String>,
}

/// Idempotency keys are scoped to the caller.
pub(crate) fn caller(principal: &Principal) -> String {
    match principal {
        Principal::Operator { subject } => format!("operator:{subject}"),
        Principal::Partner { partner_id, .. } => format!("partner:{partner_id}"),
        Principal::Member { member_id } => format!("member:{member_id}"),
    }
}

/// The member reference as the SQL functions take it: (id, number, customer id).
type MemberArgs = (Option<Uuid>, Option<String>, Option<String>);

fn member_args(member: &MemberRef) -> AppResult<MemberArgs> {
    Ok(match member {
        MemberRef::Id(id) => (Some(*id), None, None),
        MemberRef::Number(number) => (None, Some(normalize_member_number(number)?), None),
        MemberRef::PartnerCustomerId(cid) => {
            validate_customer_id(cid)?;
            (None, None, Some(cid.clone()))
        }
    })
}

fn fingerprint_member(fp: &mut Fingerprint, member: &MemberArgs) {
    fp.optional(member.0)
        .optional(member.1.as_deref())
        .optional(member.2.as_deref());
}

fn validate_purchase(amount: &BigDecimal, currency: &str) -> AppResult<()> {
    if amount <= &BigDecimal::zero() || amount > &BigDecimal::from(1_000_000_000_000i64) {
        return Err(AppError::bad_input(
            "purchase amount must be positive and at most 1000000000000",
        ));
    }
    if fraction_digits(amount) > 4 {
        return Err(AppError::bad_input(
            "purchase amount has at most 4 decimal places",
        ));
    }
    if !is_currency_code(currency) {
        return Err(AppError::bad_input(
            "currency must be a three-letter ISO 4217 code",
        ));
    }
    Ok(())
}

/// Runs one ledger function call (one round trip) and reads its answer.
async fn call(
    ledger: &Ledger,
    query: impl for<'c> FnOnce(
        &'c mut AsyncPgConnection,
    ) -> futures_util::future::BoxFuture<'c, Result<Value, DieselError>>,
) -> AppResult<Outcome> {
    let mut conn = ledger.db.get().await?;
    let answer = query(&mut conn).await.map_err(database_error)?;
    let outcome = Outcome::from(&LedgerAnswer::<Booked>::from_json(answer)?);
    ledger.publisher.publish(&[&outcome]);
    Ok(outcome)
}

pub async fn issue(
    ledger: &Ledger,
    principal: &Principal,
    input: IssueInput,
) -> AppResult<Outcome> {
    let partner_id = principal.acting_partner(Scope::PointsIssue, input.partner_id)?;
    let member = member_args(&input.member)?;
    let earn = CheckedEarn::of(partner_id, &member, &input)?;
    let now = Utc::now();
    let expires_at = lot_expiry(now, input.expires_at, ledger.config.points_lifetime)?;
    let bonuses = earn_bonuses(ledger, partner_id, now, &earn, input.lines, &member).await?;
    let (purchase_amount, purchase_currency) = earn.purchase.unzip();
    let new_member_number = generate_member_number(&mut rand::rng());
    let op = BatchOp {
        new_member_id: Some(Uuid::now_v7()),
        new_member_number: Some(new_member_number),
        points: earn.points,
        purchase_amount: purchase_amount.map(|a| a.normalized().to_plain_string()),
        purchase_currency,
        expires_at: Some(expires_at),
        referral_code: earn.referral_code,
        reward_expires_at: Some(now + ledger.config.points_lifetime),
        bonuses,
        ..BatchOp::new(
            "issue",
            principal,
            input.idempotency_key,
            &earn.fingerprint,
            partner_id,
            member,
            input.reference,
            now,
        )
    };
    ledger.batcher.submit(op).await
}

/// An earn's input, checked, with the fingerprint its idempotency key is bound to.
struct CheckedEarn {
    points: Option<i64>,
    purchase: Option<(BigDecimal, String)>,
    referral_code: Option<String>,
    fingerprint: Vec<u8>,
}

impl CheckedEarn {
    fn of(partner_id: Uuid, member: &MemberArgs, input: &IssueInput) -> AppResult<CheckedEarn> {
        validate_key(&input.idempotency_key)?;
        validate_reference(input.reference.as_deref())?;
        validate_lines(&input.lines)?;
        let mut fp = Fingerprint::new("issuePoints");
        fp.field(partner_id);
        fingerprint_member(&mut fp, member);
        let (points, purchase) = match &input.amount {
            Amount::Points(points) => {
                fp.field("points").field(validate_points(*points)?);
                (Some(*points), None)
            }
            Amount::Purchase { amount, currency } => {
                validate_purchase(amount, currency)?;
                fp.field("purchase")
                    .field(amount.normalized())
                    .field(currency);
                (None, Some((amount.clone(), currency.clone())))
            }
        };
        let referral_code = input
            .referral_code
            .as_deref()
            .map(normalize_referral_code)
            .transpose()?;
        fp.optional(input.reference.as_deref())
            .optional(input.expires_at.map(|t| t.timestamp_micros()))
            .optional(referral_code.as_deref());
        for line in &input.lines {
            fp.field(&line.sku)
                .optional(line.category.as_deref())
                .field(line.quantity)
                .field(line.amount.normalized());
        }
        Ok(CheckedEarn {
            points,
            purchase,
            referral_code,
            fingerprint: fp.finish(),
        })
    }
}

/// The campaign bonuses the earn qualifies for (none, without reading anything, when no
/// campaign of the partner is live).
async fn earn_bonuses(
    ledger: &Ledger,
    partner_id: Uuid,
    now: DateTime<Utc>,
    checked: &CheckedEarn,
    lines: Vec<Line>,
    member: &MemberArgs,
) -> AppResult<Vec<BonusArg>> {
    let candidates = campaigns::candidates(&ledger.db, &ledger.campaigns, partner_id, now).await?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let base_points = base_points(
        ledger,
        partner_id,
        checked.points,
        checked.purchase.as_ref(),
    )
    .await?;
    let earn = Earn {
        partner_id,
        at: now,
        base_points,
        purchase: checked.purchase.as_ref().map(|(amount, _)| amount.clone()),
        lines,
    };
    let bonuses = campaigns::bonuses(&ledger.db, &candidates, &earn, member.clone()).await?;
    Ok(bonuses
        .iter()
        .map(|b| BonusArg {
            campaign_id: b.campaign_id,
            points: b.points,
        })
        .collect())
}

/// An earn's points before campaign bonuses (and before the tier multiplier): given, or
/// the purchase at the partner's earn rate, rounded down (0 when the partner is unknown:
/// the ledger refuses the earn anyway).
async fn base_points(
    ledger: &Ledger,
    partner_id: Uuid,
    points: Option<i64>,
    purchase: Option<&(BigDecimal, String)>,
) -> AppResult<i64> {
    if let Some(points) = points {
        return Ok(points);
    }
    let Some((amount, _)) = purchase else {
        return Ok(0);
    };
    let partners = ledger.partners.get_many(&ledger.db, &[partner_id]).await?;
    Ok(partners.get(&partner_id).map_or(0, |p| {
        (amount * &p.earn_rate)
            .with_scale_round(0, bigdecimal::RoundingMode::Floor)
            .to_i64()
            .unwrap_or(i64::MAX)
    }))
}

/// At most 100 lines, each with a SKU, a positive quantity and an amount of zero or more.
fn validate_lines(lines: &[Line]) -> AppResult<()> {
    if lines.len() > 100 {
        return Err(AppError::bad_input("at most 100 purchase lines"));
    }
    for line in lines {
        if line.sku.is_empty() || line.sku.chars().count() > 100 {
            return Err(AppError::bad_input("a line's sku must be 1-100 characters"));
        }
        if line
            .category
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.chars().count() > 100)
        {
            return Err(AppError::bad_input(
                "a line's category must be 1-100 characters",
            ));
        }
        if !(1..=1_000_000).contains(&line.quantity) {
            return Err(AppError::bad_input(
                "a line's quantity must be between 1 and 1000000",
            ));
        }
        if line.amount < BigDecimal::zero() || fraction_digits(&line.amount) > 4 {
            return Err(AppError::bad_input(
                "a line's amount must not be negative, with at most 4 decimal places",
            ));
        }
    }
    Ok(())
}

impl BatchOp {
    /// The fields every batched operation has; the rest start empty.
    #[allow(clippy::too_many_arguments)]
    fn new(
        op: &'static str,
        principal: &Principal,
        key: String,
        fingerprint: &[u8],
        partner_id: Uuid,
        member: MemberArgs,
        reference: Option<String>,
        now: DateTime<Utc>,
    ) -> BatchOp {
        BatchOp {
            op,
            caller: caller(principal),
            key,
            fingerprint: fingerprint.iter().map(|b| format!("{b:02x}")).collect(),
            partner_id,
            member_id: member.0,
            member_number: member.1,
            customer_id: member.2,
            new_member_id: None,
            new_member_number: None,
            points: None,
            purchase_amount: None,
            purchase_currency: None,
            expires_at: None,
            reference,
            referral_code: None,
            reward_expires_at: None,
            presence_code: None,
            bonuses: Vec::new(),
            now,
        }
    }
}

/// A redemption's or hold's checked arguments.
struct RedeemArgs {
    partner_id: Uuid,
    member: MemberArgs,
    presence_code: Option<String>,
    fingerprint: Vec<u8>,
}

fn redeem_args(
    principal: &Principal,
    input: &RedeemInput,
    operation: &str,
) -> AppResult<RedeemArgs> {
    let partner_id = principal.acting_partner(Scope::PointsRedeem, input.partner_id)?;
    validate_key(&input.idempotency_key)?;
    validate_reference(input.reference.as_deref())?;
    validate_points(input.points)?;
    let member = member_args(&input.member)?;
    let presence_code = input
        .presence_code
        .as_deref()
        .map(normalize_presence_code)
        .transpose()?;
    let mut fp = Fingerprint::new(operation);
    fp.field(partner_id);
    fingerprint_member(&mut fp, &member);
    fp.field(input.points).optional(input.reference.as_deref());
    Ok(RedeemArgs {
        partner_id,
        member,
        presence_code,
        fingerprint: fp.finish(),
    })
}

pub async fn redeem(
    ledger: &Ledger,
    principal: &Principal,
    input: RedeemInput,
) -> AppResult<Outcome> {
    let args = redeem_args(principal, &input, "redeemPoints")?;
    ledger
        .batcher
        .submit(BatchOp {
            points: Some(input.points),
            presence_code: args.presence_code,
            ..BatchOp::new(
                "redeem",
                principal,
                input.idempotency_key,
                &args.fingerprint,
                args.partner_id,
                args.member,
                input.reference,
                Utc::now(),
            )
        })
        .await
}

pub async fn authorize(
    ledger: &Ledger,
    principal: &Principal,
    input: AuthorizeInput,
) -> AppResult<Outcome> {
    let RedeemArgs {
        partner_id,
        member,
        presence_code,
        mut fingerprint,
    } = redeem_args(principal, &input.redeem, "authorizeRedemption")?;
    let limits = &ledger.config;
    let expires_in = input.expires_in.unwrap_or(limits.hold_ttl);
    if expires_in < Duration::seconds(1) || expires_in > limits.max_hold_ttl {
        return Err(AppError::bad_input(format!(
            "expiresInSeconds must be between 1 and {}",
            limits.max_hold_ttl.num_seconds()
        )));
    }
    fingerprint.extend(
        Fingerprint::new("ttl")
            .optional(input.expires_in.map(|d| d.num_seconds()))
            .finish(),
    );
    let caller = caller(principal);
    let now = Utc::now();
    let redeem = input.redeem;
    call(ledger, move |conn| {
        Box::pin(
            diesel::select(sql::ledger_authorize(
                caller,
                redeem.idempotency_key,
                fingerprint,
                partner_id,
                member.0,
                member.1,
                member.2,
                presence_code,
                redeem.points,
                redeem.reference,
                now + expires_in,
                now,
            ))
            .get_result::<Value>(conn),
        )
    })
    .await
}

/// Captures (all or part) or voids a hold. Partners act on their own holds (scope
/// `points:redeem`); the operator on any.
pub async fn settle_hold(
    ledger: &Ledger,
    principal: &Principal,
    input: SettleHoldInput,
) -> AppResult<Outcome> {
    let partner_id = principal.records_partner(Scope::PointsRedeem)?;
    validate_key(&input.idempotency_key)?;
    if let Some(points) = input.capture.filter(|p| *p != 0) {
        validate_points(points)?;
    }
    let operation = if input.capture == Some(0) {
        "voidHold"
    } else {
        "captureHold"
    };
    let fingerprint = Fingerprint::new(operation)
        .field(input.hold_id)
        .optional(input.capture)
        .finish();
    let caller = caller(principal);
    call(ledger, move |conn| {
        Box::pin(
            diesel::select(sql::ledger_settle_hold(
                caller,
                input.idempotency_key,
                fingerprint,
                partner_id,
                input.hold_id,
                input.capture,
                Utc::now(),
            ))
            .get_result::<Value>(conn),
        )
    })
    .await
}

/// Reverses (refunds) all or part of the partner's own earn or redemption.
pub async fn reverse(
    ledger: &Ledger,
    principal: &Principal,
    input: ReverseInput,
) -> AppResult<Outcome> {
    let partner_id = principal.records_partner(Scope::PointsReverse)?;
    validate_key(&input.idempotency_key)?;
    validate_reference(input.reference.as_deref())?;
    if let Some(points) = input.points {
        validate_points(points)?;
    }
    let fingerprint = Fingerprint::new("reverseEntry")
        .field(input.entry_id)
        .optional(input.points)
        .optional(input.reference.as_deref())
        .finish();
    let caller = caller(principal);
    call(ledger, move |conn| {
        Box::pin(
            diesel::select(sql::ledger_reverse(
                caller,
                input.idempotency_key,
                fingerprint,
                partner_id,
                input.entry_id,
                input.points,
                input.reference,
                Utc::now(),
            ))
            .get_result::<Value>(conn),
        )
    })
    .await
}

/// A member gives points to a charity partner: a redemption there (the points' issuers owe
/// the charity through settlement), within the configured daily limit.
pub async fn donate(
    ledger: &Ledger,
    principal: &Principal,
    charity_id: Uuid,
    points: i64,
    idempotency_key: String,
) -> AppResult<Outcome> {
    let Principal::Member { member_id } = principal else {
        return Err(AppError::forbidden("donatePoints is for members"));
    };
    let member_id = *member_id;
    validate_key(&idempotency_key)?;
    validate_points(points)?;
    let limit = ledger.config.donation_daily_limit;
    if points > limit {
        return Err(AppError::bad_input(format!(
            "at most {limit} points may be donated a day"
        )));
    }
    let fingerprint = Fingerprint::new("donatePoints")
        .field(charity_id)
        .field(points)
        .finish();
    let caller = caller(principal);
    call(ledger, move |conn| {
        Box::pin(
            diesel::select(sql::ledger_donate(
                caller,
                idempotency_key,
                fingerprint,
                member_id,
                charity_id,
                points,
                limit,
                Utc::now(),
            ))
            .get_result::<Value>(conn),
        )
    })
    .await
}

/// A member gives points to a linked family member (both asked for the link). The points
/// leave the sender's lots first-expiring-first and become lots of the recipient with the
/// same issuers and dates, so settlement still attributes them to who issued them. Limited
/// per sender and UTC day, in points and in transfers. Returns the sender's outcome, then
/// the recipient's.
pub async fn transfer(
    ledger: &Ledger,
    principal: &Principal,
    recipient_number: &str,
    points: i64,
    idempotency_key: String,
) -> AppResult<(Outcome, Outcome)> {
    let Principal::Member { member_id } = principal else {
        return Err(AppError::forbidden("transferPoints is for members"));
    };
    let member_id = *member_id;
    validate_key(&idempotency_key)?;
    validate_points(points)?;
    let recipient = normalize_member_number(recipient_number)?;
    let (limit, count) = (
        ledger.config.transfer_daily_limit,
        ledger.config.transfer_daily_count,
    );
    if points > limit {
        return Err(AppError::bad_input(format!(
            "at most {limit} points may be transferred a day"
        )));
    }
    let fingerprint = Fingerprint::new("transferPoints")
        .field(&recipient)
        .field(points)
        .finish();
    let caller = caller(principal);
    let mut conn = ledger.db.get().await?;
    let answer: Value = diesel::select(sql::ledger_transfer(
        caller,
        idempotency_key,
        fingerprint,
        member_id,
        recipient,
        points,
        limit,
        count,
        Utc::now(),
    ))
    .get_result(&mut conn)
    .await
    .map_err(database_error)?;
    let booked = LedgerAnswer::<Booked>::from_json(answer)?;
    let Some(recipient) = booked.recipient.as_deref() else {
        return Err(AppError::internal(anyhow::anyhow!(
            "ledger_transfer answered without the recipient's side"
        )));
    };
    let (sent, received) = (Outcome::from(&booked), Outcome::from(recipient));
    ledger.publisher.publish(&[&sent, &received]);
    Ok((sent, received))
}

/// An entry the caller may see: the operator any, a partner the entries it is party to, a
/// member its own. Anything else is `NOT_FOUND`.
pub async fn entry(ledger: &Ledger, principal: &Principal, id: Uuid) -> AppResult<JournalEntry> {
    let mut conn = ledger.db.get().await?;
    access::visible_entry(principal, JournalEntry::find(&mut conn, id).await?)
}

pub async fn hold(ledger: &Ledger, principal: &Principal, id: Uuid) -> AppResult<Hold> {
    let mut conn = ledger.db.get().await?;
    access::visible_hold(principal, Hold::find(&mut conn, id).await?)
}

/// Narrows a listing to what the caller may see.
pub fn visible_filter(principal: &Principal, mut filter: EntryFilter) -> AppResult<EntryFilter> {
    access::may_read_ledger(principal)?;
    match principal {
        Principal::Operator { .. } => {}
        Principal::Partner { partner_id, .. } => filter.partner_id = Some(*partner_id),
        Principal::Member { member_id } => {
            if filter.member_id.is_some_and(|m| m != *member_id) {
                return Err(AppError::NotFound("member"));
            }
            filter.member_id = Some(*member_id);
        }
    }
    Ok(filter)
}

pub async fn entries(
    ledger: &Ledger,
    principal: &Principal,
    filter: EntryFilter,
    before: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<JournalEntry>> {
    let filter = visible_filter(principal, filter)?;
    let conn = ledger.db.get().await?;
    Ok(JournalEntry::page(&conn, &filter, before, limit).await?)
}

pub async fn balance(ledger: &Ledger, member_id: Uuid) -> AppResult<Balance> {
    let mut conn = ledger.db.get().await?;
    Ok(Balance::of(&mut conn, member_id).await?)
}

/// How far ahead `expiringPoints` may look (the expiring DataLoader then reads it).
pub fn check_within_days(within_days: i32) -> AppResult<i64> {
    if !(1..=3660).contains(&within_days) {
        return Err(AppError::bad_input("withinDays must be between 1 and 3660"));
    }
    Ok(i64::from(within_days))
}

pub async fn reversed_points(ledger: &Ledger, entry_id: Uuid) -> AppResult<i64> {
    let mut conn = ledger.db.get().await?;
    Ok(JournalEntry::reversed_points(&mut conn, entry_id).await?)
}
