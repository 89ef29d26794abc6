//! A member's standing consents for partners, and its presence codes
//! (sql/members/presence.sql holds the rules).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::member_consents;

diesel::define_sql_function! {
    /// A new presence code for the member (an earlier unused one stops working).
    fn hub_new_presence_code(member_id: SqlUuid, code: Text, expires_at: Timestamptz, now: Timestamptz);
}

diesel::define_sql_function! {
    /// 'ok' (the code used up, or the member's consent), 'absent' or 'wrong_code' (counted).
    fn hub_member_presence(partner_id: SqlUuid, member_id: SqlUuid, code: Nullable<Text>, now: Timestamptz) -> Text;
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = member_consents, check_for_backend(diesel::pg::Pg))]
pub struct MemberConsent {
    pub member_id: Uuid,
    pub partner_id: Uuid,
    /// ENROLMENT (the member signed up at the partner) or MEMBER (granted in the app).
    pub source: String,
    pub granted_at: DateTime<Utc>,
}

/// What `hub_member_presence` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// The code was right (and is now used up), or the member consented.
    Granted,
    /// No code given and no consent.
    Absent,
    /// A wrong, used or expired code (counted against the member's code).
    WrongCode,
}

impl MemberConsent {
    /// Grants the consent; granting it again keeps the first grant.
    pub async fn grant(conn: &mut AsyncPgConnection, row: &MemberConsent) -> QueryResult<()> {
        diesel::insert_into(member_consents::table)
            .values(row)
            .on_conflict((member_consents::member_id, member_consents::partner_id))
            .do_nothing()
            .execute(conn)
            .await
            .map(drop)
    }

    /// Revokes it; false when there was none.
    pub async fn revoke(
        conn: &mut AsyncPgConnection,
        member_id: Uuid,
        partner_id: Uuid,
    ) -> QueryResult<bool> {
        diesel::delete(member_consents::table.find((member_id, partner_id)))
            .execute(conn)
            .await
            .map(|n| n > 0)
    }

    /// The member's consents, oldest first.
    pub async fn for_member(
        conn: &mut AsyncPgConnection,
        member_id: Uuid,
    ) -> QueryResult<Vec<MemberConsent>> {
        member_consents::table
            .filter(member_consents::member_id.eq(member_id))
            .order_by(member_consents::granted_at)
            .select(MemberConsent::as_select())
            .load(conn)
            .await
    }
}

pub async fn new_presence_code(
    conn: &mut AsyncPgConnection,
    member_id: Uuid,
    code: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::select(hub_new_presence_code(member_id, code, expires_at, now))
        .execute(conn)
        .await
        .map(drop)
}

/// Checks the partner may act for the member now (see [`Presence`]); a right code is used
/// up, a wrong one counted, in the connection's current transaction.
pub async fn member_presence(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
    member_id: Uuid,
    code: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<Presence> {
    let found: String = diesel::select(hub_member_presence(partner_id, member_id, code, now))
        .get_result(conn)
        .await?;
    Ok(match found.as_str() {
        "ok" => Presence::Granted,
        "absent" => Presence::Absent,
        "wrong_code" => Presence::WrongCode,
        other => {
            return Err(diesel::result::Error::DeserializationError(
                format!("hub_member_presence answered {other:?}").into(),
            ));
        }
    })
}
