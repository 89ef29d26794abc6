//! Tier levels and the ledger's tier-qualifying earns.

use bigdecimal::BigDecimal;
use chrono::NaiveDate;
use diesel::{
    QueryableByName,
    prelude::*,
    sql_types::{BigInt, Date},
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::tiers;

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
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

impl TierRow {
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
    let rows: Vec<EarnDay> = diesel::sql_query("SELECT day, points FROM hub_tier_earn_days($1)")
        .bind::<diesel::sql_types::Uuid, _>(member_id)
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.day, r.points)).collect())
}
