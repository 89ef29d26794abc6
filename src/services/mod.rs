//! Use cases: authorization, validation through the domain rules, and one database
//! transaction per mutation. Resolvers and the CLI call these and nothing below them.

pub(crate) mod access;
pub(crate) mod ambassadors;
pub(crate) mod audit;
pub(crate) mod batch;
pub mod campaigns;
pub mod consents;
pub(crate) mod credentials;
pub mod expiry;
pub(crate) mod family;
pub mod leaderboards;
pub mod ledger;
pub(crate) mod live;
pub mod members;
pub(crate) mod outcome;
pub(crate) mod partners;
pub(crate) mod portal;
pub mod rate_limits;
pub mod reports;
pub mod settlement;
pub(crate) mod tiers;
pub mod verify;
pub mod webhooks;
