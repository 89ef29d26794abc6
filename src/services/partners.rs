use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use diesel_async::AsyncConnection;

use crate::db::partner_cache::PartnerCache;
use crate::services::audit::{self, Change};
use crate::{
    auth::Principal,
    db::{
        DbPool,
        models::{Partner, is_unique_violation, partner::PartnerChanges},
    },
    domain::{
        leaderboard::{DEFAULT_REFERRAL_SCORE, validate_score},
        ledger::validate_points,
        money::is_currency_code,
        partner::{self, COALITION_PARTNER_ID, PartnerCategory, PartnerStatus},
    },
    error::{AppError, AppResult},
};

pub(crate) struct NewPartner {
    pub name: String,
    pub slug: String,
    pub category: PartnerCategory,
    pub currency: Option<String>,
    pub earn_rate: BigDecimal,
    pub accepts_redemptions: bool,
}

#[derive(Default)]
pub(crate) struct PartnerUpdate {
    pub name: Option<String>,
    pub category: Option<PartnerCategory>,
    pub earn_rate: Option<BigDecimal>,
    pub accepts_redemptions: Option<bool>,
    pub status: Option<PartnerStatus>,
    pub referral_score: Option<i64>,
    pub referral_reward_points: Option<i64>,
    pub applies_tier_multiplier: Option<bool>,
    pub return_window_days: Option<i32>,
}

impl PartnerUpdate {
    /// Changes the name and nothing else.
    fn only_renames(&self) -> bool {
        let PartnerUpdate {
            name: _,
            category,
            earn_rate,
            accepts_redemptions,
            status,
            referral_score,
            referral_reward_points,
            applies_tier_multiplier,
            return_window_days,
        } = self;
        category.is_none()
            && earn_rate.is_none()
            && accepts_redemptions.is_none()
            && status.is_none()
            && referral_score.is_none()
            && referral_reward_points.is_none()
            && applies_tier_multiplier.is_none()
            && return_window_days.is_none()
    }
}

pub(crate) async fn create(
    db: &DbPool,
    principal: &Principal,
    coalition_currency: &str,
    input: NewPartner,
) -> AppResult<Partner> {
    principal.require_operator()?;
    let name = partner::validate_name(&input.name)?;
    partner::validate_slug(&input.slug)?;
    partner::validate_earn_rate(&input.earn_rate)?;
    let currency = input
        .currency
        .unwrap_or_else(|| coalition_currency.to_owned());
    if !is_currency_code(&currency) {
        return Err(AppError::bad_input(
            "currency must be a three-letter ISO 4217 code",
        ));
    }
    let now = Utc::now();
    let row = Partner {
        id: Uuid::now_v7(),
        slug: input.slug,
        name,
        category: input.category.as_str().to_owned(),
        currency,
        earn_rate: input.earn_rate,
        accepts_redemptions: input.accepts_redemptions,
        status: PartnerStatus::Active.as_str().to_owned(),
        created_at: now,
        updated_at: now,
        referral_score: DEFAULT_REFERRAL_SCORE,
        referral_reward_points: 0,
        applies_tier_multiplier: false,
        return_window_days: 0,
        is_coalition: false,
    };
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        let created = Partner::insert(conn, &row).await.map_err(|e| {
            if is_unique_violation(&e, "partners_slug_key") {
                AppError::bad_input(format!("slug {:?} is already taken", row.slug))
            } else {
                e.into()
            }
        })?;
        let change = Change::new("partner.created", Some(created.id), created.id).after(&created);
        audit::record(conn, principal, change).await?;
        Ok(created)
    })
    .await
}

pub(crate) async fn update(
    db: &DbPool,
    partners: &PartnerCache,
    principal: &Principal,
    id: Uuid,
    input: PartnerUpdate,
) -> AppResult<Partner> {
    principal.require_operator()?;
    if id == COALITION_PARTNER_ID && !input.only_renames() {
        return Err(AppError::bad_input(
            "the coalition's campaign budget is not a partner: only its name can change",
        ));
    }
    let name = input
        .name
        .as_deref()
        .map(partner::validate_name)
        .transpose()?;
    if let Some(rate) = &input.earn_rate {
        partner::validate_earn_rate(rate)?;
    }
    if let Some(score) = input.referral_score {
        validate_score(score)?;
    }
    if let Some(points) = input.referral_reward_points.filter(|p| *p != 0) {
        validate_points(points)?;
    }
    if let Some(days) = input.return_window_days {
        partner::validate_return_window(days)?;
    }
    let changes = PartnerChanges {
        name,
        category: input.category.map(|c| c.as_str().to_owned()),
        earn_rate: input.earn_rate,
        accepts_redemptions: input.accepts_redemptions,
        status: input.status.map(|s| s.as_str().to_owned()),
        updated_at: Some(Utc::now()),
        referral_score: input.referral_score,
        referral_reward_points: input.referral_reward_points,
        applies_tier_multiplier: input.applies_tier_multiplier,
        return_window_days: input.return_window_days,
    };
    let mut conn = db.get().await?;
    let updated = conn
        .transaction(async |conn| {
            let before = Partner::find(conn, id)
                .await?
                .ok_or(AppError::NotFound("partner"))?;
            let updated = Partner::update(conn, id, &changes)
                .await?
                .ok_or(AppError::NotFound("partner"))?;
            let action = match (before.status.as_str(), updated.status.as_str()) {
                ("ACTIVE", "SUSPENDED") => "partner.suspended",
                ("SUSPENDED", "ACTIVE") => "partner.reactivated",
                _ => "partner.updated",
            };
            let change = Change::new(action, Some(id), id)
                .before(&before)
                .after(&updated);
            audit::record(conn, principal, change).await?;
            Ok::<_, AppError>(updated)
        })
        .await?;
    // Other processes hear of it through NOTIFY; this one forgets at once.
    partners.forget(id);
    if input.status == Some(PartnerStatus::Suspended) {
        tracing::warn!(partner_id = %id, "partner suspended");
    }
    Ok(updated)
}

/// Operators see every partner; everyone else sees active partners only (the directory).
pub(crate) async fn get(db: &DbPool, principal: &Principal, id: Uuid) -> AppResult<Partner> {
    let mut conn = db.get().await?;
    match Partner::find(&mut conn, id).await? {
        Some(p) if principal.is_operator() || p.is_active() => Ok(p),
        _ => Err(AppError::NotFound("partner")),
    }
}

pub(crate) async fn page(
    db: &DbPool,
    principal: &Principal,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> AppResult<Vec<Partner>> {
    let mut conn = db.get().await?;
    Ok(Partner::page(&mut conn, after, limit, !principal.is_operator()).await?)
}
