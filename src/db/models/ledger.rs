//! Reading the ledger: entries, holds, balances, lots. (Writing is the SQL functions'.)

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{Array, BigInt, Date, Timestamptz},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::prepared::prepared;
use crate::db::schema::{holds, journal_entries, member_balances, members};

#[derive(Clone, Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = journal_entries, check_for_backend(diesel::pg::Pg))]
pub struct JournalEntry {
    pub id: Uuid,
    pub kind: String,
    pub member_id: Uuid,
    pub partner_id: Option<Uuid>,
    pub points: i64,
    pub reverses_entry_id: Option<Uuid>,
    pub hold_id: Option<Uuid>,
    pub reference: Option<String>,
    pub purchase_amount: Option<bigdecimal::BigDecimal>,
    pub purchase_currency: Option<String>,
    pub earn_rate: Option<bigdecimal::BigDecimal>,
    pub debt_repaid: i64,
    pub created_at: DateTime<Utc>,
    /// The tier multiplier an ISSUE applied.
    pub tier_multiplier: Option<bigdecimal::BigDecimal>,
    /// The other half of a transfer; for a BONUS, the earn it came with.
    pub related_entry_id: Option<Uuid>,
    /// A BONUS's campaign.
    pub campaign_id: Option<Uuid>,
    /// An ISSUE or BONUS booked pending: when its points become available. A REVERSE_ISSUE:
    /// it took back points that were still pending.
    pub available_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = holds, check_for_backend(diesel::pg::Pg))]
pub struct Hold {
    pub id: Uuid,
    pub member_id: Uuid,
    pub partner_id: Uuid,
    pub points: i64,
    pub status: String,
    pub captured_points: i64,
    pub reference: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub authorize_entry_id: Uuid,
    pub final_entry_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub finalized_at: Option<DateTime<Utc>>,
}

/// The member's points as a read shows them: what a spend would find now. `available`
/// leaves out the free points of lots already past their expiry that the expiry job has
/// not yet expired (it runs every minute), and pending points whose return window has
/// ended count as released already (a debt repaid from them first): a read never shows
/// points that a redemption would refuse, nor hides points it would take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = member_balances, check_for_backend(diesel::pg::Pg))]
pub struct Balance {
    #[diesel(
        select_expression = diesel::dsl::sql::<BigInt>(AVAILABLE_NOW),
        select_expression_type = diesel::expression::SqlLiteral<BigInt>
    )]
    pub available: i64,
    pub held: i64,
    #[diesel(
        select_expression = diesel::dsl::sql::<BigInt>(DEBT_NOW),
        select_expression_type = diesel::expression::SqlLiteral<BigInt>
    )]
    pub debt: i64,
    #[diesel(
        select_expression = diesel::dsl::sql::<BigInt>(LIFETIME_EARNED_NOW),
        select_expression_type = diesel::expression::SqlLiteral<BigInt>
    )]
    pub lifetime_earned: i64,
    /// Earned, not yet spendable: inside a partner's return window.
    #[diesel(
        select_expression = diesel::dsl::sql::<BigInt>(PENDING_NOW),
        select_expression_type = diesel::expression::SqlLiteral<BigInt>
    )]
    pub pending: i64,
}

/// `available` less the free points of past-due lots (the lots index serves it), plus what
/// due pending points would add (`hub_due_pending`, called only when something is due).
const AVAILABLE_NOW: &str = "member_balances.available - coalesce((SELECT sum(l.remaining - l.reserved) \
     FROM lots l WHERE l.member_id = member_balances.member_id AND l.remaining > l.reserved \
     AND l.expires_at <= now()), 0)::bigint \
     + CASE WHEN member_balances.next_available_at <= now() THEN (hub_due_pending(member_balances.member_id, \
     member_balances.debt, now())).spendable ELSE 0 END";

const DEBT_NOW: &str = "member_balances.debt - CASE WHEN member_balances.next_available_at <= now() \
     THEN least(member_balances.debt, (hub_due_pending(member_balances.member_id, member_balances.debt, \
     now())).points) ELSE 0 END";

const PENDING_NOW: &str = "member_balances.pending - CASE WHEN member_balances.next_available_at <= now() \
     THEN (hub_due_pending(member_balances.member_id, member_balances.debt, now())).points ELSE 0 END";

const LIFETIME_EARNED_NOW: &str = "member_balances.lifetime_earned + CASE WHEN \
     member_balances.next_available_at <= now() THEN (hub_due_pending(member_balances.member_id, \
     member_balances.debt, now())).earned ELSE 0 END";

/// Which entries to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct EntryFilter {
    pub member_id: Option<Uuid>,
    /// Entries this partner is party to.
    pub partner_id: Option<Uuid>,
    pub kinds: Option<Vec<String>>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl EntryFilter {
    /// The member, when the filter is all of one member's entries and nothing else.
    pub fn only_member(&self) -> Option<Uuid> {
        let nothing_else = self.partner_id.is_none()
            && self.kinds.is_none()
            && self.from.is_none()
            && self.to.is_none();
        self.member_id.filter(|_| nothing_else)
    }
}

/// Free points expiring on a UTC date, for one (member, days ahead) of a batch.
#[derive(QueryableByName, Debug, PartialEq, Eq)]
pub struct ExpiringRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub member_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub within_days: i64,
    #[diesel(sql_type = Date)]
    pub date: chrono::NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
}

impl JournalEntry {
    /// The latest `n` entries of each (member, n) asked, newest first within a member: the
    /// first page of many members' histories in one statement. A member asked with two
    /// sizes gets the larger.
    pub async fn latest_of_members(
        mut conn: &AsyncPgConnection,
        asked: &[(Uuid, i64)],
    ) -> QueryResult<Vec<JournalEntry>> {
        let (members, sizes): (Vec<Uuid>, Vec<i64>) = asked.iter().copied().unzip();
        prepared(
            diesel::sql_query(
                "SELECT e.* FROM (SELECT member_id, max(n) AS n \
                              FROM unnest($1::uuid[], $2::bigint[]) AS k (member_id, n) \
                              GROUP BY member_id) k \
             CROSS JOIN LATERAL (SELECT * FROM journal_entries j WHERE j.member_id = k.member_id \
                                 ORDER BY j.id DESC LIMIT k.n) e \
             ORDER BY e.member_id, e.id DESC",
            )
            .bind::<Array<diesel::sql_types::Uuid>, _>(members)
            .bind::<Array<BigInt>, _>(sizes),
        )
        .load(&mut conn)
        .await
    }

    /// The campaign bonuses booked with an earn, in the order booked (by campaign).
    pub async fn bonuses_of(
        conn: &mut AsyncPgConnection,
        earn: Uuid,
    ) -> QueryResult<Vec<JournalEntry>> {
        journal_entries::table
            .filter(journal_entries::related_entry_id.eq(earn))
            .filter(journal_entries::kind.eq("BONUS"))
            .order_by(journal_entries::campaign_id)
            .select(JournalEntry::as_select())
            .load(conn)
            .await
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<JournalEntry>> {
        journal_entries::table
            .find(id)
            .select(JournalEntry::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Entries by id (`id = ANY($1)`), in no particular order.
    pub async fn find_many(
        conn: &mut AsyncPgConnection,
        ids: &[Uuid],
    ) -> QueryResult<Vec<JournalEntry>> {
        journal_entries::table
            .filter(journal_entries::id.eq_any(ids))
            .select(JournalEntry::as_select())
            .load(conn)
            .await
    }

    /// Points reversed so far of each of these entries that has reversals.
    pub async fn reversed_points_many(
        conn: &mut AsyncPgConnection,
        ids: &[Uuid],
    ) -> QueryResult<Vec<(Uuid, i64)>> {
        let rows: Vec<(Option<Uuid>, Option<bigdecimal::BigDecimal>)> = journal_entries::table
            .filter(journal_entries::reverses_entry_id.eq_any(ids))
            .group_by(journal_entries::reverses_entry_id)
            .select((
                journal_entries::reverses_entry_id,
                diesel::dsl::sum(journal_entries::points),
            ))
            .load(conn)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, sum)| {
                Some((
                    id?,
                    sum.and_then(|s| bigdecimal::ToPrimitive::to_i64(&s))
                        .unwrap_or(0),
                ))
            })
            .collect())
    }

    /// The member number of the member of each of these entries.
    pub async fn member_numbers(
        conn: &mut AsyncPgConnection,
        ids: &[Uuid],
    ) -> QueryResult<Vec<(Uuid, String)>> {
        journal_entries::table
            .inner_join(members::table.on(members::id.eq(journal_entries::member_id)))
            .filter(journal_entries::id.eq_any(ids))
            .select((journal_entries::id, members::member_number))
            .load(conn)
            .await
    }

    /// A page of entries, newest first (ids are UUIDv7: id order is time order), strictly
    /// before the entry `before`.
    pub async fn page(
        mut conn: &AsyncPgConnection,
        filter: &EntryFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> QueryResult<Vec<JournalEntry>> {
        use journal_entries::dsl as e;
        let mut query = e::journal_entries
            .select(JournalEntry::as_select())
            .order_by(e::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(member) = filter.member_id {
            query = query.filter(e::member_id.eq(member));
        }
        if let Some(partner) = filter.partner_id {
            query = query.filter(e::partner_id.eq(partner));
        }
        if let Some(kinds) = &filter.kinds {
            query = query.filter(e::kind.eq_any(kinds.clone()));
        }
        if let Some(from) = filter.from {
            query = query.filter(e::created_at.ge(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(e::created_at.lt(to));
        }
        if let Some(id) = before {
            query = query.filter(e::id.lt(id));
        }
        query.load(&mut conn).await
    }

    /// Points of this entry already reversed.
    pub async fn reversed_points(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<i64> {
        journal_entries::table
            .filter(journal_entries::reverses_entry_id.eq(id))
            .select(diesel::dsl::sum(journal_entries::points))
            .first::<Option<bigdecimal::BigDecimal>>(conn)
            .await
            .map(|sum| {
                sum.and_then(|s| bigdecimal::ToPrimitive::to_i64(&s))
                    .unwrap_or(0)
            })
    }
}

impl Hold {
    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Hold>> {
        holds::table
            .find(id)
            .select(Hold::as_select())
            .first(conn)
            .await
            .optional()
    }
}

impl Hold {
    /// Holds by id (`id = ANY($1)`), in no particular order.
    pub async fn find_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<Hold>> {
        holds::table
            .filter(holds::id.eq_any(ids))
            .select(Hold::as_select())
            .load(conn)
            .await
    }
}

impl Balance {
    pub async fn of(conn: &mut AsyncPgConnection, member_id: Uuid) -> QueryResult<Balance> {
        member_balances::table
            .find(member_id)
            .select(Balance::as_select())
            .first(conn)
            .await
    }

    /// Free points of lots expiring within the next `days` days of `now`, by UTC date, for
    /// each (member, days) asked: the batch of many members' home screens in one statement.
    pub async fn expiring(
        mut conn: &AsyncPgConnection,
        asked: &[(Uuid, i64)],
        now: DateTime<Utc>,
    ) -> QueryResult<Vec<ExpiringRow>> {
        // Each pair once: a pair given twice would count its lots twice.
        let mut asked = asked.to_vec();
        asked.sort_unstable();
        asked.dedup();
        let (members, days): (Vec<Uuid>, Vec<i64>) = asked.into_iter().unzip();
        prepared(diesel::sql_query(
            "SELECT k.member_id, k.within_days, (l.expires_at AT TIME ZONE 'UTC')::date AS date, \
                    sum(l.remaining - l.reserved)::bigint AS points \
             FROM unnest($1::uuid[], $2::bigint[]) AS k (member_id, within_days) \
             JOIN lots l ON l.member_id = k.member_id AND l.remaining > l.reserved \
              AND l.expires_at > $3 AND l.expires_at <= $3 + k.within_days * interval '1 day' \
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(members)
        .bind::<Array<BigInt>, _>(days)
        .bind::<Timestamptz, _>(now))
        .load(&mut conn)
        .await
    }
}
