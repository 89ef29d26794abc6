//! Ambassadors, their activity and referral codes; the queries behind the leaderboard
//! projection (outbox, absolute scores, the rebuild stream).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{
    prelude::*,
    sql_query,
    sql_types::{Array, BigInt, Date, Nullable, Timestamptz, Uuid as SqlUuid},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::prepared::prepared;
use crate::db::schema::{
    ambassador_activities, ambassador_enrollments, ambassadors, referral_codes,
};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = ambassadors, check_for_backend(diesel::pg::Pg))]
pub struct Ambassador {
    pub id: Uuid,
    pub member_id: Uuid,
    pub handle: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = ambassador_activities, check_for_backend(diesel::pg::Pg))]
pub struct Activity {
    pub id: Uuid,
    pub ambassador_id: Uuid,
    pub partner_id: Uuid,
    pub kind: String,
    pub score: i64,
    pub reward_points: i64,
    pub reference: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = referral_codes, check_for_backend(diesel::pg::Pg))]
pub struct ReferralCode {
    pub code: String,
    pub ambassador_id: Uuid,
    pub partner_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl Ambassador {
    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Ambassador>> {
        ambassadors::table
            .find(id)
            .select(Ambassador::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn find_by_member(
        conn: &mut AsyncPgConnection,
        member_id: Uuid,
    ) -> QueryResult<Option<Ambassador>> {
        ambassadors::table
            .filter(ambassadors::member_id.eq(member_id))
            .select(Ambassador::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn insert(conn: &mut AsyncPgConnection, row: &Ambassador) -> QueryResult<Ambassador> {
        diesel::insert_into(ambassadors::table)
            .values(row)
            .returning(Ambassador::as_returning())
            .get_result(conn)
            .await
    }

    /// Enrols for a partner (or, with `None`, the coalition); enrolling twice is a no-op.
    pub async fn enroll(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        partner_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> QueryResult<()> {
        sql_query(
            "INSERT INTO ambassador_enrollments (ambassador_id, partner_id, enrolled_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Nullable<SqlUuid>, _>(partner_id)
        .bind::<Timestamptz, _>(now)
        .execute(conn)
        .await
        .map(drop)
    }

    /// The scopes it is enrolled for: partner ids, `None` for the coalition.
    pub async fn scopes(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Vec<Option<Uuid>>> {
        ambassador_enrollments::table
            .filter(ambassador_enrollments::ambassador_id.eq(id))
            .order(ambassador_enrollments::id)
            .select(ambassador_enrollments::partner_id)
            .load(conn)
            .await
    }

    pub async fn activities(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        partner_id: Option<Uuid>,
        limit: i64,
    ) -> QueryResult<Vec<Activity>> {
        let mut query = ambassador_activities::table
            .filter(ambassador_activities::ambassador_id.eq(id))
            .into_boxed();
        if let Some(partner_id) = partner_id {
            query = query.filter(ambassador_activities::partner_id.eq(partner_id));
        }
        query
            .order(ambassador_activities::occurred_at.desc())
            .limit(limit)
            .select(Activity::as_select())
            .load(conn)
            .await
    }
}

impl Activity {
    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Activity>> {
        ambassador_activities::table
            .find(id)
            .select(Activity::as_select())
            .first(conn)
            .await
            .optional()
    }
}

impl ReferralCode {
    pub async fn insert(conn: &mut AsyncPgConnection, row: &ReferralCode) -> QueryResult<()> {
        diesel::insert_into(referral_codes::table)
            .values(row)
            .execute(conn)
            .await
            .map(drop)
    }
}

/// An activity waiting in the outbox: what the relay needs to find its boards.
#[derive(Debug, QueryableByName)]
pub struct PendingActivity {
    #[diesel(sql_type = SqlUuid)]
    pub ambassador_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub partner_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    pub occurred_at: DateTime<Utc>,
}

/// Takes (deletes) up to `limit` outbox rows, oldest first, and returns their activities.
/// The caller's transaction gives them back should projecting them fail.
pub async fn take_outbox(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> QueryResult<Vec<PendingActivity>> {
    sql_query(
        "WITH taken AS ( \
             DELETE FROM leaderboard_outbox WHERE id IN \
                 (SELECT id FROM leaderboard_outbox ORDER BY id LIMIT $1) \
             RETURNING activity_id) \
         SELECT DISTINCT a.ambassador_id, a.partner_id, a.occurred_at \
         FROM taken t JOIN ambassador_activities a ON a.id = t.activity_id",
    )
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

pub async fn outbox_len(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    diesel::dsl::sql::<BigInt>("SELECT count(*) FROM leaderboard_outbox")
        .get_result(conn)
        .await
}

#[derive(QueryableByName)]
struct Score {
    #[diesel(sql_type = BigInt)]
    score: i64,
}

/// One ambassador's score on one board: the scope (`None`: coalition) and the window.
pub struct ScoreQuery {
    pub ambassador_id: Uuid,
    pub partner_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Absolute scores, summed from the activity log, in the order asked.
pub async fn scores(conn: &mut AsyncPgConnection, asked: &[ScoreQuery]) -> QueryResult<Vec<i64>> {
    let rows: Vec<Score> = prepared(
        sql_query(
            "SELECT coalesce(sum(a.score), 0)::bigint AS score \
         FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[]) \
              WITH ORDINALITY AS t(ambassador_id, partner_id, from_at, to_at, i) \
         LEFT JOIN ambassador_activities a ON a.ambassador_id = t.ambassador_id \
              AND (t.partner_id IS NULL OR a.partner_id = t.partner_id) \
              AND (t.from_at IS NULL OR a.occurred_at >= t.from_at) \
              AND (t.to_at IS NULL OR a.occurred_at < t.to_at) \
         GROUP BY t.i ORDER BY t.i",
        )
        .bind::<Array<SqlUuid>, _>(asked.iter().map(|q| q.ambassador_id).collect::<Vec<_>>())
        .bind::<Array<Nullable<SqlUuid>>, _>(asked.iter().map(|q| q.partner_id).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamptz>>, _>(asked.iter().map(|q| q.from).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamptz>>, _>(asked.iter().map(|q| q.to).collect::<Vec<_>>()),
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.score).collect())
}

pub async fn handles(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, String)>> {
    ambassadors::table
        .filter(ambassadors::id.eq_any(ids))
        .select((ambassadors::id, ambassadors::handle))
        .load(conn)
        .await
}

/// Scores summed by ambassador, partner, ISO week and month: the rebuild's input. Rows of
/// one ambassador come together (ordered by ambassador), so that its six boards can be
/// summed with memory for one ambassador at a time.
#[derive(Debug, QueryableByName)]
pub struct ScoreSlice {
    #[diesel(sql_type = SqlUuid)]
    pub ambassador_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub partner_id: Uuid,
    #[diesel(sql_type = Date)]
    pub week: NaiveDate,
    #[diesel(sql_type = Date)]
    pub month: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub score: i64,
}

pub const SLICES_CURSOR: &str = "DECLARE score_slices NO SCROLL CURSOR FOR \
     SELECT ambassador_id, partner_id, \
            date_trunc('week', occurred_at AT TIME ZONE 'UTC')::date AS week, \
            date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date AS month, \
            sum(score)::bigint AS score \
     FROM ambassador_activities GROUP BY 1, 2, 3, 4 ORDER BY 1";

pub async fn fetch_slices(
    conn: &mut AsyncPgConnection,
    count: usize,
) -> QueryResult<Vec<ScoreSlice>> {
    sql_query(format!("FETCH {count} FROM score_slices"))
        .load(conn)
        .await
}

pub const HANDLES_CURSOR: &str =
    "DECLARE handles NO SCROLL CURSOR FOR SELECT id, handle FROM ambassadors";

#[derive(Debug, QueryableByName)]
pub struct HandleRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub handle: String,
}

pub async fn fetch_handles(
    conn: &mut AsyncPgConnection,
    count: usize,
) -> QueryResult<Vec<HandleRow>> {
    sql_query(format!("FETCH {count} FROM handles"))
        .load(conn)
        .await
}

pub async fn count_ambassadors(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    ambassadors::table.count().get_result(conn).await
}

/// Bumps and returns the projection's version (in the relay's transaction).
pub async fn bump_projection_version(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    diesel::dsl::sql::<BigInt>(
        "UPDATE leaderboard_projection SET version = version + 1 WHERE id = 1 RETURNING version",
    )
    .get_result(conn)
    .await
}

pub async fn projection_version(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    diesel::dsl::sql::<BigInt>("SELECT version FROM leaderboard_projection WHERE id = 1")
        .get_result(conn)
        .await
}

/// Attaches a referral code to a newly enrolled member, in the caller's transaction (see
/// `hub_attach_referral` for the rules); false when the member was already referred here.
/// A refused code raises its refusal (read by `db::ledger::database_error`).
pub async fn attach_referral(
    conn: &mut AsyncPgConnection,
    code: &str,
    member_id: Uuid,
    partner_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Attached {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        attached: bool,
    }
    let row: Attached = sql_query("SELECT hub_attach_referral($1, $2, $3, NULL, $4) AS attached")
        .bind::<diesel::sql_types::Text, _>(code)
        .bind::<SqlUuid, _>(member_id)
        .bind::<SqlUuid, _>(partner_id)
        .bind::<Timestamptz, _>(now)
        .get_result(conn)
        .await?;
    Ok(row.attached)
}
