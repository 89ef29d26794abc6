//! Rate cards, settlement records and closed periods.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{BigInt, Nullable, Numeric, Text, Timestamptz},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{partner_rates, settlement_periods};

#[derive(Clone, Debug, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = partner_rates, check_for_backend(diesel::pg::Pg))]
pub struct PartnerRate {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub redemption_value: BigDecimal,
    pub issuance_fee: BigDecimal,
    pub effective_from: DateTime<Utc>,
    pub set_by: String,
    pub created_at: DateTime<Utc>,
}

impl PartnerRate {
    pub async fn insert(conn: &mut AsyncPgConnection, row: &PartnerRate) -> QueryResult<()> {
        diesel::insert_into(partner_rates::table)
            .values(row)
            .execute(conn)
            .await
            .map(drop)
    }

    /// The partner's rate history, latest first.
    pub async fn history(
        conn: &mut AsyncPgConnection,
        partner_id: Uuid,
    ) -> QueryResult<Vec<PartnerRate>> {
        partner_rates::table
            .filter(partner_rates::partner_id.eq(partner_id))
            .order_by((
                partner_rates::effective_from.desc(),
                partner_rates::created_at.desc(),
            ))
            .select(PartnerRate::as_select())
            .load(conn)
            .await
    }
}

/// A closed period; the snapshot stays in SQL (see `Period::last_close`).
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = settlement_periods, check_for_backend(diesel::pg::Pg))]
pub struct Period {
    pub id: Uuid,
    pub period_start: DateTime<Utc>,
    pub cutoff: DateTime<Utc>,
    pub closed_at: DateTime<Utc>,
    pub closed_by: String,
    pub record_count: i64,
    pub statement: serde_json::Value,
    pub content_hash: String,
}

/// The latest close: where the next period starts, and the snapshot that tells which
/// earlier records it already took.
#[derive(Debug, QueryableByName)]
pub struct LastClose {
    #[diesel(sql_type = Timestamptz)]
    pub cutoff: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub snapshot: String,
}

pub struct NewPeriod<'a> {
    pub id: Uuid,
    pub period_start: DateTime<Utc>,
    pub cutoff: DateTime<Utc>,
    pub closed_at: DateTime<Utc>,
    pub closed_by: &'a str,
    pub record_count: i64,
    pub statement: &'a str,
    pub content_hash: &'a str,
}

impl Period {
    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Period>> {
        settlement_periods::table
            .find(id)
            .select(Period::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn find_by_cutoff(
        conn: &mut AsyncPgConnection,
        cutoff: DateTime<Utc>,
    ) -> QueryResult<Option<Period>> {
        settlement_periods::table
            .filter(settlement_periods::cutoff.eq(cutoff))
            .select(Period::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Newest first, before the given cut-off; `limit` rows at most.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        before: Option<DateTime<Utc>>,
        limit: i64,
    ) -> QueryResult<Vec<Period>> {
        let mut query = settlement_periods::table
            .select(Period::as_select())
            .order_by(settlement_periods::cutoff.desc())
            .limit(limit)
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(settlement_periods::cutoff.lt(before));
        }
        query.load(conn).await
    }

    pub async fn last_close(conn: &mut AsyncPgConnection) -> QueryResult<Option<LastClose>> {
        diesel::sql_query(
            "SELECT cutoff, snapshot::text AS snapshot FROM settlement_periods ORDER BY cutoff DESC LIMIT 1",
        )
        .get_result(conn)
        .await
        .optional()
    }

    /// Stores a close, with the closing transaction's own snapshot (REPEATABLE READ: the one
    /// its aggregation saw).
    pub async fn insert(conn: &mut AsyncPgConnection, row: NewPeriod<'_>) -> QueryResult<()> {
        diesel::sql_query(
            "INSERT INTO settlement_periods
               (id, period_start, cutoff, closed_at, closed_by, snapshot, record_count, statement, content_hash)
             VALUES ($1, $2, $3, $4, $5, pg_current_snapshot(), $6, $7::jsonb, $8)",
        )
        .bind::<diesel::sql_types::Uuid, _>(row.id)
        .bind::<Timestamptz, _>(row.period_start)
        .bind::<Timestamptz, _>(row.cutoff)
        .bind::<Timestamptz, _>(row.closed_at)
        .bind::<Text, _>(row.closed_by)
        .bind::<BigInt, _>(row.record_count)
        .bind::<Text, _>(row.statement)
        .bind::<Text, _>(row.content_hash)
        .execute(conn)
        .await
        .map(drop)
    }
}

/// One aggregated group of settlement records (see `domain::settlement::Attributed`).
#[derive(Debug, QueryableByName)]
pub struct AttributedRow {
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub issuer: Uuid,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub redeemer: Option<Uuid>,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
    #[diesel(sql_type = Numeric)]
    pub money: BigDecimal,
    #[diesel(sql_type = BigInt)]
    pub records: i64,
}

/// Groups records by kind, issuer, redeemer and the rate in force at each record's time
/// (the redeemer's redemption value, or the issuer's issuance fee), so that money is
/// points x rate once per group. `{filter}` selects the records of `s`.
fn aggregate_sql(filter: &str) -> String {
    format!(
        "WITH rates AS (
            SELECT partner_id, redemption_value, issuance_fee, effective_from,
                   coalesce(lead(effective_from) OVER (PARTITION BY partner_id ORDER BY effective_from, created_at),
                            'infinity') AS effective_to
            FROM partner_rates
         ), grouped AS (
            SELECT s.kind, s.issuer_partner_id AS issuer, s.redeeming_partner_id AS redeemer,
                   CASE WHEN s.kind IN ('REDEMPTION', 'REDEMPTION_REVERSAL') THEN r.redemption_value
                        WHEN s.kind IN ('ISSUE', 'ISSUE_REVERSAL', 'BONUS_ISSUE') THEN r.issuance_fee
                   END AS rate,
                   sum(s.points)::bigint AS points, count(*) AS records
            FROM settlement_records s
            LEFT JOIN rates r
              ON r.partner_id = coalesce(s.redeeming_partner_id, s.issuer_partner_id)
             AND s.occurred_at >= r.effective_from AND s.occurred_at < r.effective_to
            WHERE {filter}
            GROUP BY 1, 2, 3, 4
         )
         SELECT kind, issuer, redeemer, points, points * coalesce(rate, 0) AS money, records
         FROM grouped"
    )
}

/// Records with occurred_at in [from, to) that this transaction sees.
pub async fn aggregate_range(
    conn: &mut AsyncPgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<AttributedRow>> {
    diesel::sql_query(aggregate_sql("s.occurred_at >= $1 AND s.occurred_at < $2"))
        .bind::<Timestamptz, _>(from)
        .bind::<Timestamptz, _>(to)
        .load(conn)
        .await
}

/// Records from before the last cut-off that the last close did not see, because their
/// transaction had not committed when it ran: they belong to the next period.
pub async fn aggregate_late(
    conn: &mut AsyncPgConnection,
    last: &LastClose,
) -> QueryResult<Vec<AttributedRow>> {
    diesel::sql_query(aggregate_sql(
        "s.occurred_at < $1 AND s.txid >= pg_snapshot_xmin($2::pg_snapshot)
           AND NOT pg_visible_in_snapshot(s.txid, $2::pg_snapshot)",
    ))
    .bind::<Timestamptz, _>(last.cutoff)
    .bind::<Text, _>(&last.snapshot)
    .load(conn)
    .await
}

/// The time of the first record before `to`, if any.
pub async fn first_record_before(
    conn: &mut AsyncPgConnection,
    to: DateTime<Utc>,
) -> QueryResult<Option<DateTime<Utc>>> {
    use crate::db::schema::settlement_records::dsl::*;
    settlement_records
        .filter(occurred_at.lt(to))
        .select(diesel::dsl::min(occurred_at))
        .get_result(conn)
        .await
}
