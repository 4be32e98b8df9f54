//! The black-box API suite: every endpoint through the HTTP layer. Runs on SQLite by default
//! and on the database named by `TEST_DATABASE_URL` when set.

mod access;
mod aliases;
mod analysis;
mod arrow_inputs;
mod auth_and_projects;
mod bad_input;
mod cli;
mod compare;
mod compressed;
mod conditional;
mod contracts;
mod datasets;
mod downloads;
mod drift;
mod exports;
mod failures;
mod helpers;
mod idempotency;
mod identity;
mod json_inputs;
mod lineage;
mod openapi;
mod queries;
mod read_hints;
mod route_inventory;
mod row_diff;
mod rows;
mod spec_examples;
mod spreadsheets;
mod time_limits;
mod ui;
mod uploads;
mod versions;
mod webhooks;
