//! Pure rules: no I/O, no database, property-tested where they compute.

pub mod leaderboard;
pub mod ledger;
pub mod member;
pub mod money;
pub mod partner;
pub mod settlement;
pub mod tiers;
