//! datasets-api: a registry of versioned tabular datasets. See README.md and docs/architecture.md.

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod ports;
pub mod server;
