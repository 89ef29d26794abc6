//! The audit trail: every administrative change by the operator or a partner, recorded in
//! the change's own transaction (who, what, when, the request, before and after), and read
//! back by the operator (everything) or a partner (its own business).

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use uuid::Uuid;

use crate::{
    auth::Principal,
    db::{
        DbPool,
        models::audit::{AuditEntry, AuditFilter},
    },
    domain::csv,
    error::{AppError, AppResult},
};

/// One change, as the service that made it describes it.
pub(crate) struct Change {
    /// Dotted lower case: `partner.updated`, `campaign.ended`, ...
    pub action: &'static str,
    /// The partner whose business it is (who may read the entry); None: the coalition's.
    pub partner_id: Option<Uuid>,
    /// The id of what changed.
    pub target: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl Change {
    pub(crate) fn new(
        action: &'static str,
        partner_id: Option<Uuid>,
        target: impl ToString,
    ) -> Change {
        Change {
            action,
            partner_id,
            target: target.to_string(),
            before: None,
            after: None,
        }
    }

    pub(crate) fn before(mut self, value: &impl Serialize) -> Change {
        self.before = Some(json(value));
        self
    }

    pub(crate) fn after(mut self, value: &impl Serialize) -> Change {
        self.after = Some(json(value));
        self
    }
}

fn json(value: &impl Serialize) -> serde_json::Value {
    // Rows of this crate's own types always serialize.
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// The actor as the trail names it: `operator:<subject>` or `partner:<id>`.
fn actor(principal: &Principal) -> String {
    let role = match principal {
        Principal::Operator { .. } => "operator",
        Principal::Partner { .. } => "partner",
        Principal::Member { .. } => "member",
    };
    format!("{role}:{}", principal.subject())
}

/// Appends `change` by `principal`; call it inside the change's transaction.
pub(crate) async fn record(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    change: Change,
) -> AppResult<()> {
    let row = AuditEntry {
        id: Uuid::now_v7(),
        at: Utc::now(),
        actor: actor(principal),
        partner_id: change.partner_id,
        action: change.action.to_owned(),
        target: change.target,
        request_id: crate::request_id::current(),
        before: change.before,
        after: change.after,
    };
    AuditEntry::insert(conn, &row).await?;
    Ok(())
}

/// What `principal` may read: the operator everything, a partner its own entries.
fn visible(principal: &Principal, mut filter: AuditFilter) -> AppResult<AuditFilter> {
    match principal {
        Principal::Operator { .. } => Ok(filter),
        Principal::Partner { partner_id, .. } => {
            if filter.partner_id.is_some_and(|p| p != *partner_id) {
                return Err(AppError::forbidden("a partner reads its own audit trail"));
            }
            filter.partner_id = Some(*partner_id);
            Ok(filter)
        }
        Principal::Member { .. } => Err(AppError::forbidden(
            "the audit trail is for the operator and partners",
        )),
    }
}

/// A page of entries, newest first.
pub(crate) async fn page(
    db: &DbPool,
    principal: &Principal,
    filter: AuditFilter,
    before: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<AuditEntry>> {
    let filter = visible(principal, filter)?;
    let mut conn = db.get().await?;
    Ok(AuditEntry::page(&mut conn, &filter, before, limit).await?)
}

/// Entries read per statement for the CSV.
const CSV_PAGE: i64 = 1_000;

/// All entries matching `filter` as CSV, newest first (`GET /audit/csv`).
pub(crate) async fn csv(
    db: &DbPool,
    principal: &Principal,
    filter: AuditFilter,
) -> AppResult<String> {
    let filter = visible(principal, filter)?;
    let mut conn = db.get().await?;
    let mut out = String::from("id,at,actor,partner_id,action,target,request_id,before,after\n");
    let mut before = None;
    loop {
        let rows = AuditEntry::page(&mut conn, &filter, before, CSV_PAGE).await?;
        let Some(last) = rows.last() else { break };
        before = Some(last.id);
        for row in &rows {
            out.push_str(&csv_line(row));
        }
    }
    Ok(out)
}

fn csv_line(row: &AuditEntry) -> String {
    let text =
        |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    let fields = [
        row.id.to_string(),
        row.at.to_rfc3339(),
        row.actor.clone(),
        row.partner_id.map(|p| p.to_string()).unwrap_or_default(),
        row.action.clone(),
        row.target.clone(),
        row.request_id.clone().unwrap_or_default(),
        text(&row.before),
        text(&row.after),
    ];
    let quoted: Vec<String> = fields.iter().map(|f| csv::field(f)).collect();
    format!("{}\n", quoted.join(","))
}
