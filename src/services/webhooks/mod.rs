//! Webhook subscriptions: a partner manages its own, the operator the coalition's (which
//! receive every event) and any partner's. A partner never learns of another partner's
//! subscriptions, deliveries or events: they are `NOT_FOUND` to it. Delivery itself runs in
//! [`worker`].

pub(crate) mod client;
pub mod tail;
pub mod worker;

use std::sync::Arc;

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use crate::{
    auth::{Principal, secrets::random_token},
    config::WebhookConfig,
    db::{
        DbPool,
        models::{
            Partner,
            webhook::{AttemptRow, EventRow, SubscriptionRow},
        },
    },
    domain::webhook::{self, UrlParts},
    error::{AppError, AppResult},
    services::audit::{self, Change},
};

/// Subscriptions one owner (a partner, or the coalition) may have.
pub const MAX_SUBSCRIPTIONS: usize = 25;

/// What the services of this module need.
#[derive(Clone)]
pub struct Webhooks {
    pub db: DbPool,
    pub config: Arc<WebhookConfig>,
}

pub struct NewSubscription {
    /// Operator only: a partner's subscription (none: the coalition's).
    pub partner_id: Option<Uuid>,
    pub url: String,
    pub event_types: Vec<String>,
}

#[derive(Default)]
pub struct SubscriptionUpdate {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// true: stop deliveries and new events; false: resume (a disabled subscription too).
    pub paused: Option<bool>,
}

pub struct CreatedSubscription {
    pub subscription: SubscriptionRow,
    /// Shown once, here.
    pub secret: String,
}

/// Whose subscription the caller makes: the operator names a partner or none (the
/// coalition's), a partner only itself.
fn owner_for(principal: &Principal, named: Option<Uuid>) -> AppResult<Option<Uuid>> {
    match principal {
        Principal::Operator { .. } => Ok(named),
        Principal::Partner { partner_id, .. } => match named {
            Some(other) if other != *partner_id => Err(AppError::forbidden(
                "a partner manages only its own webhook subscriptions",
            )),
            _ => Ok(Some(*partner_id)),
        },
        Principal::Member { .. } => Err(AppError::forbidden(
            "webhooks are for partners and the operator",
        )),
    }
}

/// The subscription if the caller may see it (the operator any, a partner its own).
fn visible(principal: &Principal, row: Option<SubscriptionRow>) -> AppResult<SubscriptionRow> {
    let row = row.ok_or(AppError::NotFound("webhook subscription"))?;
    match principal {
        Principal::Operator { .. } => Ok(row),
        Principal::Partner { partner_id, .. } if row.partner_id == Some(*partner_id) => Ok(row),
        Principal::Partner { .. } => Err(AppError::NotFound("webhook subscription")),
        Principal::Member { .. } => Err(AppError::forbidden(
            "webhooks are for partners and the operator",
        )),
    }
}

fn check_url(config: &WebhookConfig, text: &str) -> AppResult<String> {
    let text = text.trim();
    if text.len() > webhook::MAX_URL_LEN {
        return Err(AppError::bad_input(format!(
            "url: at most {} characters",
            webhook::MAX_URL_LEN
        )));
    }
    let url = url::Url::parse(text).map_err(|e| AppError::bad_input(format!("url: {e}")))?;
    let host = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'));
    let parts = UrlParts {
        scheme: url.scheme(),
        host,
        has_credentials: !url.username().is_empty() || url.password().is_some(),
        has_fragment: url.fragment().is_some(),
    };
    webhook::check_url(&parts, config.addresses)?;
    Ok(url.to_string())
}

async fn ensure_room(conn: &mut AsyncPgConnection, owner: Option<Uuid>) -> AppResult<()> {
    let existing = SubscriptionRow::list(conn, owner).await?;
    let mine = existing.iter().filter(|s| s.partner_id == owner).count();
    if mine >= MAX_SUBSCRIPTIONS {
        return Err(AppError::bad_input(format!(
            "at most {MAX_SUBSCRIPTIONS} webhook subscriptions each; delete one first"
        )));
    }
    Ok(())
}

pub async fn create(
    webhooks: &Webhooks,
    principal: &Principal,
    input: NewSubscription,
) -> AppResult<CreatedSubscription> {
    let owner = owner_for(principal, input.partner_id)?;
    let url = check_url(&webhooks.config, &input.url)?;
    let event_types = webhook::event_types(&input.event_types)?;
    let now = Utc::now();
    let secret = random_token("whsec_", 32);
    let row = SubscriptionRow {
        id: Uuid::now_v7(),
        partner_id: owner,
        url,
        event_types: event_types.into_iter().map(Some).collect(),
        secret: secret.clone(),
        status: "ACTIVE".into(),
        disabled_reason: None,
        created_at: now,
        updated_at: now,
        failing_since: None,
        failed_attempts: 0,
    };
    let mut conn = webhooks.db.get().await?;
    conn.transaction(async |conn| {
        if let Some(partner) = owner {
            let found = Partner::find(conn, partner)
                .await?
                .ok_or(AppError::NotFound("partner"))?;
            if found.is_coalition {
                return Err(AppError::bad_input(
                    "the coalition's own subscriptions have no partnerId",
                ));
            }
        }
        ensure_room(conn, owner).await?;
        SubscriptionRow::insert(conn, &row).await?;
        let change = Change::new("webhook.created", owner, row.id).after(&row.audit());
        audit::record(conn, principal, change).await
    })
    .await?;
    Ok(CreatedSubscription {
        subscription: row,
        secret,
    })
}

pub async fn update(
    webhooks: &Webhooks,
    principal: &Principal,
    id: Uuid,
    input: SubscriptionUpdate,
) -> AppResult<SubscriptionRow> {
    let url = input
        .url
        .as_deref()
        .map(|u| check_url(&webhooks.config, u))
        .transpose()?;
    let event_types = input
        .event_types
        .as_deref()
        .map(webhook::event_types)
        .transpose()?;
    let mut conn = webhooks.db.get().await?;
    conn.transaction(async |conn| {
        let before = visible(principal, SubscriptionRow::find_for_update(conn, id).await?)?;
        let mut after = before.clone();
        if let Some(url) = url {
            after.url = url;
        }
        if let Some(types) = event_types {
            after.event_types = types.into_iter().map(Some).collect();
        }
        match input.paused {
            Some(true) => after.status = "PAUSED".into(),
            Some(false) => {
                after.status = "ACTIVE".into();
                after.disabled_reason = None;
            }
            None => {}
        }
        after.updated_at = Utc::now();
        SubscriptionRow::save(conn, &after).await?;
        if before.status != "ACTIVE" && after.status == "ACTIVE" {
            // Resumed: what comes from now on, as at creation (redeliverWebhookEvent sends
            // anything missed).
            SubscriptionRow::skip_to_watermark(conn, id).await?;
        }
        let change = Change::new("webhook.updated", after.partner_id, id)
            .before(&before.audit())
            .after(&after.audit());
        audit::record(conn, principal, change).await?;
        Ok(SubscriptionRow::find(conn, id).await?.unwrap_or(after))
    })
    .await
}

pub async fn delete(webhooks: &Webhooks, principal: &Principal, id: Uuid) -> AppResult<()> {
    let mut conn = webhooks.db.get().await?;
    conn.transaction(async |conn| {
        let before = visible(principal, SubscriptionRow::find_for_update(conn, id).await?)?;
        SubscriptionRow::delete(conn, id).await?;
        let change = Change::new("webhook.deleted", before.partner_id, id).before(&before.audit());
        audit::record(conn, principal, change).await
    })
    .await
}

/// The caller's subscriptions: a partner's own; for the operator every subscription, or
/// one partner's.
pub async fn list(
    webhooks: &Webhooks,
    principal: &Principal,
    partner_id: Option<Uuid>,
) -> AppResult<Vec<SubscriptionRow>> {
    let filter = match principal {
        Principal::Operator { .. } => partner_id,
        _ => owner_for(principal, partner_id)?,
    };
    let mut conn = webhooks.db.get().await?;
    Ok(SubscriptionRow::list(&mut conn, filter).await?)
}

pub async fn get(
    webhooks: &Webhooks,
    principal: &Principal,
    id: Uuid,
) -> AppResult<SubscriptionRow> {
    let mut conn = webhooks.db.get().await?;
    visible(principal, SubscriptionRow::find(&mut conn, id).await?)
}

/// Attempts of the subscription's deliveries, newest first.
pub async fn deliveries(
    webhooks: &Webhooks,
    principal: &Principal,
    subscription: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<AttemptRow>> {
    let mut conn = webhooks.db.get().await?;
    visible(
        principal,
        SubscriptionRow::find(&mut conn, subscription).await?,
    )?;
    Ok(AttemptRow::page(&mut conn, subscription, before, limit).await?)
}

/// Queues one event to be sent to the subscription again (before the events that come
/// next); answers the queue row's id. The event must be one the subscription receives.
pub async fn redeliver(
    webhooks: &Webhooks,
    principal: &Principal,
    event: Uuid,
    subscription: Uuid,
) -> AppResult<Uuid> {
    let mut conn = webhooks.db.get().await?;
    conn.transaction(async |conn| {
        let row = visible(principal, SubscriptionRow::find(conn, subscription).await?)?;
        let (_, parties) = EventRow::find(conn, event)
            .await?
            .ok_or(AppError::NotFound("webhook event"))?;
        let party = match row.partner_id {
            None => true,
            Some(partner) => parties.contains(&Some(partner)),
        };
        if !party {
            return Err(AppError::NotFound("webhook event"));
        }
        let id = EventRow::redeliver(conn, event, subscription).await?;
        let change = Change::new("webhook.redelivered", row.partner_id, subscription)
            .after(&serde_json::json!({ "eventId": event, "deliveryId": id }));
        audit::record(conn, principal, change).await?;
        Ok(id)
    })
    .await
}
