use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{
    models::ledger::Balance,
    schema::{member_balances, member_links, members},
};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = members, check_for_backend(diesel::pg::Pg))]
pub struct Member {
    pub id: Uuid,
    pub member_number: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = member_links, check_for_backend(diesel::pg::Pg))]
pub struct MemberLink {
    pub partner_id: Uuid,
    pub partner_customer_id: String,
    pub member_id: Uuid,
    pub linked_at: DateTime<Utc>,
}

/// The member's birth date (campaigns' birthday audience).
pub async fn birth_date(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<chrono::NaiveDate>> {
    members::table
        .find(id)
        .select(members::birth_date)
        .first(conn)
        .await
}

pub async fn set_birth_date(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    date: Option<chrono::NaiveDate>,
) -> QueryResult<usize> {
    diesel::update(members::table.find(id))
        .set(members::birth_date.eq(date))
        .execute(conn)
        .await
}

impl Member {
    /// Members by id (`id = ANY($1)`), each with its balance row when it has one: one query
    /// for a page of members and their points.
    pub async fn find_many_with_balance(
        mut conn: &AsyncPgConnection,
        ids: &[Uuid],
    ) -> QueryResult<Vec<(Member, Option<Balance>)>> {
        members::table
            .left_join(member_balances::table.on(member_balances::member_id.eq(members::id)))
            .filter(members::id.eq_any(ids))
            .select((Member::as_select(), Option::<Balance>::as_select()))
            .load(&mut conn)
            .await
    }

    pub async fn insert(conn: &mut AsyncPgConnection, row: &Member) -> QueryResult<Member> {
        diesel::insert_into(members::table)
            .values(row)
            .returning(Member::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Member>> {
        members::table
            .find(id)
            .select(Member::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn find_by_number(
        conn: &mut AsyncPgConnection,
        number: &str,
    ) -> QueryResult<Option<Member>> {
        members::table
            .filter(members::member_number.eq(number))
            .select(Member::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn find_by_customer_id(
        conn: &mut AsyncPgConnection,
        partner_id: Uuid,
        customer_id: &str,
    ) -> QueryResult<Option<Member>> {
        member_links::table
            .inner_join(members::table)
            .filter(member_links::partner_id.eq(partner_id))
            .filter(member_links::partner_customer_id.eq(customer_id))
            .select(Member::as_select())
            .first(conn)
            .await
            .optional()
    }
}

impl MemberLink {
    /// Inserts the link unless this exact customer id is already linked; returns the row
    /// inserted, or `None` when a row with the same key was there.
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        row: &MemberLink,
    ) -> QueryResult<Option<MemberLink>> {
        diesel::insert_into(member_links::table)
            .values(row)
            .on_conflict((member_links::partner_id, member_links::partner_customer_id))
            .do_nothing()
            .returning(MemberLink::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    pub async fn find(
        conn: &mut AsyncPgConnection,
        member_id: Uuid,
        partner_id: Uuid,
    ) -> QueryResult<Option<MemberLink>> {
        member_links::table
            .filter(member_links::member_id.eq(member_id))
            .filter(member_links::partner_id.eq(partner_id))
            .select(MemberLink::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The links of each of these members (`member_id = ANY($1)`), oldest first.
    pub async fn for_members(
        conn: &mut AsyncPgConnection,
        member_ids: &[Uuid],
    ) -> QueryResult<Vec<MemberLink>> {
        member_links::table
            .filter(member_links::member_id.eq_any(member_ids))
            .order_by(member_links::linked_at)
            .select(MemberLink::as_select())
            .load(conn)
            .await
    }

    pub async fn for_member(
        conn: &mut AsyncPgConnection,
        member_id: Uuid,
    ) -> QueryResult<Vec<MemberLink>> {
        member_links::table
            .filter(member_links::member_id.eq(member_id))
            .order_by(member_links::linked_at)
            .select(MemberLink::as_select())
            .load(conn)
            .await
    }
}
