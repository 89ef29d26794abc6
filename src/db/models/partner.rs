use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::partners;

#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Insertable, serde::Serialize)]
#[diesel(table_name = partners, check_for_backend(diesel::pg::Pg))]
pub struct Partner {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub category: String,
    pub currency: String,
    pub earn_rate: BigDecimal,
    pub accepts_redemptions: bool,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Leaderboard score of a referral that converts here.
    pub referral_score: i64,
    /// Points this partner issues to the ambassador when a referral converts here.
    pub referral_reward_points: i64,
    /// Earns here are multiplied by the member's tier multiplier.
    pub applies_tier_multiplier: bool,
    /// Days the points earned here stay pending (0-90; 0: available at once).
    pub return_window_days: i32,
    /// The coalition's campaign budget (`COALITION_PARTNER_ID`), not a merchant.
    pub is_coalition: bool,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = partners)]
pub struct PartnerChanges {
    pub name: Option<String>,
    pub category: Option<String>,
    pub earn_rate: Option<BigDecimal>,
    pub accepts_redemptions: Option<bool>,
    pub status: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    pub referral_score: Option<i64>,
    pub referral_reward_points: Option<i64>,
    pub applies_tier_multiplier: Option<bool>,
    pub return_window_days: Option<i32>,
}

impl Partner {
    pub fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }

    pub async fn insert(conn: &mut AsyncPgConnection, row: &Partner) -> QueryResult<Partner> {
        diesel::insert_into(partners::table)
            .values(row)
            .returning(Partner::as_returning())
            .get_result(conn)
            .await
    }

    /// Partners by id (`id = ANY($1)`), in no particular order.
    pub async fn find_many(
        conn: &mut AsyncPgConnection,
        ids: &[Uuid],
    ) -> QueryResult<Vec<Partner>> {
        partners::table
            .filter(partners::id.eq_any(ids))
            .select(Partner::as_select())
            .load(conn)
            .await
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Partner>> {
        partners::table
            .find(id)
            .select(Partner::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn find_by_slug(
        conn: &mut AsyncPgConnection,
        slug: &str,
    ) -> QueryResult<Option<Partner>> {
        partners::table
            .filter(partners::slug.eq(slug))
            .select(Partner::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn status(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<String>> {
        partners::table
            .find(id)
            .select(partners::status)
            .first(conn)
            .await
            .optional()
    }

    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        changes: &PartnerChanges,
    ) -> QueryResult<Option<Partner>> {
        diesel::update(partners::table.find(id))
            .set(changes)
            .returning(Partner::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// One page in (created_at, id) order, after the given key; `limit` rows at most.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
        only_active: bool,
    ) -> QueryResult<Vec<Partner>> {
        let mut query = partners::table
            .filter(partners::is_coalition.eq(false))
            .select(Partner::as_select())
            .order_by((partners::created_at, partners::id))
            .limit(limit)
            .into_boxed();
        if let Some((created_at, id)) = after {
            query = query.filter(
                partners::created_at
                    .gt(created_at)
                    .or(partners::created_at.eq(created_at).and(partners::id.gt(id))),
            );
        }
        if only_active {
            query = query.filter(partners::status.eq("ACTIVE"));
        }
        query.load(conn).await
    }
}
