//! mcp: run the services of one Linux host without a daemon.

pub mod bridge;
pub mod cli;
pub mod commands;
pub mod config;
pub mod duration;
pub mod exit;
pub mod lock;
pub mod model;
pub mod output;
pub mod progress;
pub mod reconcile;
pub mod registry;
pub mod runtime;
pub mod safefs;
pub mod since;
pub mod spec;
pub mod timefmt;

pub use commands::run;
