//! Adapters: the only code that knows which technologies exist.

pub mod formats;
pub mod http;
pub mod metrics;
pub mod opendal;
pub mod query;
pub mod sea_orm;
pub mod system;
pub mod webhooks;
