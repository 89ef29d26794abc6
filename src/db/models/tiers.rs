//! Tier levels and the ledger's tier-qualifying earns.

use bigdecimal::BigDecimal;
use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::{
    QueryableByName,
    prelude::*,
    sql_types::{Array, BigInt, Date, Nullable, Numeric, Text},
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{prepared::prepared, schema::tiers};

#[derive(Clone, Debug, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = tiers, check_for_backend(diesel::pg::Pg))]
pub struct TierRow {
    pub name: String,
    pub min_points: i64,
    pub earn_multiplier: BigDecimal,
}

#[derive(QueryableByName)]
struct EarnDay {
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    points: i64,
}

/// A row of [`TierRow::all_with_earn_days`]: a level, or a member's earn day.
#[derive(QueryableByName)]
struct LevelOrEarnDay {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    min_points: Option<i64>,
    #[diesel(sql_type = Nullable<Numeric>)]
    earn_multiplier: Option<BigDecimal>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    member_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Date>)]
    day: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<BigInt>)]
    points: Option<i64>,
}

/// Each member's tier-qualifying points by day (`hub_tier_earn_days`).
pub type EarnDays = HashMap<Uuid, Vec<(NaiveDate, i64)>>;

impl TierRow {
    /// The levels, lowest first, and each member's [`earn_days`], in one round trip.
    pub async fn all_with_earn_days(
        mut conn: &AsyncPgConnection,
        members: &[Uuid],
    ) -> QueryResult<(Vec<TierRow>, EarnDays)> {
        let rows: Vec<LevelOrEarnDay> = prepared(diesel::sql_query(
            "SELECT name, min_points, earn_multiplier, NULL::uuid AS member_id, NULL::date AS day, \
                    NULL::bigint AS points, 0 AS part FROM tiers \
             UNION ALL \
             SELECT NULL, NULL, NULL, m.id, d.day, d.points, 1 \
             FROM unnest($1::uuid[]) AS m (id), hub_tier_earn_days(m.id) d \
             ORDER BY part, min_points, member_id, day",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(members))
        .load(&mut conn)
        .await?;
        let mut levels = Vec::new();
        let mut days = EarnDays::new();
        for row in rows {
            match row {
                LevelOrEarnDay {
                    name: Some(name),
                    min_points: Some(min_points),
                    earn_multiplier: Some(earn_multiplier),
                    ..
                } => levels.push(TierRow {
                    name,
                    min_points,
                    earn_multiplier,
                }),
                LevelOrEarnDay {
                    member_id: Some(member),
                    day: Some(day),
                    points: Some(points),
                    ..
                } => days.entry(member).or_default().push((day, points)),
                _ => {}
            }
        }
        Ok((levels, days))
    }

    /// The levels, lowest first.
    pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<TierRow>> {
        tiers::table
            .order(tiers::min_points)
            .select(TierRow::as_select())
            .load(conn)
            .await
    }

    /// Replaces every level at once.
    pub async fn replace_all(
        conn: &mut AsyncPgConnection,
        rows: Vec<TierRow>,
    ) -> QueryResult<Vec<TierRow>> {
        conn.transaction(async |conn| {
            diesel::delete(tiers::table).execute(conn).await?;
            diesel::insert_into(tiers::table)
                .values(&rows)
                .execute(conn)
                .await?;
            TierRow::all(conn).await
        })
        .await
    }
}

/// The member's tier-qualifying points by UTC earn day (earns less their clawbacks).
pub async fn earn_days(
    conn: &mut AsyncPgConnection,
    member_id: Uuid,
) -> QueryResult<Vec<(NaiveDate, i64)>> {
    let query = diesel::sql_query("SELECT day, points FROM hub_tier_earn_days($1)")
        .bind::<diesel::sql_types::Uuid, _>(member_id);
    let rows: Vec<EarnDay> = prepared(query).load(conn).await?;
    Ok(rows.into_iter().map(|r| (r.day, r.points)).collect())
}
