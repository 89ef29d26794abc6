//! The ledger's SQL functions (sql/ledger/ and sql/family/), declared for diesel so that
//! each call is a statically known, cached prepared statement: one round trip per
//! operation. Each answers `jsonb` in one shape (sql/ledger/answers.sql), read by
//! [`crate::domain::ledger::LedgerAnswer`]. (`ledger_issue` and `ledger_redeem` are booked
//! through `ledger_batch`: services::batch.)

use diesel::sql_types::{BigInt, Bool, Bytea, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid};

diesel::define_sql_function! {
    /// The answer for an entry already written (its member's balance now).
    fn hub_answer(entry_id: Uuid, replayed: Bool) -> Jsonb;
}

diesel::define_sql_function! {
    #[allow(clippy::too_many_arguments)]
    fn ledger_authorize(
        caller: Text, key: Text, fingerprint: Bytea, partner_id: Uuid,
        member_id: Nullable<Uuid>, member_number: Nullable<Text>, customer_id: Nullable<Text>,
        presence_code: Nullable<Text>, points: BigInt, reference: Nullable<Text>,
        expires_at: Timestamptz, now: Timestamptz
    ) -> Jsonb;
}

diesel::define_sql_function! {
    #[allow(clippy::too_many_arguments)]
    fn ledger_settle_hold(
        caller: Text, key: Text, fingerprint: Bytea, partner_id: Nullable<Uuid>,
        hold_id: Uuid, capture: Nullable<BigInt>, now: Timestamptz
    ) -> Jsonb;
}

diesel::define_sql_function! {
    #[allow(clippy::too_many_arguments)]
    fn ledger_reverse(
        caller: Text, key: Text, fingerprint: Bytea, partner_id: Nullable<Uuid>,
        original_id: Uuid, points: Nullable<BigInt>, reference: Nullable<Text>, now: Timestamptz
    ) -> Jsonb;
}

diesel::define_sql_function! {
    #[allow(clippy::too_many_arguments)]
    fn ledger_donate(
        caller: Text, key: Text, fingerprint: Bytea, member_id: Uuid, charity_id: Uuid,
        points: BigInt, daily_limit: BigInt, now: Timestamptz
    ) -> Jsonb;
}

diesel::define_sql_function! {
    /// The sender's result, with the recipient's as `recipient`.
    #[allow(clippy::too_many_arguments)]
    fn ledger_transfer(
        caller: Text, key: Text, fingerprint: Bytea, member_id: Uuid, recipient_number: Text,
        points: BigInt, daily_points: BigInt, daily_count: Integer, now: Timestamptz
    ) -> Jsonb;
}

diesel::define_sql_function! {
    /// One element per hold released.
    fn ledger_expire_holds(now: Timestamptz, limit: Integer) -> Jsonb;
}

diesel::define_sql_function! {
    /// One element per member whose due pending points were released.
    fn ledger_release_pending(now: Timestamptz, limit: Integer) -> Jsonb;
}

diesel::define_sql_function! {
    /// One element per member whose past-due points expired.
    fn ledger_expire_lots(now: Timestamptz, limit: Integer) -> Jsonb;
}

diesel::define_sql_function! {
    /// The member linked to the partner's customer id, enrolled now if there is none.
    fn hub_enroll_member(
        partner_id: Uuid, customer_id: Text, member_id: Uuid, member_number: Text, now: Timestamptz
    ) -> diesel::pg::sql_types::Record<(Uuid, Bool)>;
}

diesel::define_sql_function! {
    /// Several issue / redeem operations in one transaction (services::batch): an array of
    /// answers, one per operation.
    fn ledger_batch(operations: Jsonb) -> Jsonb;
}

/// A database error as the client sees it: a refusal raised by a SQL function that does
/// not answer in `LedgerAnswer`'s shape (`hub_attach_referral`) carries it as JSON in the
/// error's detail (sql/ledger/answers.sql); anything else is internal.
pub(crate) fn database_error(error: diesel::result::Error) -> crate::error::AppError {
    match error {
        diesel::result::Error::DatabaseError(kind, info) => {
            match info
                .details()
                .and_then(|d| serde_json::from_str::<crate::domain::ledger::Refusal>(d).ok())
            {
                Some(refusal) => refusal.into(),
                None => crate::error::AppError::internal(diesel::result::Error::DatabaseError(
                    kind, info,
                )),
            }
        }
        other => other.into(),
    }
}
