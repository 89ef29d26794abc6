use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{partner_credentials, partners};

#[derive(Clone, Debug, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = partner_credentials, check_for_backend(diesel::pg::Pg))]
pub struct Credential {
    pub client_id: String,
    pub partner_id: Uuid,
    /// Never in the audit trail.
    #[serde(skip)]
    pub secret_hash: String,
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Credential {
    pub async fn insert(conn: &mut AsyncPgConnection, row: &Credential) -> QueryResult<()> {
        diesel::insert_into(partner_credentials::table)
            .values(row)
            .execute(conn)
            .await
            .map(drop)
    }

    /// The live (not revoked) credential with this client id, and its partner's status.
    pub async fn find_live(
        conn: &mut AsyncPgConnection,
        client_id: &str,
    ) -> QueryResult<Option<(Credential, String)>> {
        partner_credentials::table
            .inner_join(partners::table)
            .filter(partner_credentials::client_id.eq(client_id))
            .filter(partner_credentials::revoked_at.is_null())
            .select((Credential::as_select(), partners::status))
            .first(conn)
            .await
            .optional()
    }

    pub async fn for_partner(
        conn: &mut AsyncPgConnection,
        partner_id: Uuid,
    ) -> QueryResult<Vec<Credential>> {
        partner_credentials::table
            .filter(partner_credentials::partner_id.eq(partner_id))
            .order_by(partner_credentials::created_at)
            .select(Credential::as_select())
            .load(conn)
            .await
    }

    /// Revokes a live credential; None when there was none.
    pub async fn revoke(
        conn: &mut AsyncPgConnection,
        client_id: &str,
    ) -> QueryResult<Option<Credential>> {
        diesel::update(
            partner_credentials::table
                .filter(partner_credentials::client_id.eq(client_id))
                .filter(partner_credentials::revoked_at.is_null()),
        )
        .set(partner_credentials::revoked_at.eq(Utc::now()))
        .returning(Credential::as_returning())
        .get_result(conn)
        .await
        .optional()
    }
}
