//! Rows and the queries over them, as async functions over `&mut AsyncPgConnection`.

pub mod activity;
pub mod ambassador;
pub mod audit;
pub mod campaign;
pub mod consent;
pub mod credential;
pub mod family;
pub mod ledger;
pub mod member;
pub mod partner;
pub mod portal;
pub mod settlement;
pub mod tiers;
pub mod webhook;

pub use credential::Credential;
pub use member::{Member, MemberLink};
pub use partner::Partner;

/// True when the error is a violation of the named unique constraint (or primary key).
pub fn is_unique_violation(error: &diesel::result::Error, constraint: &str) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(
        error,
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some(constraint)
    )
}
