//! Use cases: authorization, validation through the domain rules, and one database
//! transaction per mutation. Resolvers and the CLI call these and nothing below them.

pub mod access;
pub mod ambassadors;
pub mod batch;
pub mod credentials;
pub mod expiry;
pub mod family;
pub mod leaderboards;
pub mod ledger;
pub mod live;
pub mod members;
pub mod outcome;
pub mod partners;
pub mod settlement;
pub mod tiers;
pub mod verify;
