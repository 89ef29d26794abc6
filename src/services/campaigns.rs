//! Campaigns (issue 23): who may manage which, their validation, the live ones an earn may
//! qualify for (cached for a second in each process), members' offers, and the bonuses of
//! an earn (domain::campaign decides, sql/campaigns/award.sql books within the caps).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bigdecimal::{BigDecimal, Zero};
use chrono::{DateTime, Utc, Weekday};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use crate::{
    auth::Principal,
    db::{
        DbPool,
        announcements::Announcement,
        models::{
            Partner,
            campaign::{self, CampaignRow},
            webhook::EventRow,
        },
    },
    domain::{
        campaign::{
            Audience, Bonus, Campaign, Condition, Earn, MemberFacts, Reward, Slot, Stacking,
            evaluate, valid_multiplier,
        },
        ledger::MAX_POINTS_PER_ENTRY,
        partner::COALITION_PARTNER_ID,
    },
    error::{AppError, AppResult},
    services::audit::{self, Change},
};

/// The channel of campaign changes.
const CHANNEL: &str = "hub_campaigns";

/// Drops the live campaigns' copy when PostgreSQL announces a change to a campaign.
pub(crate) fn announcement(live: Arc<LiveCampaigns>) -> Announcement {
    Announcement {
        channel: CHANNEL,
        heard: Box::new(move |_| live.forget()),
    }
}

/// The live campaigns (not ended, including those whose window opens later) as rules,
/// loaded at most once per `ttl` (`HUB_CAMPAIGN_COPY_SECS`). A change is announced by
/// PostgreSQL (`NOTIFY hub_campaigns`, sql/campaigns/notify.sql) and drops the copy in
/// every process at once; the ttl bounds staleness should an announcement be lost. Windows
/// are checked at each earn, and the ledger re-checks a campaign's window and end when it
/// books a bonus.
pub struct LiveCampaigns {
    copy: Mutex<Option<(Instant, Arc<Vec<Campaign>>)>>,
    ttl: Duration,
}

impl LiveCampaigns {
    pub fn new(ttl: Duration) -> LiveCampaigns {
        LiveCampaigns {
            copy: Mutex::new(None),
            ttl,
        }
    }

    async fn get(&self, db: &DbPool) -> AppResult<Arc<Vec<Campaign>>> {
        if let Some((at, rules)) = &*self.copy.lock().expect("campaign copy lock")
            && at.elapsed() < self.ttl
        {
            return Ok(rules.clone());
        }
        let mut conn = db.get().await?;
        let rows = CampaignRow::live(&mut conn, Utc::now()).await?;
        let rules: Vec<Campaign> = rows.iter().map(rule).collect::<AppResult<_>>()?;
        let rules = Arc::new(rules);
        *self.copy.lock().expect("campaign copy lock") = Some((Instant::now(), rules.clone()));
        Ok(rules)
    }

    pub(crate) fn forget(&self) {
        *self.copy.lock().expect("campaign copy lock") = None;
    }
}

/// A campaign as it is entered (`CampaignInput`), before validation.
pub struct CampaignInput {
    pub name: String,
    pub partner_id: Option<Uuid>,
    pub sponsor_partner_id: Option<Uuid>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub schedule: Vec<Slot>,
    pub time_zone: Option<String>,
    pub audience: String,
    pub audience_tier_level: Option<i32>,
    pub min_purchase: Option<BigDecimal>,
    pub category: Option<String>,
    pub sku: Option<String>,
    pub nth_purchase_in_month: Option<i32>,
    pub multiplier: Option<BigDecimal>,
    pub points: Option<i64>,
    pub per_unit_sku: Option<String>,
    pub member_cap: Option<i64>,
    pub budget: Option<i64>,
    pub stacking_group: Option<String>,
}

fn bad(message: &str) -> AppError {
    AppError::bad_input(message.to_owned())
}

fn text_field(value: Option<String>, what: &str, max: usize) -> AppResult<Option<String>> {
    match value {
        Some(v) if v.trim().is_empty() || v.chars().count() > max => Err(AppError::bad_input(
            format!("{what} must be 1-{max} characters"),
        )),
        other => Ok(other),
    }
}

/// The reward's kind and fields, from the one given: a multiplier, points, or points per
/// unit of a SKU.
fn reward_of(input: &CampaignInput) -> AppResult<(&'static str, Option<BigDecimal>, Option<i64>)> {
    match (&input.multiplier, input.points, &input.per_unit_sku) {
        (Some(m), None, None) if m > &BigDecimal::from(1) && valid_multiplier(m) => {
            Ok(("MULTIPLIER", Some(m.clone()), None))
        }
        (Some(_), None, None) => Err(bad(
            "a multiplier is more than 1, at most 10, with at most 3 decimals",
        )),
        (None, Some(p), sku) if (1..=MAX_POINTS_PER_ENTRY).contains(&p) => Ok((
            if sku.is_some() { "PER_UNIT" } else { "FIXED" },
            None,
            Some(p),
        )),
        (None, Some(_), _) => Err(AppError::bad_input(format!(
            "reward points must be between 1 and {MAX_POINTS_PER_ENTRY}"
        ))),
        _ => Err(bad(
            "give a reward: a multiplier, or points (per unit of perUnitSku, if given)",
        )),
    }
}

/// The row for a valid input (`id`, times and `awarded` from the caller).
fn validated(input: CampaignInput, id: Uuid, now: DateTime<Utc>) -> AppResult<CampaignRow> {
    if input.ends_at <= input.starts_at {
        return Err(bad("endsAt must be after startsAt"));
    }
    let time_zone = input.time_zone.clone().unwrap_or_else(|| "UTC".into());
    if time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(bad(
            "timeZone must be an IANA time zone name, such as Europe/Berlin",
        ));
    }
    for slot in &input.schedule {
        if slot.from_minute >= slot.to_minute || slot.to_minute > 1440 {
            return Err(bad(
                "a schedule slot runs from an earlier to a later time of its day",
            ));
        }
    }
    let (reward_kind, reward_multiplier, reward_points) = reward_of(&input)?;
    let audience = input.audience.clone();
    if (audience == "TIER") != input.audience_tier_level.is_some()
        || input.audience_tier_level.is_some_and(|l| l < 0)
    {
        return Err(bad(
            "audience TIER takes audienceTierLevel (0 or more), and only it does",
        ));
    }
    if input
        .min_purchase
        .as_ref()
        .is_some_and(|m| m <= &BigDecimal::zero())
    {
        return Err(bad("minPurchase must be positive"));
    }
    if input
        .nth_purchase_in_month
        .is_some_and(|n| !(1..=1000).contains(&n))
    {
        return Err(bad("nthPurchaseInMonth must be between 1 and 1000"));
    }
    if input.member_cap.is_some_and(|c| c <= 0) {
        return Err(bad("memberCap must be positive"));
    }
    if input.budget.is_some_and(|b| b < 0) {
        return Err(bad("budget must not be negative"));
    }
    Ok(CampaignRow {
        id,
        name: text_field(Some(input.name), "name", 120)?.unwrap_or_default(),
        partner_id: input.partner_id,
        sponsor_partner_id: input
            .sponsor_partner_id
            .ok_or_else(|| bad("a campaign needs a sponsor"))?,
        starts_at: input.starts_at,
        ends_at: input.ends_at,
        schedule: schedule_json(&input.schedule),
        time_zone,
        audience,
        audience_tier_level: input.audience_tier_level,
        min_purchase: input.min_purchase,
        category: text_field(input.category, "category", 100)?,
        sku: text_field(input.sku, "sku", 100)?,
        nth_purchase_in_month: input.nth_purchase_in_month,
        reward_kind: reward_kind.into(),
        reward_multiplier,
        reward_points,
        reward_sku: text_field(input.per_unit_sku, "perUnitSku", 100)?,
        member_cap: input.member_cap,
        budget: input.budget,
        awarded: 0,
        stacking_group: text_field(input.stacking_group, "stackingGroup", 60)?,
        created_at: now,
        updated_at: now,
        ended_at: None,
    })
}

fn schedule_json(slots: &[Slot]) -> serde_json::Value {
    serde_json::Value::Array(
        slots
            .iter()
            .map(|s| {
                serde_json::json!({"day": s.day.to_string(), "from_minute": s.from_minute,
                                   "to_minute": s.to_minute})
            })
            .collect(),
    )
}

pub(crate) fn schedule_of(row: &CampaignRow) -> AppResult<Vec<Slot>> {
    let broken = || AppError::internal(anyhow::anyhow!("campaign {} schedule", row.id));
    let slots = row.schedule.as_array().ok_or_else(broken)?;
    slots
        .iter()
        .map(|s| {
            Ok(Slot {
                day: s["day"]
                    .as_str()
                    .and_then(|d| d.parse::<Weekday>().ok())
                    .ok_or_else(broken)?,
                from_minute: s["from_minute"].as_u64().ok_or_else(broken)? as u32,
                to_minute: s["to_minute"].as_u64().ok_or_else(broken)? as u32,
            })
        })
        .collect()
}

/// A stored campaign as a rule of domain::campaign.
fn rule(row: &CampaignRow) -> AppResult<Campaign> {
    let broken = |what: &str| AppError::internal(anyhow::anyhow!("campaign {} {what}", row.id));
    let audience = match (row.audience.as_str(), row.audience_tier_level) {
        ("EVERYONE", _) => Audience::Everyone,
        ("TIER", Some(level)) => Audience::TierAtLeast(level.max(0) as usize),
        ("ACTIVATED", _) => Audience::Activated,
        ("NEW_TO_PARTNER", _) => Audience::NewToPartner,
        ("BIRTHDAY_MONTH", _) => Audience::BirthdayMonth,
        _ => return Err(broken("audience")),
    };
    let reward = match (
        row.reward_kind.as_str(),
        &row.reward_multiplier,
        row.reward_points,
        &row.reward_sku,
    ) {
        ("MULTIPLIER", Some(m), _, _) => Reward::Multiplier(m.clone()),
        ("FIXED", _, Some(p), _) => Reward::Fixed(p),
        ("PER_UNIT", _, Some(p), Some(sku)) => Reward::PerUnit {
            sku: sku.clone(),
            points: p,
        },
        _ => return Err(broken("reward")),
    };
    Ok(Campaign {
        id: row.id,
        partner_id: row.partner_id,
        sponsor_id: row.sponsor_partner_id,
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        schedule: schedule_of(row)?,
        time_zone: row.time_zone.parse().map_err(|_| broken("time zone"))?,
        audience,
        condition: Condition {
            min_purchase: row.min_purchase.clone(),
            category: row.category.clone(),
            sku: row.sku.clone(),
            nth_purchase_in_month: row.nth_purchase_in_month.map(|n| n.max(0) as u32),
        },
        reward,
        stacking: row
            .stacking_group
            .clone()
            .map_or(Stacking::Additive, Stacking::BestOf),
    })
}

/// The partner whose campaigns the caller manages: a partner its own (naming another is
/// refused), the operator the one it names (none: every partner's earns).
fn managed_partner(principal: &Principal, named: Option<Uuid>) -> AppResult<Option<Uuid>> {
    match principal {
        Principal::Operator { .. } => Ok(named),
        Principal::Partner { partner_id, .. } => match named {
            Some(other) if other != *partner_id => Err(AppError::forbidden(
                "a partner manages only its own campaigns",
            )),
            _ => Ok(Some(*partner_id)),
        },
        Principal::Member { .. } => Err(AppError::forbidden(
            "campaigns are managed by partners and the operator",
        )),
    }
}

pub async fn create(
    db: &DbPool,
    live: &LiveCampaigns,
    principal: &Principal,
    mut input: CampaignInput,
) -> AppResult<CampaignRow> {
    input.partner_id = managed_partner(principal, input.partner_id)?;
    if !principal.is_operator() {
        if input
            .sponsor_partner_id
            .is_some_and(|s| Some(s) != input.partner_id)
        {
            return Err(AppError::forbidden("a partner sponsors its own campaigns"));
        }
        input.sponsor_partner_id = input.partner_id;
    } else if input.sponsor_partner_id.is_none() {
        // A campaign on every partner's earns is the coalition's own.
        input.sponsor_partner_id = Some(input.partner_id.unwrap_or(COALITION_PARTNER_ID));
    }
    if input.partner_id == Some(COALITION_PARTNER_ID) {
        return Err(bad(
            "partnerId names the coalition's campaign budget, not a partner",
        ));
    }
    let now = Utc::now();
    let row = validated(input, Uuid::now_v7(), now)?;
    let mut conn = db.get().await?;
    for partner in [row.partner_id, Some(row.sponsor_partner_id)]
        .into_iter()
        .flatten()
    {
        Partner::find(&mut conn, partner)
            .await?
            .ok_or(AppError::NotFound("partner"))?;
    }
    let created = conn
        .transaction(async |conn| {
            let created = CampaignRow::insert(conn, &row).await?;
            announce(conn, "campaign.created", &created).await?;
            let change = Change::new("campaign.created", owner(&created), created.id);
            audit::record(conn, principal, change.after(&created)).await?;
            Ok::<_, AppError>(created)
        })
        .await?;
    live.forget();
    tracing::info!(campaign_id = %created.id, "campaign created");
    Ok(created)
}

/// The webhook event of a campaign's change, for the partner whose earns it is on and its
/// sponsor.
async fn announce(
    conn: &mut AsyncPgConnection,
    event_type: &str,
    row: &CampaignRow,
) -> AppResult<()> {
    let parties: Vec<Uuid> = [row.partner_id, Some(row.sponsor_partner_id)]
        .into_iter()
        .flatten()
        .collect();
    let data = serde_json::json!({
        "campaignId": row.id, "name": row.name, "partnerId": row.partner_id,
        "sponsorPartnerId": row.sponsor_partner_id, "startsAt": row.starts_at,
        "endsAt": row.ends_at, "endedAt": row.ended_at,
    });
    Ok(EventRow::emit(conn, event_type, &parties, &data, row.updated_at).await?)
}

/// The partner whose business a campaign is, for the audit trail: the partner of its earns,
/// else a partner sponsoring it; None for the coalition's own.
fn owner(row: &CampaignRow) -> Option<Uuid> {
    row.partner_id
        .or((row.sponsor_partner_id != COALITION_PARTNER_ID).then_some(row.sponsor_partner_id))
}

/// The campaign if the caller manages it; another partner's is refused as bad input.
async fn managed(db: &DbPool, principal: &Principal, id: Uuid) -> AppResult<CampaignRow> {
    let mut conn = db.get().await?;
    let row = CampaignRow::find(&mut conn, id).await?;
    match (principal, row) {
        (_, None) => Err(AppError::NotFound("campaign")),
        (Principal::Operator { .. }, Some(row)) => Ok(row),
        (Principal::Partner { partner_id, .. }, Some(row))
            if row.partner_id == Some(*partner_id) =>
        {
            Ok(row)
        }
        (Principal::Partner { .. }, Some(_)) => Err(bad("this campaign is another partner's")),
        (Principal::Member { .. }, Some(_)) => Err(AppError::forbidden(
            "campaigns are managed by partners and the operator",
        )),
    }
}

/// Replaces a campaign's settings (all of them, as on creation; the partner and sponsor
/// stay). An ended campaign cannot change; a budget cannot go below what was given.
pub async fn update(
    db: &DbPool,
    live: &LiveCampaigns,
    principal: &Principal,
    id: Uuid,
    mut input: CampaignInput,
) -> AppResult<CampaignRow> {
    let current = managed(db, principal, id).await?;
    if current.ended_at.is_some() {
        return Err(bad("this campaign has ended"));
    }
    input.partner_id = current.partner_id;
    input.sponsor_partner_id = Some(current.sponsor_partner_id);
    let mut row = validated(input, id, Utc::now())?;
    if row.budget.is_some_and(|b| b < current.awarded) {
        return Err(AppError::bad_input(format!(
            "budget must be at least the {} points given so far",
            current.awarded
        )));
    }
    row.created_at = current.created_at;
    let mut conn = db.get().await?;
    let updated = conn
        .transaction(async |conn| {
            let updated = CampaignRow::update(conn, &row).await?;
            announce(conn, "campaign.updated", &updated).await?;
            let change = Change::new("campaign.updated", owner(&updated), id)
                .before(&current)
                .after(&updated);
            audit::record(conn, principal, change).await?;
            Ok::<_, AppError>(updated)
        })
        .await?;
    live.forget();
    Ok(updated)
}

pub async fn end(
    db: &DbPool,
    live: &LiveCampaigns,
    principal: &Principal,
    id: Uuid,
) -> AppResult<CampaignRow> {
    let current = managed(db, principal, id).await?;
    let mut conn = db.get().await?;
    let ended = conn
        .transaction(async |conn| {
            CampaignRow::end(conn, id, Utc::now()).await?;
            let ended = CampaignRow::find(conn, id)
                .await?
                .ok_or(AppError::NotFound("campaign"))?;
            announce(conn, "campaign.ended", &ended).await?;
            let change = Change::new("campaign.ended", owner(&ended), id)
                .before(&current)
                .after(&ended);
            audit::record(conn, principal, change).await?;
            Ok::<_, AppError>(ended)
        })
        .await?;
    live.forget();
    Ok(ended)
}

/// One campaign: the operator any, a partner those for its earns or that it sponsors, a
/// member those it may activate.
pub async fn get(db: &DbPool, principal: &Principal, id: Uuid) -> AppResult<CampaignRow> {
    let mut conn = db.get().await?;
    let row = CampaignRow::find(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound("campaign"))?;
    let visible = match principal {
        Principal::Operator { .. } => true,
        Principal::Partner { partner_id, .. } => {
            row.partner_id == Some(*partner_id) || row.sponsor_partner_id == *partner_id
        }
        Principal::Member { .. } => row.audience == "ACTIVATED",
    };
    if visible {
        Ok(row)
    } else {
        Err(AppError::NotFound("campaign"))
    }
}

/// A page of campaigns, newest first: all for the operator, a partner's own.
pub async fn page(
    db: &DbPool,
    principal: &Principal,
    before: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<CampaignRow>> {
    let partner = match principal {
        Principal::Operator { .. } => None,
        Principal::Partner { partner_id, .. } => Some(*partner_id),
        Principal::Member { .. } => {
            return Err(AppError::forbidden("members see campaigns as me.offers"));
        }
    };
    let mut conn = db.get().await?;
    Ok(CampaignRow::page(&mut conn, partner, before, limit).await?)
}

/// Offers the member may activate now (live campaigns with audience ACTIVATED), and
/// whether it has.
pub async fn offers(db: &DbPool, member_id: Uuid) -> AppResult<Vec<(CampaignRow, bool)>> {
    let mut conn = db.get().await?;
    let now = Utc::now();
    let rows = CampaignRow::live(&mut conn, now).await?;
    let activated = campaign::activations(&mut conn, member_id).await?;
    let mut offers: Vec<(CampaignRow, bool)> = rows
        .into_iter()
        .filter(|r| r.audience == "ACTIVATED" && r.starts_at <= now)
        .map(|r| {
            let on = activated.contains(&r.id);
            (r, on)
        })
        .collect();
    offers.sort_by_key(|(r, _)| r.id);
    Ok(offers)
}

/// The member switches an offer on (again: no change).
pub async fn activate(
    db: &DbPool,
    principal: &Principal,
    campaign_id: Uuid,
) -> AppResult<CampaignRow> {
    let Principal::Member { member_id } = principal else {
        return Err(AppError::forbidden("offers are activated by the member"));
    };
    let row = get(db, principal, campaign_id).await?;
    let now = Utc::now();
    if row.ended_at.is_some() || now >= row.ends_at {
        return Err(bad("this offer has ended"));
    }
    let mut conn = db.get().await?;
    campaign::activate(&mut conn, campaign_id, *member_id, now).await?;
    Ok(row)
}

/// The live campaigns that may apply to an earn at the partner now, from the process's
/// copy (no database round trip but once a second). Nearly always none: the earn then
/// skips everything campaigns cost.
pub(crate) async fn candidates(
    db: &DbPool,
    live: &LiveCampaigns,
    partner_id: Uuid,
    at: DateTime<Utc>,
) -> AppResult<Vec<Campaign>> {
    let rules = live.get(db).await?;
    Ok(rules
        .iter()
        .filter(|c| {
            c.partner_id.is_none_or(|p| p == partner_id) && c.starts_at <= at && at < c.ends_at
        })
        .cloned()
        .collect())
}

/// The bonuses of an earn among `candidates` (see [`candidates`]), before caps: the
/// member's facts in one query, when an audience or condition needs them.
pub(crate) async fn bonuses(
    db: &DbPool,
    candidates: &[Campaign],
    earn: &Earn,
    member: (Option<Uuid>, Option<String>, Option<String>),
) -> AppResult<Vec<Bonus>> {
    let facts = if candidates
        .iter()
        .all(|c| c.audience == Audience::Everyone && c.condition.nth_purchase_in_month.is_none())
    {
        MemberFacts::default()
    } else {
        let mut conn = db.get().await?;
        let row = campaign::facts(&mut conn, earn.partner_id, member, earn.at).await?;
        MemberFacts {
            tier_level: row.tier_level.filter(|l| *l >= 0).map(|l| l as usize),
            activated: row.activated,
            earlier_earns_at_partner: row.earlier_earns,
            recent_purchases: row.recent_purchases,
            birth_month: row.birth_date.map(|d| chrono::Datelike::month(&d)),
        }
    };
    Ok(evaluate(candidates, earn, &facts))
}
