//! Figures for the pages' charts: points issued and redeemed per day, points outstanding.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{
    QueryableByName,
    sql_types::{BigInt, Date, Uuid as SqlUuid},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct ActivityDay {
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub issued: i64,
    #[diesel(sql_type = BigInt)]
    pub redeemed: i64,
}

/// The smallest UUIDv7 of `at`'s millisecond: entries' ids are UUIDv7, so an id range is a
/// time range read from the primary key (or the partner's index).
fn first_id_at(at: DateTime<Utc>) -> Uuid {
    let millis = at.timestamp_millis().max(0) as u64;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    Uuid::from_bytes(bytes)
}

const BY_DAY: &str = "(created_at AT TIME ZONE 'UTC')::date AS day,
    COALESCE(sum(points) FILTER (WHERE kind IN ('ISSUE', 'BONUS')), 0)::bigint AS issued,
    COALESCE(sum(points) FILTER (WHERE kind IN ('REDEEM', 'CAPTURE')), 0)::bigint AS redeemed";

/// Points issued (earns and bonuses) and redeemed (redemptions and captured holds) per UTC
/// day since `from`, for one partner or the whole coalition; days without any are left out.
pub async fn by_day(
    conn: &mut AsyncPgConnection,
    partner_id: Option<Uuid>,
    from: DateTime<Utc>,
) -> diesel::QueryResult<Vec<ActivityDay>> {
    let first = first_id_at(from);
    match partner_id {
        Some(partner_id) => {
            diesel::sql_query(format!(
                "SELECT {BY_DAY} FROM journal_entries
                 WHERE partner_id = $1 AND id >= $2 GROUP BY 1 ORDER BY 1"
            ))
            .bind::<SqlUuid, _>(partner_id)
            .bind::<SqlUuid, _>(first)
            .load(conn)
            .await
        }
        None => {
            diesel::sql_query(format!(
                "SELECT {BY_DAY} FROM journal_entries WHERE id >= $1 GROUP BY 1 ORDER BY 1"
            ))
            .bind::<SqlUuid, _>(first)
            .load(conn)
            .await
        }
    }
}

#[derive(QueryableByName)]
struct Sum {
    #[diesel(sql_type = BigInt)]
    points: i64,
}

/// Points issued by the partner (or anyone) that members still hold: its liability. Reads
/// every lot with points left (there is no index by issuer: it would cost every earn).
pub async fn outstanding(
    conn: &mut AsyncPgConnection,
    partner_id: Option<Uuid>,
) -> diesel::QueryResult<i64> {
    let row: Sum = diesel::sql_query(
        "SELECT COALESCE(sum(remaining), 0)::bigint AS points FROM lots
         WHERE remaining > 0 AND ($1::uuid IS NULL OR issuer_partner_id = $1)",
    )
    .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(partner_id)
    .get_result(conn)
    .await?;
    Ok(row.points)
}

#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct OutstandingDay {
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
}

/// Records every partner's points outstanding, and the coalition's (the nil id), as of the
/// start of `day`, unless that day is recorded already. One hub records it: the others skip
/// while the lock is held, and find the day recorded after. Answers whether it recorded.
pub async fn snapshot_outstanding(
    conn: &mut AsyncPgConnection,
    day: NaiveDate,
) -> diesel::QueryResult<bool> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let recorded: Sum = diesel::sql_query(
            "SELECT (CASE WHEN pg_try_advisory_xact_lock(7274626) AND NOT EXISTS
                 (SELECT 1 FROM outstanding_snapshots WHERE partner_id = $2 AND day = $1)
                 THEN 0 ELSE 1 END)::bigint AS points",
        )
        .bind::<Date, _>(day)
        .bind::<SqlUuid, _>(Uuid::nil())
        .get_result(conn)
        .await?;
        if recorded.points == 1 {
            return Ok(false);
        }
        diesel::sql_query(
            "INSERT INTO outstanding_snapshots (day, partner_id, points, taken_at)
             SELECT $1, issuer_partner_id, sum(remaining), now() FROM lots
             WHERE remaining > 0 GROUP BY issuer_partner_id
             UNION ALL
             SELECT $1, $2, COALESCE(sum(remaining), 0), now() FROM lots WHERE remaining > 0",
        )
        .bind::<Date, _>(day)
        .bind::<SqlUuid, _>(Uuid::nil())
        .execute(conn)
        .await?;
        Ok(true)
    })
    .await
}

/// The recorded days since `from` of one partner (or the coalition's totals); a partner
/// with nothing outstanding on a recorded day has no row of its own: 0.
pub async fn outstanding_by_day(
    conn: &mut AsyncPgConnection,
    partner_id: Option<Uuid>,
    from: NaiveDate,
) -> diesel::QueryResult<Vec<OutstandingDay>> {
    diesel::sql_query(
        "SELECT d.day, COALESCE(p.points, 0) AS points
         FROM outstanding_snapshots d
         LEFT JOIN outstanding_snapshots p ON p.day = d.day AND p.partner_id = $2
         WHERE d.partner_id = $3 AND d.day >= $1 ORDER BY d.day",
    )
    .bind::<Date, _>(from)
    .bind::<SqlUuid, _>(partner_id.unwrap_or(Uuid::nil()))
    .bind::<SqlUuid, _>(Uuid::nil())
    .load(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_made_at_a_time_sorts_between_that_times_first_id_and_the_next_ones() {
        let before = Utc::now();
        let id = Uuid::now_v7();
        let after = Utc::now() + chrono::Duration::milliseconds(1);
        assert!(first_id_at(before) <= id, "{id} sorts before {before}");
        assert!(id < first_id_at(after), "{id} sorts after {after}");
    }
}
