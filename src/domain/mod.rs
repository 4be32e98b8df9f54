//! The domain: types and pure rules. Nothing here performs I/O; Arrow arrays are used as the
//! in-memory columnar data model (they are data, not I/O).

pub mod access;
pub mod aliases;
pub mod content_hash;
pub mod contracts;
pub mod downloads;
pub mod drift;
pub mod dtype;
pub mod idempotency;
pub mod ids;
pub mod inference;
pub mod lineage;
pub mod names;
pub mod preview;
pub mod quality;
pub mod read_hints;
pub mod records;
pub mod row_hash;
pub mod schema_changes;
pub mod sort;
pub mod statistics;
pub mod version_ref;
pub mod webhooks;
