//! Ambassadors: enrolment, activity (with reward points through the ledger) and referral
//! codes. Each mutation is one transaction; activity and its outbox row commit together,
//! and the relay ([`super::leaderboards::relay`]) projects them into Redis afterwards.

use chrono::{DateTime, Utc};
use diesel::{
    result::{DatabaseErrorKind, Error as DieselError},
    sql_query,
    sql_types::{BigInt, Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid},
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::live::Publisher;
use crate::db::{DbPool, prepared::prepared};
use crate::{
    auth::{Principal, Scope},
    db::ledger::hub_answer,
    db::models::{
        Partner,
        ambassador::{Activity, Ambassador, ReferralCode},
        is_unique_violation,
    },
    domain::{
        leaderboard::{
            generate_referral_code, validate_handle, validate_occurred_at, validate_score,
        },
        ledger::{
            Booked, Fingerprint, LedgerAnswer, lot_expiry, validate_key, validate_points,
            validate_reference,
        },
    },
    error::{AppError, AppResult},
    services::{
        ledger::{Outcome, caller},
        members::{MemberRef, find_as_linked},
    },
};

pub(crate) struct EnrollInput {
    /// Operator only: the partner to enrol for; none enrols for the whole coalition.
    pub partner_id: Option<Uuid>,
    pub member: MemberRef,
    pub handle: String,
}

pub(crate) struct Enrolled {
    pub ambassador: Ambassador,
    /// Partner ids it is enrolled for; `None` is the coalition.
    pub scopes: Vec<Option<Uuid>>,
}

/// The ambassadors' handle: enrolment, activity and referrals.
#[derive(Clone)]
pub struct Ambassadors {
    pub db: DbPool,
    /// Announces an ambassador's reward balance (`balanceChanged`).
    pub publisher: Publisher,
    /// Lifetime of the points a referral reward issues.
    pub points_lifetime: chrono::Duration,
}

/// The scope an enrolment or a code is for: a partner always its own, an operator the one
/// it names or the coalition.
fn scope_for(principal: &Principal, requested: Option<Uuid>) -> AppResult<Option<Uuid>> {
    match principal {
        Principal::Operator { .. } => Ok(requested),
        _ => principal
            .acting_partner(Scope::AmbassadorsWrite, requested)
            .map(Some),
    }
}

pub(crate) async fn enroll(
    ambassadors: &Ambassadors,
    principal: &Principal,
    input: EnrollInput,
) -> AppResult<Enrolled> {
    let scope = scope_for(principal, input.partner_id)?;
    validate_handle(&input.handle)?;
    let mut conn = ambassadors.db.get().await?;
    if let Some(partner_id) = scope {
        Partner::find(&mut conn, partner_id)
            .await?
            .ok_or(AppError::NotFound("partner"))?;
    }
    let member = find_as_linked(&mut conn, principal, &input.member).await?;
    let now = Utc::now();
    let ambassador = conn
        .transaction::<_, AppError, _>(async |conn| {
            let ambassador = profile(conn, member.id, &input.handle, now).await?;
            Ambassador::enroll(conn, ambassador.id, scope, now).await?;
            Ok(ambassador)
        })
        .await?;
    let scopes = Ambassador::scopes(&mut conn, ambassador.id).await?;
    tracing::info!(ambassador_id = %ambassador.id, ?scope, "ambassador enrolled");
    Ok(Enrolled { ambassador, scopes })
}

/// The member's ambassador profile, created with this handle if it has none. A member has
/// one handle on every board: enrolling again with another handle is refused.
async fn profile(
    conn: &mut AsyncPgConnection,
    member_id: Uuid,
    handle: &str,
    now: DateTime<Utc>,
) -> AppResult<Ambassador> {
    if let Some(existing) = Ambassador::find_by_member(conn, member_id).await? {
        return if existing.handle.eq_ignore_ascii_case(handle) {
            Ok(existing)
        } else {
            Err(AppError::bad_input(format!(
                "this member is already an ambassador, with the handle {}",
                existing.handle
            )))
        };
    }
    let row = Ambassador {
        id: Uuid::now_v7(),
        member_id,
        handle: handle.to_owned(),
        created_at: now,
    };
    match Ambassador::insert(conn, &row).await {
        Ok(ambassador) => Ok(ambassador),
        Err(e) if is_unique_violation(&e, "ambassadors_handle") => {
            Err(AppError::bad_input("this handle is taken"))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) struct ActivityInput {
    pub partner_id: Option<Uuid>,
    pub ambassador_id: Uuid,
    /// One of the `AmbassadorActivityKind` names.
    pub kind: &'static str,
    pub score: i64,
    pub reward_points: Option<i64>,
    pub idempotency_key: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub reference: Option<String>,
}

/// Records an activity once per idempotency key; reward points are issued by the same
/// partner in the same transaction.
pub(crate) async fn record_activity(
    ambassadors: &Ambassadors,
    principal: &Principal,
    input: ActivityInput,
) -> AppResult<(Activity, bool)> {
    let partner_id = principal.acting_partner(Scope::AmbassadorsWrite, input.partner_id)?;
    validate_key(&input.idempotency_key)?;
    validate_reference(input.reference.as_deref())?;
    validate_score(input.score)?;
    let reward = match input.reward_points {
        None | Some(0) => 0,
        Some(points) => validate_points(points)?,
    };
    let now = Utc::now();
    let occurred_at = input.occurred_at.unwrap_or(now);
    validate_occurred_at(now, occurred_at)?;
    let fingerprint = Fingerprint::new("recordAmbassadorActivity")
        .field(partner_id)
        .field(input.ambassador_id)
        .field(input.kind)
        .field(input.score)
        .field(reward)
        .optional(input.occurred_at.map(|t| t.timestamp_micros()))
        .optional(input.reference.as_deref())
        .finish();
    let reward_expires_at = lot_expiry(now, None, ambassadors.points_lifetime)?;
    #[derive(serde::Deserialize)]
    struct Recorded {
        activity_id: Uuid,
        replayed: bool,
    }
    #[derive(diesel::QueryableByName)]
    struct Answer {
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        answer: serde_json::Value,
    }
    let mut conn = ambassadors.db.get().await?;
    let answer: Answer = prepared(
        sql_query(
            "SELECT ambassador_record_activity( \
             $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) AS answer",
        )
        .bind::<Text, _>(caller(principal))
        .bind::<Text, _>(&input.idempotency_key)
        .bind::<Bytea, _>(fingerprint)
        .bind::<SqlUuid, _>(partner_id)
        .bind::<SqlUuid, _>(input.ambassador_id)
        .bind::<Text, _>(input.kind)
        .bind::<BigInt, _>(input.score)
        .bind::<BigInt, _>(reward)
        .bind::<Timestamptz, _>(reward_expires_at)
        .bind::<Nullable<Text>, _>(&input.reference)
        .bind::<Timestamptz, _>(occurred_at)
        .bind::<Timestamptz, _>(now),
    )
    .get_result(&mut conn)
    .await
    .map_err(|e| match e {
        // the activity row is written first: its foreign keys catch unknown ids
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
            match info.constraint_name() {
                Some("ambassador_activities_partner_id_fkey") => AppError::NotFound("partner"),
                _ => AppError::NotFound("ambassador"),
            }
        }
        other => crate::db::ledger::database_error(other),
    })?;
    let recorded = LedgerAnswer::<Recorded>::from_json(answer.answer)?;
    if reward > 0 && !recorded.replayed {
        publish_reward(ambassadors, &mut conn, recorded.activity_id).await;
    }
    let activity = Activity::find(&mut conn, recorded.activity_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("recorded activity vanished")))?;
    Ok((activity, recorded.replayed))
}

/// A new referral code for an ambassador. A partner's code is used at that partner; an
/// operator's or the ambassador's own code at the partner it names, or at any partner when
/// the ambassador is enrolled for the whole coalition.
pub(crate) async fn create_referral_code(
    ambassadors: &Ambassadors,
    principal: &Principal,
    ambassador_id: Option<Uuid>,
    partner_id: Option<Uuid>,
) -> AppResult<ReferralCode> {
    let mut conn = ambassadors.db.get().await?;
    let (ambassador, scope) = match principal {
        Principal::Member { member_id } => {
            let mine = Ambassador::find_by_member(&mut conn, *member_id)
                .await?
                .ok_or(AppError::NotFound("ambassador"))?;
            if ambassador_id.is_some_and(|id| id != mine.id) {
                return Err(AppError::NotFound("ambassador"));
            }
            (mine, partner_id)
        }
        _ => {
            let scope = scope_for(principal, partner_id)?;
            let id =
                ambassador_id.ok_or_else(|| AppError::bad_input("ambassadorId is required"))?;
            let found = Ambassador::find(&mut conn, id)
                .await?
                .ok_or(AppError::NotFound("ambassador"))?;
            (found, scope)
        }
    };
    let scopes = Ambassador::scopes(&mut conn, ambassador.id).await?;
    let allowed = scopes.contains(&None) || (scope.is_some() && scopes.contains(&scope));
    if !allowed {
        // to a partner, an ambassador of another partner does not exist
        return Err(match principal {
            Principal::Partner { .. } => AppError::NotFound("ambassador"),
            _ => {
                AppError::bad_input("the ambassador is not enrolled where this code would be used")
            }
        });
    }
    for _ in 0..5 {
        let row = ReferralCode {
            code: generate_referral_code(&mut rand::rng()),
            ambassador_id: ambassador.id,
            partner_id: scope,
            created_at: Utc::now(),
        };
        match ReferralCode::insert(&mut conn, &row).await {
            Ok(()) => return Ok(row),
            Err(e) if is_unique_violation(&e, "referral_codes_pkey") => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::internal(anyhow::anyhow!(
        "could not draw a free referral code"
    )))
}

/// The rewarded ambassador's new balance, for its `balanceChanged` event (best effort: the
/// activity has committed whatever happens here).
async fn publish_reward(
    ambassadors: &Ambassadors,
    conn: &mut AsyncPgConnection,
    activity_id: Uuid,
) {
    use crate::db::schema::idempotency_keys as keys;
    use diesel::{ExpressionMethods, QueryDsl};
    let reward = async {
        let entry: Uuid = keys::table
            .filter(keys::caller.eq("ambassador-reward"))
            .filter(keys::key.eq(activity_id.to_string()))
            .select(keys::entry_id)
            .first(conn)
            .await?;
        let answer: serde_json::Value = diesel::select(hub_answer(entry, false))
            .get_result(conn)
            .await?;
        LedgerAnswer::<Booked>::from_json(answer)
    };
    match reward.await {
        Ok(booked) => ambassadors.publisher.publish(&[&Outcome::from(&booked)]),
        Err(e) => tracing::debug!(error = ?e, "no balance event for an ambassador reward"),
    }
}
