//! The ledger's SQL functions (migrations/*_ledger), declared for diesel so that each call
//! is a statically known, cached prepared statement: one round trip per operation.
//! (`ledger_issue` and `ledger_redeem` are called through `ledger_batch`: services::batch.)

use diesel::{
    pg::sql_types::Record,
    sql_types::{BigInt, Bool, Bytea, Integer, Nullable, Text, Timestamptz, Uuid},
};

/// `hub_result`: the entry, its hold, the member and the member's balance afterwards.
pub type ResultSql = Record<(
    Uuid,
    Nullable<Uuid>,
    Uuid,
    BigInt,
    BigInt,
    BigInt,
    BigInt,
    Bool,
)>;

pub type ResultRow = (
    uuid::Uuid,
    Option<uuid::Uuid>,
    uuid::Uuid,
    i64,
    i64,
    i64,
    i64,
    bool,
);

diesel::define_sql_function! {
    /// The result of an entry already written (its member's balance now).
    fn hub_result_for(entry_id: Uuid, replayed: Bool) -> ResultSql;
}

diesel::define_sql_function! {
    #[allow(clippy::too_many_arguments)]
    fn ledger_authorize(
        caller: Text, key: Text, fingerprint: Bytea, partner_id: Uuid,
        member_id: Nullable<Uuid>, member_number: Nullable<Text>, customer_id: Nullable<Text>,
        points: BigInt, reference: Nullable<Text>, expires_at: Timestamptz, now: Timestamptz
    ) -> ResultSql;
}

diesel::define_sql_function! {
    #[allow(clippy::too_many_arguments)]
    fn ledger_settle_hold(
        caller: Text, key: Text, fingerprint: Bytea, partner_id: Nullable<Uuid>,
        hold_id: Uuid, capture: Nullable<BigInt>, now: Timestamptz
    ) -> ResultSql;
}

diesel::define_sql_function! {
    #[allow(clippy::too_many_arguments)]
    fn ledger_reverse(
        caller: Text, key: Text, fingerprint: Bytea, partner_id: Nullable<Uuid>,
        original_id: Uuid, points: Nullable<BigInt>, reference: Nullable<Text>, now: Timestamptz
    ) -> ResultSql;
}

diesel::define_sql_function! {
    #[allow(clippy::too_many_arguments)]
    fn ledger_donate(
        caller: Text, key: Text, fingerprint: Bytea, member_id: Uuid, charity_id: Uuid,
        points: BigInt, daily_limit: BigInt, now: Timestamptz
    ) -> ResultSql;
}

diesel::define_sql_function! {
    /// Returns two rows: the sender's result, then the recipient's.
    #[sql_name = "ledger_transfer"]
    #[allow(clippy::too_many_arguments)]
    fn ledger_transfer(
        caller: Text, key: Text, fingerprint: Bytea, member_id: Uuid, recipient_number: Text,
        points: BigInt, daily_points: BigInt, daily_count: Integer, now: Timestamptz
    ) -> ResultSql;
}

/// `hub_expired`: what an expiry job did to one member (its entry, the points expired or
/// released, and the member's balance afterwards).
pub type ExpiredSql = Record<(Uuid, Uuid, BigInt, BigInt, BigInt, BigInt, BigInt)>;
pub type ExpiredRow = (uuid::Uuid, uuid::Uuid, i64, i64, i64, i64, i64);

diesel::define_sql_function! {
    /// One row per hold released.
    fn ledger_expire_holds(now: Timestamptz, limit: Integer) -> ExpiredSql;
}

diesel::define_sql_function! {
    /// One row per member whose past-due points expired.
    fn ledger_expire_lots(now: Timestamptz, limit: Integer) -> ExpiredSql;
}

diesel::define_sql_function! {
    /// The member linked to the partner's customer id, enrolled now if there is none.
    fn hub_enroll_member(
        partner_id: Uuid, customer_id: Text, member_id: Uuid, member_number: Text, now: Timestamptz
    ) -> Record<(Uuid, Bool)>;
}

diesel::define_sql_function! {
    /// Several issue / redeem operations in one transaction (services::batch).
    fn ledger_batch(operations: diesel::sql_types::Jsonb) -> diesel::sql_types::Jsonb;
}
