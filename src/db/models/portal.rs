//! Portal users (the operator's and partners' staff) and signed-in browser sessions.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{portal_users, web_sessions};

#[derive(Clone, Debug, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = portal_users, check_for_backend(diesel::pg::Pg))]
pub struct PortalUser {
    pub id: Uuid,
    pub email: String,
    /// None: the coalition operator's staff.
    pub partner_id: Option<Uuid>,
    /// `admin` or `staff`.
    pub role: String,
    /// Never in the audit trail.
    #[serde(skip)]
    pub password_hash: String,
    #[serde(skip)]
    pub failed_logins: i32,
    #[serde(skip)]
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub disabled_at: Option<DateTime<Utc>>,
}

impl PortalUser {
    pub async fn insert(conn: &mut AsyncPgConnection, row: &PortalUser) -> QueryResult<()> {
        diesel::insert_into(portal_users::table)
            .values(row)
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<PortalUser>> {
        portal_users::table
            .find(id)
            .select(PortalUser::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Locked for the sign-in that reads it, so that concurrent wrong passwords all count
    /// (outside a transaction the lock ends with the statement).
    pub async fn find_by_email_for_update(
        conn: &mut AsyncPgConnection,
        email: &str,
    ) -> QueryResult<Option<PortalUser>> {
        portal_users::table
            .filter(portal_users::email.eq(email))
            .select(PortalUser::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    /// The operator's users (`partner` None) or one partner's, oldest first.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        partner: Option<Option<Uuid>>,
    ) -> QueryResult<Vec<PortalUser>> {
        let mut query = portal_users::table
            .select(PortalUser::as_select())
            .order_by((portal_users::created_at, portal_users::id))
            .into_boxed();
        match partner {
            Some(Some(id)) => query = query.filter(portal_users::partner_id.eq(id)),
            Some(None) => query = query.filter(portal_users::partner_id.is_null()),
            None => {}
        }
        query.limit(1000).load(conn).await
    }

    pub async fn record_sign_in(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        failed_logins: i32,
        locked_until: Option<DateTime<Utc>>,
    ) -> QueryResult<()> {
        diesel::update(portal_users::table.find(id))
            .set((
                portal_users::failed_logins.eq(failed_logins),
                portal_users::locked_until.eq(locked_until),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    /// A new password; the lock and the failed count go with the old one.
    pub async fn set_password(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        password_hash: &str,
    ) -> QueryResult<Option<PortalUser>> {
        diesel::update(
            portal_users::table
                .find(id)
                .filter(portal_users::disabled_at.is_null()),
        )
        .set((
            portal_users::password_hash.eq(password_hash),
            portal_users::failed_logins.eq(0),
            portal_users::locked_until.eq(None::<DateTime<Utc>>),
        ))
        .returning(PortalUser::as_returning())
        .get_result(conn)
        .await
        .optional()
    }

    pub async fn disable(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> QueryResult<Option<PortalUser>> {
        diesel::update(
            portal_users::table
                .find(id)
                .filter(portal_users::disabled_at.is_null()),
        )
        .set(portal_users::disabled_at.eq(at))
        .returning(PortalUser::as_returning())
        .get_result(conn)
        .await
        .optional()
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = web_sessions, check_for_backend(diesel::pg::Pg))]
pub struct WebSession {
    pub token_hash: Vec<u8>,
    pub user_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl WebSession {
    pub async fn insert(conn: &mut AsyncPgConnection, row: &WebSession) -> QueryResult<()> {
        diesel::insert_into(web_sessions::table)
            .values(row)
            .execute(conn)
            .await
            .map(drop)
    }

    /// The session and, for a portal user's, the user.
    pub async fn find(
        conn: &mut AsyncPgConnection,
        token_hash: &[u8],
    ) -> QueryResult<Option<(WebSession, Option<PortalUser>)>> {
        web_sessions::table
            .left_join(portal_users::table)
            .filter(web_sessions::token_hash.eq(token_hash))
            .select((WebSession::as_select(), Option::<PortalUser>::as_select()))
            .first(conn)
            .await
            .optional()
    }

    pub async fn touch(
        conn: &mut AsyncPgConnection,
        token_hash: &[u8],
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::update(web_sessions::table.find(token_hash))
            .set(web_sessions::last_seen_at.eq(at))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn delete(conn: &mut AsyncPgConnection, token_hash: &[u8]) -> QueryResult<usize> {
        diesel::delete(web_sessions::table.find(token_hash))
            .execute(conn)
            .await
    }

    /// Ends every session of a user (disabled).
    pub async fn delete_for_user(
        conn: &mut AsyncPgConnection,
        user_id: Uuid,
    ) -> QueryResult<usize> {
        diesel::delete(web_sessions::table.filter(web_sessions::user_id.eq(user_id)))
            .execute(conn)
            .await
    }

    /// Forgets sessions past their absolute expiry.
    pub async fn purge_expired(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::delete(web_sessions::table.filter(web_sessions::expires_at.lt(now)))
            .execute(conn)
            .await
    }
}
