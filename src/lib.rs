//! Coalition loyalty hub: one points ledger across many partner merchants.
//!
//! Layers, top to bottom: [`http`] and [`graphql`] (thin) -> [`services`] (authorization,
//! one transaction per mutation) -> [`domain`] (pure rules) and [`db`] (rows and queries).

// A `pub` item in a private module says more than it means: say pub(crate).
#![warn(unreachable_pub)]

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod graphql;
pub(crate) mod http;
pub(crate) mod request_id;
pub mod server;
pub mod services;
pub mod telemetry;

pub use app::AppState;
pub use config::Config;
pub use error::{AppError, AppResult};
