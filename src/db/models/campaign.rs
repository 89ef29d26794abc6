//! Campaigns, their members' activations, and the facts about a member that campaign
//! audiences need (domain::campaign holds the rules; sql/campaigns/award.sql the caps).

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    BigInt, Bool, Date, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{campaigns, offer_activations};

#[derive(Clone, Debug, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = campaigns, check_for_backend(diesel::pg::Pg))]
pub struct CampaignRow {
    pub id: Uuid,
    pub name: String,
    pub partner_id: Option<Uuid>,
    pub sponsor_partner_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub schedule: serde_json::Value,
    pub time_zone: String,
    pub audience: String,
    pub audience_tier_level: Option<i32>,
    pub min_purchase: Option<BigDecimal>,
    pub category: Option<String>,
    pub sku: Option<String>,
    pub nth_purchase_in_month: Option<i32>,
    pub reward_kind: String,
    pub reward_multiplier: Option<BigDecimal>,
    pub reward_points: Option<i64>,
    pub reward_sku: Option<String>,
    pub member_cap: Option<i64>,
    pub budget: Option<i64>,
    pub awarded: i64,
    pub stacking_group: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl CampaignRow {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        row: &CampaignRow,
    ) -> QueryResult<CampaignRow> {
        diesel::insert_into(campaigns::table)
            .values(row)
            .returning(CampaignRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Replaces the editable fields (everything but id, creation, awarded and end).
    pub async fn update(
        conn: &mut AsyncPgConnection,
        row: &CampaignRow,
    ) -> QueryResult<CampaignRow> {
        use campaigns::dsl as c;
        diesel::update(campaigns::table.find(row.id))
            .set((
                c::name.eq(&row.name),
                c::starts_at.eq(row.starts_at),
                c::ends_at.eq(row.ends_at),
                c::schedule.eq(&row.schedule),
                c::time_zone.eq(&row.time_zone),
                c::audience.eq(&row.audience),
                c::audience_tier_level.eq(row.audience_tier_level),
                c::min_purchase.eq(&row.min_purchase),
                c::category.eq(&row.category),
                c::sku.eq(&row.sku),
                c::nth_purchase_in_month.eq(row.nth_purchase_in_month),
                c::reward_kind.eq(&row.reward_kind),
                c::reward_multiplier.eq(&row.reward_multiplier),
                c::reward_points.eq(row.reward_points),
                c::reward_sku.eq(&row.reward_sku),
                c::member_cap.eq(row.member_cap),
                c::budget.eq(row.budget),
                c::stacking_group.eq(&row.stacking_group),
                c::updated_at.eq(row.updated_at),
            ))
            .returning(CampaignRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Ends the campaign now; ending it again keeps the first end.
    pub async fn end(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> QueryResult<()> {
        use campaigns::dsl as c;
        diesel::update(campaigns::table.find(id).filter(c::ended_at.is_null()))
            .set((c::ended_at.eq(now), c::updated_at.eq(now)))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<CampaignRow>> {
        campaigns::table
            .find(id)
            .select(CampaignRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// A page, newest first: a partner's own (its earns' campaigns and those it sponsors)
    /// when `partner` is given, else all.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        partner: Option<Uuid>,
        before: Option<Uuid>,
        limit: i64,
    ) -> QueryResult<Vec<CampaignRow>> {
        let mut query = campaigns::table.into_boxed();
        if let Some(p) = partner {
            query = query.filter(
                campaigns::partner_id
                    .eq(p)
                    .or(campaigns::sponsor_partner_id.eq(p)),
            );
        }
        if let Some(before) = before {
            query = query.filter(campaigns::id.lt(before));
        }
        query
            .order_by(campaigns::id.desc())
            .limit(limit)
            .select(CampaignRow::as_select())
            .load(conn)
            .await
    }

    /// Campaigns not ended whose window has not closed: what earns may qualify for.
    pub async fn live(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
    ) -> QueryResult<Vec<CampaignRow>> {
        campaigns::table
            .filter(campaigns::ended_at.is_null())
            .filter(campaigns::ends_at.gt(now))
            .select(CampaignRow::as_select())
            .load(conn)
            .await
    }
}

pub async fn activate(
    conn: &mut AsyncPgConnection,
    campaign_id: Uuid,
    member_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(offer_activations::table)
        .values((
            offer_activations::campaign_id.eq(campaign_id),
            offer_activations::member_id.eq(member_id),
            offer_activations::activated_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

pub async fn activations(conn: &mut AsyncPgConnection, member_id: Uuid) -> QueryResult<Vec<Uuid>> {
    offer_activations::table
        .filter(offer_activations::member_id.eq(member_id))
        .select(offer_activations::campaign_id)
        .load(conn)
        .await
}

/// What campaign audiences and conditions need to know of a member at an earn.
#[derive(QueryableByName, Debug)]
pub struct FactsRow {
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub member_id: Option<Uuid>,
    #[diesel(sql_type = Bool)]
    pub earlier_earns: bool,
    /// Earns at the partner over the last `RECENT_PURCHASE_DAYS`, newest first (at most
    /// 1,001: enough for the largest nth purchase, 1,000).
    #[diesel(sql_type = diesel::sql_types::Array<Timestamptz>)]
    pub recent_purchases: Vec<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Date>)]
    pub birth_date: Option<chrono::NaiveDate>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub tier_level: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::Array<SqlUuid>)]
    pub activated: Vec<Uuid>,
}

/// The member's facts at the partner, in one query; the member named by id, number or the
/// partner's customer id (a customer not enrolled yet has none: `member_id` is null).
pub async fn facts(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
    member: (Option<Uuid>, Option<String>, Option<String>),
    now: DateTime<Utc>,
) -> QueryResult<FactsRow> {
    diesel::sql_query(
        "WITH m AS (
             SELECT coalesce($2, (SELECT id FROM members WHERE member_number = $3),
                             (SELECT member_id FROM member_links WHERE partner_id = $1 AND partner_customer_id = $4)) AS id
         )
         SELECT m.id AS member_id,
                EXISTS (SELECT 1 FROM journal_entries e
                        WHERE e.member_id = m.id AND e.partner_id = $1 AND e.kind = 'ISSUE') AS earlier_earns,
                ARRAY(SELECT e.created_at FROM journal_entries e
                      WHERE e.member_id = m.id AND e.partner_id = $1 AND e.kind = 'ISSUE'
                        AND e.created_at >= $5 - $6 * interval '1 day'
                      ORDER BY e.id DESC LIMIT 1001) AS recent_purchases,
                (SELECT birth_date FROM members WHERE id = m.id) AS birth_date,
                (SELECT count(*)::int - 1 FROM tiers t
                 WHERE t.min_points <= coalesce((SELECT sum(d.points) FROM hub_tier_earn_days(m.id) d
                                                 WHERE d.day >= ($5 AT TIME ZONE 'UTC')::date - 365), 0)) AS tier_level,
                ARRAY(SELECT campaign_id FROM offer_activations WHERE member_id = m.id) AS activated
         FROM m",
    )
    .bind::<SqlUuid, _>(partner_id)
    .bind::<Nullable<SqlUuid>, _>(member.0)
    .bind::<Nullable<Text>, _>(member.1)
    .bind::<Nullable<Text>, _>(member.2)
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(crate::domain::campaign::RECENT_PURCHASE_DAYS)
    .get_result(conn)
    .await
}
