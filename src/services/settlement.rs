//! Settlement: rate cards, previews, period close (exactly once) and who sees which lines.
//!
//! A close runs in one REPEATABLE READ transaction that first locks `settlement_periods`
//! (so closes are serial and each sees the previous one) and then aggregates in SQL, chunk
//! by chunk for progress: the process holds one total per kind and counterparty pair, never
//! the records. The period is what the transaction sees with `occurred_at` before the
//! cut-off, minus what the previous close saw; the close stores its snapshot so that the next
//! one can tell. A record whose transaction commits while a close runs is therefore in the
//! next period, and no record is in two.

use std::collections::BTreeMap;

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::services::audit::{self, Change};
use crate::{
    auth::{Principal, Scope},
    db::{
        DbPool,
        models::{
            Partner,
            settlement::{self as sql, LastClose, NewPeriod, PartnerRate, Period},
            webhook::EventRow,
        },
        schema::partners,
    },
    domain::settlement::{Attributed, Party, Statement, StatementInput, Totals, validate_rate},
    error::{AppError, AppResult},
};

/// Time slices a close aggregates one by one (progress, and short statements).
const CLOSE_CHUNKS: i32 = 16;

pub struct RatesInput {
    pub partner_id: Uuid,
    pub redemption_value: BigDecimal,
    pub issuance_fee: BigDecimal,
    /// Now when omitted.
    pub effective_from: Option<DateTime<Utc>>,
}

/// The settlement service's handle.
#[derive(Clone)]
pub struct Settlement {
    pub(crate) db: DbPool,
}

/// Operator: a new rate card for a partner, from `effective_from` on. Closed periods are
/// final, so a rate may not start before the last cut-off.
pub async fn set_rates(
    settlement: &Settlement,
    principal: &Principal,
    input: RatesInput,
) -> AppResult<PartnerRate> {
    let db = &settlement.db;
    principal.require_operator()?;
    validate_rate(&input.redemption_value, "redemptionValue")?;
    validate_rate(&input.issuance_fee, "issuanceFee")?;
    let now = Utc::now();
    let effective_from = input.effective_from.unwrap_or(now);
    let mut conn = db.get().await?;
    let row = conn
        .transaction(async |conn| {
            // A close cannot commit between the check and the insert.
            diesel::sql_query("LOCK TABLE settlement_periods IN SHARE MODE")
                .execute(conn)
                .await?;
            Partner::find(conn, input.partner_id)
                .await?
                .ok_or(AppError::NotFound("partner"))?;
            if let Some(last) = Period::last_close(conn).await?
                && effective_from < last.cutoff
            {
                return Err(AppError::bad_input(format!(
                    "effectiveFrom is inside a closed period: it must be at or after {}",
                    last.cutoff.to_rfc3339()
                )));
            }
            let row = PartnerRate {
                id: Uuid::now_v7(),
                partner_id: input.partner_id,
                redemption_value: input.redemption_value,
                issuance_fee: input.issuance_fee,
                effective_from,
                set_by: principal.subject(),
                created_at: now,
            };
            PartnerRate::insert(conn, &row).await?;
            let change = Change::new("rates.set", Some(row.partner_id), row.id).after(&row);
            audit::record(conn, principal, change).await?;
            Ok::<_, AppError>(row)
        })
        .await?;
    Ok(row)
}

/// A partner's rate history, latest first: the operator's and the partner's own view.
pub async fn rate_history(
    settlement: &Settlement,
    principal: &Principal,
    partner_id: Uuid,
) -> AppResult<Vec<PartnerRate>> {
    let db = &settlement.db;
    match principal {
        Principal::Operator { .. } => {}
        Principal::Partner {
            partner_id: own, ..
        } if *own == partner_id => {}
        _ => {
            return Err(AppError::forbidden(
                "only the operator and the partner itself see its rates",
            ));
        }
    }
    let mut conn = db.get().await?;
    Ok(PartnerRate::history(&mut conn, partner_id).await?)
}

/// A closed period (or a preview) as the caller may see it.
pub struct StatementView {
    pub period: Option<Period>,
    /// The hash of the whole statement, as closed.
    pub content_hash: String,
    pub statement: Statement,
}

/// Whose lines the caller sees: everything for the operator, its own for a partner with
/// `settlement:read`.
fn restrict(principal: &Principal, statement: Statement) -> AppResult<Statement> {
    match principal.records_partner(Scope::SettlementRead)? {
        None => Ok(statement),
        Some(partner) => Ok(statement.visible_to(partner)),
    }
}

fn view_of(principal: &Principal, period: Period) -> AppResult<StatementView> {
    let statement: Statement =
        serde_json::from_value(period.statement.clone()).map_err(AppError::internal)?;
    Ok(StatementView {
        content_hash: period.content_hash.clone(),
        statement: restrict(principal, statement)?,
        period: Some(period),
    })
}

pub async fn statement(
    settlement: &Settlement,
    principal: &Principal,
    id: Uuid,
) -> AppResult<StatementView> {
    let db = &settlement.db;
    principal.records_partner(Scope::SettlementRead)?;
    let mut conn = db.get().await?;
    let period = Period::find(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound("settlement statement"))?;
    view_of(principal, period)
}

/// Closed statements, newest first.
pub async fn statements(
    settlement: &Settlement,
    principal: &Principal,
    before: Option<DateTime<Utc>>,
    limit: i64,
) -> AppResult<Vec<StatementView>> {
    let db = &settlement.db;
    principal.records_partner(Scope::SettlementRead)?;
    let mut conn = db.get().await?;
    Period::page(&mut conn, before, limit)
        .await?
        .into_iter()
        .map(|p| view_of(principal, p))
        .collect()
}

/// The statement [from, to) would produce, computed now (not stored).
/// The longest span a partner may preview, and how long its preview may run.
const PARTNER_PREVIEW_SPAN: chrono::Duration = chrono::Duration::days(93);
const PARTNER_PREVIEW_TIMEOUT: &str = "SET LOCAL statement_timeout = '5s'";

pub async fn preview(
    settlement: &Settlement,
    currency: &str,
    principal: &Principal,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<StatementView> {
    let db = &settlement.db;
    principal.records_partner(Scope::SettlementRead)?;
    if from >= to {
        return Err(AppError::bad_input("from must be before to"));
    }
    let partner = matches!(principal, Principal::Partner { .. });
    if partner && to - from > PARTNER_PREVIEW_SPAN {
        return Err(AppError::bad_input(format!(
            "a partner previews at most {} days at a time",
            PARTNER_PREVIEW_SPAN.num_days()
        )));
    }
    let mut conn = db.get().await?;
    let statement = conn
        .transaction(async |conn| {
            if partner {
                // A partner's preview shares the pool with the tills: it gives up rather
                // than hold a connection for long.
                diesel::sql_query(PARTNER_PREVIEW_TIMEOUT)
                    .execute(conn)
                    .await?;
            }
            let mut totals = Totals::default();
            add_rows(&mut totals, sql::aggregate_range(conn, from, to).await?)?;
            build(conn, currency, from, to, totals).await
        })
        .await?;
    Ok(StatementView {
        content_hash: statement.content_hash(),
        statement: restrict(principal, statement)?,
        period: None,
    })
}

#[derive(Clone, Copy, Debug)]
pub struct CloseProgress {
    pub chunk: i32,
    pub chunks: i32,
    pub records: i64,
}

/// Operator: closes the period that ends at `cutoff` (in the past). Closing again with the
/// same cut-off returns the statement already closed; a cut-off before the last close is
/// refused.
pub async fn close(
    settlement: &Settlement,
    currency: &str,
    principal: &Principal,
    cutoff: DateTime<Utc>,
    progress: &mut (dyn FnMut(CloseProgress) + Send),
) -> AppResult<StatementView> {
    let db = &settlement.db;
    principal.require_operator()?;
    // PostgreSQL keeps microseconds: the cut-off is compared as it will be stored.
    let cutoff = DateTime::from_timestamp_micros(cutoff.timestamp_micros()).unwrap_or(cutoff);
    let now = Utc::now();
    if cutoff > now {
        return Err(AppError::PeriodNotClosable(format!(
            "the cut-off {} is in the future: a period closes once it is over",
            cutoff.to_rfc3339()
        )));
    }
    let currency = currency.to_owned();
    let closed_by = principal.subject();
    let mut conn = db.get().await?;
    let period = conn
        .build_transaction()
        .repeatable_read()
        .run(async |conn| {
            // Before any query, so that the snapshot is taken after the lock.
            diesel::sql_query("LOCK TABLE settlement_periods IN EXCLUSIVE MODE")
                .execute(conn)
                .await?;
            // A big period may take longer than one API statement may.
            diesel::sql_query("SET LOCAL statement_timeout = '10min'")
                .execute(conn)
                .await?;
            if let Some(done) = Period::find_by_cutoff(conn, cutoff).await? {
                return Ok::<_, AppError>(done);
            }
            let last = Period::last_close(conn).await?;
            if let Some(last) = &last
                && cutoff < last.cutoff
            {
                return Err(AppError::PeriodNotClosable(format!(
                    "periods are closed up to {}: a cut-off cannot go back",
                    last.cutoff.to_rfc3339()
                )));
            }
            let (start, totals) = aggregate_period(conn, last.as_ref(), cutoff, progress).await?;
            let statement = build(conn, &currency, start, cutoff, totals).await?;
            let row = NewPeriod {
                id: Uuid::now_v7(),
                period_start: start,
                cutoff,
                closed_at: now,
                closed_by: &closed_by,
                record_count: statement.record_count,
                statement: &statement.canonical_json(),
                content_hash: &statement.content_hash(),
            };
            let id = row.id;
            let after = serde_json::json!({
                "period_start": row.period_start, "cutoff": row.cutoff,
                "record_count": row.record_count, "content_hash": row.content_hash,
            });
            let parties: Vec<Uuid> = statement
                .parties
                .iter()
                .filter_map(|p| match p.party {
                    Party::Partner(id) => Some(id),
                    Party::Hub => None,
                })
                .collect();
            Period::insert(conn, row).await?;
            let event = serde_json::json!({
                "statementId": id, "periodStart": start, "cutoff": cutoff,
                "contentHash": statement.content_hash(),
            });
            EventRow::emit(conn, "settlement.closed", &parties, &event, now).await?;
            let change = Change::new("settlement.closed", None, id);
            audit::record(
                conn,
                principal,
                Change {
                    after: Some(after),
                    ..change
                },
            )
            .await?;
            Ok(Period::find(conn, id).await?.expect("inserted just now"))
        })
        .await?;
    tracing::info!(period = %period.id, cutoff = %period.cutoff, records = period.record_count, "settlement period closed");
    view_of(principal, period)
}

/// The records of the period ending at `cutoff`: the previous close's late committers, then
/// [start, cutoff) slice by slice.
async fn aggregate_period(
    conn: &mut AsyncPgConnection,
    last: Option<&LastClose>,
    cutoff: DateTime<Utc>,
    progress: &mut (dyn FnMut(CloseProgress) + Send),
) -> AppResult<(DateTime<Utc>, Totals)> {
    let mut totals = Totals::default();
    let start = match last {
        Some(last) => {
            add_rows(&mut totals, sql::aggregate_late(conn, last).await?)?;
            last.cutoff
        }
        None => sql::first_record_before(conn, cutoff)
            .await?
            .unwrap_or(cutoff),
    };
    let span = cutoff - start;
    for chunk in 0..CLOSE_CHUNKS {
        let from = start + span * chunk / CLOSE_CHUNKS;
        let to = if chunk + 1 == CLOSE_CHUNKS {
            cutoff
        } else {
            start + span * (chunk + 1) / CLOSE_CHUNKS
        };
        if from < to {
            add_rows(&mut totals, sql::aggregate_range(conn, from, to).await?)?;
        }
        progress(CloseProgress {
            chunk: chunk + 1,
            chunks: CLOSE_CHUNKS,
            records: totals.records,
        });
    }
    Ok((start, totals))
}

fn add_rows(totals: &mut Totals, rows: Vec<sql::AttributedRow>) -> AppResult<()> {
    for row in rows {
        totals.add(Attributed {
            kind: row.kind.parse()?,
            issuer: row.issuer,
            redeemer: row.redeemer,
            points: row.points,
            money: row.money,
            records: row.records,
        })?;
    }
    Ok(())
}

async fn build(
    conn: &mut AsyncPgConnection,
    currency: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    totals: Totals,
) -> AppResult<Statement> {
    let ids: Vec<Uuid> = totals.partners().into_iter().collect();
    let names: BTreeMap<Uuid, String> = partners::table
        .filter(partners::id.eq_any(&ids))
        .select((partners::id, partners::name))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect();
    Statement::build(StatementInput {
        currency,
        period_start: start,
        period_end: end,
        totals,
        names: &names,
    })
}
