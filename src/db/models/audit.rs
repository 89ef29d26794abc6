//! The audit trail: one row per administrative change (migrations/…_audit_log).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::audit_log;

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub partner_id: Option<Uuid>,
    pub action: String,
    pub target: String,
    pub request_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Which entries to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// One partner's entries.
    pub partner_id: Option<Uuid>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl AuditEntry {
    pub async fn insert(conn: &mut AsyncPgConnection, row: &AuditEntry) -> QueryResult<()> {
        diesel::insert_into(audit_log::table)
            .values(row)
            .execute(conn)
            .await
            .map(drop)
    }

    /// Entries matching `filter`, newest first, older than `before` when given.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        filter: &AuditFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> QueryResult<Vec<AuditEntry>> {
        let mut query = audit_log::table
            .select(AuditEntry::as_select())
            .order_by(audit_log::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(partner) = filter.partner_id {
            query = query.filter(audit_log::partner_id.eq(partner));
        }
        if let Some(action) = &filter.action {
            query = query.filter(audit_log::action.eq(action.clone()));
        }
        if let Some(from) = filter.from {
            query = query.filter(audit_log::at.ge(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(audit_log::at.lt(to));
        }
        if let Some(before) = before {
            query = query.filter(audit_log::id.lt(before));
        }
        query.load(conn).await
    }
}
