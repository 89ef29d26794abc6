//! Webhook subscriptions, events, redeliveries and attempts (migrations/…_webhooks,
//! sql/webhooks/).

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_query,
    sql_types::{
        Array, BigInt, Bool, Integer, Interval, Json, Nullable, Text, Timestamptz, Uuid as SqlUuid,
    },
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{
    webhook_attempts, webhook_events, webhook_redeliveries, webhook_subscriptions,
};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_subscriptions, check_for_backend(diesel::pg::Pg))]
pub struct SubscriptionRow {
    pub id: Uuid,
    pub partner_id: Option<Uuid>,
    pub url: String,
    pub event_types: Vec<Option<String>>,
    pub secret: String,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub failing_since: Option<DateTime<Utc>>,
    pub failed_attempts: i32,
}

/// What the audit trail keeps of a subscription: never its secret.
#[derive(serde::Serialize)]
pub struct SubscriptionAudit<'a> {
    pub url: &'a str,
    pub event_types: Vec<&'a str>,
    pub status: &'a str,
}

impl SubscriptionRow {
    pub fn event_types(&self) -> Vec<&str> {
        self.event_types
            .iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    pub fn audit(&self) -> SubscriptionAudit<'_> {
        SubscriptionAudit {
            url: &self.url,
            event_types: self.event_types(),
            status: &self.status,
        }
    }

    /// Inserts the subscription with its cursor at the watermark: it receives what comes
    /// after.
    pub async fn insert(conn: &mut AsyncPgConnection, row: &SubscriptionRow) -> QueryResult<()> {
        diesel::insert_into(webhook_subscriptions::table)
            .values(row)
            .execute(conn)
            .await?;
        Self::skip_to_watermark(conn, row.id).await
    }

    /// Moves the cursor to the watermark (a subscription made or resumed receives what
    /// comes after, not what it missed).
    pub async fn skip_to_watermark(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
        sql_query(
            "INSERT INTO webhook_cursors (subscription_id, cursor_txid, cursor_event_id) \
             SELECT $1, w.txid, w.event_id FROM webhook_dispatch w \
             ON CONFLICT (subscription_id) DO UPDATE \
             SET cursor_txid = excluded.cursor_txid, cursor_event_id = excluded.cursor_event_id",
        )
        .bind::<SqlUuid, _>(id)
        .execute(conn)
        .await
        .map(drop)
    }

    /// The subscription, locked for a change.
    pub async fn find_for_update(
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> QueryResult<Option<SubscriptionRow>> {
        webhook_subscriptions::table
            .find(id)
            .select(SubscriptionRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    pub async fn find(
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> QueryResult<Option<SubscriptionRow>> {
        webhook_subscriptions::table
            .find(id)
            .select(SubscriptionRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Writes the changeable fields of `row` (and clears the failure state when it is made
    /// active again).
    pub async fn save(conn: &mut AsyncPgConnection, row: &SubscriptionRow) -> QueryResult<()> {
        use webhook_subscriptions::dsl as s;
        let active = row.status == "ACTIVE";
        diesel::update(s::webhook_subscriptions.find(row.id))
            .set((
                s::url.eq(&row.url),
                s::event_types.eq(&row.event_types),
                s::secret.eq(&row.secret),
                s::status.eq(&row.status),
                s::disabled_reason.eq(&row.disabled_reason),
                s::updated_at.eq(row.updated_at),
                s::failing_since.eq(row.failing_since.filter(|_| !active)),
                s::failed_attempts.eq(if active { 0 } else { row.failed_attempts }),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
        diesel::delete(webhook_subscriptions::table.find(id))
            .execute(conn)
            .await
            .map(drop)
    }

    /// The coalition's (`partner` None, for the operator: every subscription) or one
    /// partner's subscriptions, oldest first.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        partner: Option<Uuid>,
    ) -> QueryResult<Vec<SubscriptionRow>> {
        let mut query = webhook_subscriptions::table
            .select(SubscriptionRow::as_select())
            .order_by(webhook_subscriptions::created_at)
            .into_boxed();
        if let Some(partner) = partner {
            query = query.filter(webhook_subscriptions::partner_id.eq(partner));
        }
        query.load(conn).await
    }
}

/// One attempt, with what its delivery carried.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts, check_for_backend(diesel::pg::Pg))]
pub struct AttemptRow {
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub event_ids: Vec<Option<Uuid>>,
    pub redelivery: bool,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub succeeded: bool,
}

impl AttemptRow {
    pub fn event_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.event_ids.iter().flatten().copied()
    }

    /// The subscription's attempts, newest first, older than `before` when given.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        subscription: Uuid,
        before: Option<Uuid>,
        limit: i64,
    ) -> QueryResult<Vec<AttemptRow>> {
        let mut query = webhook_attempts::table
            .filter(webhook_attempts::subscription_id.eq(subscription))
            .select(AttemptRow::as_select())
            .order_by(webhook_attempts::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(webhook_attempts::id.lt(before));
        }
        query.load(conn).await
    }
}

/// Events: who may receive one, and sending one again.
pub struct EventRow;

impl EventRow {
    /// The event's type and parties, if it is still kept.
    pub async fn find(
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> QueryResult<Option<(String, Vec<Option<Uuid>>)>> {
        webhook_events::table
            .find(id)
            .select((webhook_events::type_, webhook_events::partner_ids))
            .first(conn)
            .await
            .optional()
    }

    /// Queues the event to be sent to the subscription again (before its stream); answers
    /// the queue row's id.
    pub async fn redeliver(
        conn: &mut AsyncPgConnection,
        event: Uuid,
        subscription: Uuid,
    ) -> QueryResult<Uuid> {
        let id = Uuid::now_v7();
        diesel::insert_into(webhook_redeliveries::table)
            .values((
                webhook_redeliveries::id.eq(id),
                webhook_redeliveries::subscription_id.eq(subscription),
                webhook_redeliveries::event_id.eq(event),
                webhook_redeliveries::created_at.eq(Utc::now()),
            ))
            .execute(conn)
            .await?;
        Ok(id)
    }

    /// Writes an event of a service's change in the caller's transaction (when an active
    /// subscription would receive it: `hub_webhook_emit`).
    pub async fn emit(
        conn: &mut AsyncPgConnection,
        event_type: &str,
        partner_ids: &[Uuid],
        data: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> QueryResult<()> {
        sql_query("SELECT hub_webhook_emit($1, $2, $3, $4)")
            .bind::<Text, _>(event_type)
            .bind::<Array<SqlUuid>, _>(partner_ids)
            .bind::<Json, _>(data)
            .bind::<Timestamptz, _>(now)
            .execute(conn)
            .await
            .map(drop)
    }
}

/// A subscription leased to this process.
#[derive(Debug, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Text)]
    pub secret: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub partner_id: Option<Uuid>,
    #[diesel(sql_type = Array<Text>)]
    pub event_types: Vec<String>,
    #[diesel(sql_type = BigInt)]
    pub cursor_txid: i64,
    #[diesel(sql_type = SqlUuid)]
    pub cursor_event_id: Uuid,
    #[diesel(sql_type = Integer)]
    pub failed_attempts: i32,
    /// Events are queued to be sent again (they go first).
    #[diesel(sql_type = Bool)]
    pub redeliveries: bool,
}

/// An event past a position, with the watermark it was read under (`hub_webhook_tail`;
/// the event's fields are none when nothing was past it).
#[derive(Debug, QueryableByName)]
pub struct TailRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub txid: Option<i64>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub event_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub r#type: Option<String>,
    #[diesel(sql_type = Nullable<Array<SqlUuid>>)]
    pub partner_ids: Option<Vec<Uuid>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub body: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub watermark_txid: i64,
    #[diesel(sql_type = SqlUuid)]
    pub watermark_event_id: Uuid,
}

/// The next POST to a leased subscription: its id, its events (ids, and the JSON array),
/// and what an answer settles: the redeliveries it carries, or where the cursor goes.
#[derive(Debug, QueryableByName)]
pub struct NextDelivery {
    #[diesel(sql_type = SqlUuid)]
    pub attempt_id: Uuid,
    #[diesel(sql_type = Array<SqlUuid>)]
    pub event_ids: Vec<Uuid>,
    #[diesel(sql_type = Text)]
    pub events: String,
    #[diesel(sql_type = Nullable<Array<SqlUuid>>)]
    pub redeliveries: Option<Vec<Uuid>>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub cursor_txid: Option<i64>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub cursor_event_id: Option<Uuid>,
    #[diesel(sql_type = Integer)]
    pub failed_attempts: i32,
}

/// One POST's outcome, as `hub_webhook_record` takes it.
pub struct AttemptRecord<'a> {
    pub subscription: Uuid,
    pub sent: &'a NextDelivery,
    pub status: Option<i32>,
    pub latency_ms: i32,
    pub body: Option<&'a str>,
    pub error: Option<&'a str>,
    pub succeeded: bool,
    pub retry_in: std::time::Duration,
    pub retry_for: std::time::Duration,
    /// The lease holder, the lease's length, and whether it is given up with this answer.
    pub owner: Uuid,
    pub lease: std::time::Duration,
    pub release: bool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Integer)]
    n: i32,
}

#[derive(QueryableByName)]
struct Outcome {
    #[diesel(sql_type = Text)]
    outcome: String,
}

#[derive(QueryableByName)]
struct Moved {
    #[diesel(sql_type = Bool)]
    moved: bool,
}

fn interval(d: std::time::Duration) -> diesel::pg::data_types::PgInterval {
    diesel::pg::data_types::PgInterval::from_microseconds(d.as_micros().min(i64::MAX as u128) as i64)
}

/// What a process's tail knows, for `hub_webhook_claim`: positions as (txid, event id).
pub struct TailSummary {
    /// Subscriptions with an older cursor read their own events.
    pub start: (i64, Uuid),
    /// The newest event in the tail (`start` when it holds none).
    pub newest: (i64, Uuid),
    /// Partners with events in the tail, each with its newest one's position.
    pub partners: Vec<Uuid>,
    pub partner_txids: Vec<i64>,
    pub partner_event_ids: Vec<Uuid>,
}

/// The delivery functions of sql/webhooks/ (dispatch.sql, deliver.sql, jobs.sql).
pub struct Delivery;

impl Delivery {
    /// Moves the watermark up; answers whether it moved.
    pub async fn dispatch(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
        let row: Moved = sql_query("SELECT hub_webhook_dispatch() AS moved")
            .get_result(conn)
            .await?;
        Ok(row.moved)
    }

    pub async fn claim(
        conn: &mut AsyncPgConnection,
        owner: Uuid,
        lease: std::time::Duration,
        max: i32,
        tail: &TailSummary,
    ) -> QueryResult<Vec<Claimed>> {
        sql_query("SELECT * FROM hub_webhook_claim($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind::<SqlUuid, _>(owner)
            .bind::<Interval, _>(interval(lease))
            .bind::<Integer, _>(max)
            .bind::<BigInt, _>(tail.start.0)
            .bind::<SqlUuid, _>(tail.start.1)
            .bind::<BigInt, _>(tail.newest.0)
            .bind::<SqlUuid, _>(tail.newest.1)
            .bind::<Array<SqlUuid>, _>(&tail.partners)
            .bind::<Array<BigInt>, _>(&tail.partner_txids)
            .bind::<Array<SqlUuid>, _>(&tail.partner_event_ids)
            .load(conn)
            .await
    }

    pub async fn next(
        conn: &mut AsyncPgConnection,
        subscription: Uuid,
        owner: Uuid,
        lease: std::time::Duration,
        max_events: i32,
    ) -> QueryResult<Option<NextDelivery>> {
        sql_query("SELECT * FROM hub_webhook_next($1, $2, $3, $4)")
            .bind::<SqlUuid, _>(subscription)
            .bind::<SqlUuid, _>(owner)
            .bind::<Interval, _>(interval(lease))
            .bind::<Integer, _>(max_events)
            .get_result(conn)
            .await
            .optional()
    }

    /// The events past `after` up to the watermark, at most `max` (one row with the
    /// watermark alone when there are none).
    pub async fn tail(
        conn: &mut AsyncPgConnection,
        after_txid: i64,
        after_event_id: Uuid,
        max: i32,
    ) -> QueryResult<Vec<TailRow>> {
        sql_query("SELECT * FROM hub_webhook_tail($1, $2, $3)")
            .bind::<BigInt, _>(after_txid)
            .bind::<SqlUuid, _>(after_event_id)
            .bind::<Integer, _>(max)
            .load(conn)
            .await
    }

    /// Records the POST; answers DELIVERED, RETRY, DISABLED or STOPPED
    /// (`hub_webhook_record`).
    pub async fn record(
        conn: &mut AsyncPgConnection,
        a: &AttemptRecord<'_>,
    ) -> QueryResult<String> {
        let row: Outcome = sql_query(
            "SELECT hub_webhook_record($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15, $16) AS outcome",
        )
        .bind::<SqlUuid, _>(a.subscription)
        .bind::<SqlUuid, _>(a.sent.attempt_id)
        .bind::<Array<SqlUuid>, _>(&a.sent.event_ids)
        .bind::<Nullable<Array<SqlUuid>>, _>(a.sent.redeliveries.as_ref())
        .bind::<Nullable<BigInt>, _>(a.sent.cursor_txid)
        .bind::<Nullable<SqlUuid>, _>(a.sent.cursor_event_id)
        .bind::<Nullable<Integer>, _>(a.status)
        .bind::<Integer, _>(a.latency_ms)
        .bind::<Nullable<Text>, _>(a.body)
        .bind::<Nullable<Text>, _>(a.error)
        .bind::<Bool, _>(a.succeeded)
        .bind::<Interval, _>(interval(a.retry_in))
        .bind::<Interval, _>(interval(a.retry_for))
        .bind::<SqlUuid, _>(a.owner)
        .bind::<Interval, _>(interval(a.lease))
        .bind::<Bool, _>(a.release)
        .get_result(conn)
        .await?;
        Ok(row.outcome)
    }

    /// Gives up the lease, the cursor moved up to the given position.
    pub async fn release(
        conn: &mut AsyncPgConnection,
        subscription: Uuid,
        owner: Uuid,
        cursor_txid: i64,
        cursor_event_id: Uuid,
    ) -> QueryResult<()> {
        sql_query("SELECT hub_webhook_release($1, $2, $3, $4)")
            .bind::<SqlUuid, _>(subscription)
            .bind::<SqlUuid, _>(owner)
            .bind::<BigInt, _>(cursor_txid)
            .bind::<SqlUuid, _>(cursor_event_id)
            .execute(conn)
            .await
            .map(drop)
    }

    /// Lots newly noticed as expiring within `days`.
    pub async fn expiring_lots(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        days: i32,
        limit: i32,
    ) -> QueryResult<i32> {
        let row: Count = sql_query("SELECT hub_webhook_expiring_lots($1, $2, $3) AS n")
            .bind::<Timestamptz, _>(now)
            .bind::<Integer, _>(days)
            .bind::<Integer, _>(limit)
            .get_result(conn)
            .await?;
        Ok(row.n)
    }

    /// Entries read (`limit`: there may be more).
    pub async fn tier_watch(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        settle: std::time::Duration,
        limit: i32,
    ) -> QueryResult<i32> {
        let row: Count = sql_query("SELECT hub_webhook_tier_watch($1, $2, $3) AS n")
            .bind::<Timestamptz, _>(now)
            .bind::<Interval, _>(interval(settle))
            .bind::<Integer, _>(limit)
            .get_result(conn)
            .await?;
        Ok(row.n)
    }

    pub async fn purge(
        conn: &mut AsyncPgConnection,
        before: DateTime<Utc>,
        limit: i32,
    ) -> QueryResult<i32> {
        let row: Count = sql_query("SELECT hub_webhook_purge($1, $2) AS n")
            .bind::<Timestamptz, _>(before)
            .bind::<Integer, _>(limit)
            .get_result(conn)
            .await?;
        Ok(row.n)
    }
}
