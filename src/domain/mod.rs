//! Pure rules: no I/O, no database, property-tested where they compute.

pub mod campaign;
pub(crate) mod csv;
pub(crate) mod leaderboard;
pub(crate) mod ledger;
pub(crate) mod member;
pub(crate) mod money;
pub(crate) mod partner;
pub mod portal;
pub mod rate_limit;
pub mod settlement;
pub(crate) mod tiers;
pub mod webhook;
