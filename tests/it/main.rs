//! One integration-test binary: a real hub over HTTP on real PostgreSQL and Redis.

mod audit;
mod auth;
mod campaigns;
mod donations;
mod family;
mod hardening;
mod keys;
mod leaderboards;
mod ledger;
mod ledger_batch;
mod ledger_properties;
mod ledger_queue;
mod live;
mod oauth;
mod partners_members;
mod pending_points;
mod presence;
mod rate_limits;
mod readme_commands;
mod refusals;
mod round_trips;
mod schema_drift;
mod settlement;
mod sql_functions;
mod support;
mod tiers;
