//! Time and identity sources, so that the core never reads the clock or a random generator
//! directly (tests can pin them).

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The current time. Timestamps are stored with microsecond precision.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// New unique identifiers.
pub trait IdGenerator: Send + Sync {
    fn new_id(&self) -> Uuid;
}

/// Secret material for API keys.
pub trait SecretGenerator: Send + Sync {
    /// A new API key: at least 256 bits of entropy, printable ASCII.
    fn new_api_key(&self) -> String;
    /// A new webhook signing secret: 32 bytes from a secure source.
    fn new_webhook_secret(&self) -> crate::domain::webhooks::signature::Secret;
}

/// Most threads one CPU-bound job (an ingest, a statistics computation) runs on.
pub const MAX_WORKER_THREADS: usize = 8;

/// Threads one CPU-bound job runs on: the machine's cores, at most [`MAX_WORKER_THREADS`]
/// (beyond that, a job's merging and I/O bound it, and concurrent jobs share the machine).
pub fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_WORKER_THREADS)
}

/// What the use cases report for monitoring. Implementations must be cheap and never fail.
pub trait Telemetry: Send + Sync {
    /// An upload was read and stored: its size, its rows and how long reading it took.
    fn ingested(&self, bytes: u64, rows: u64, seconds: f64);
    /// `/analyze` was answered from the stored statistics (`true`) or computed (`false`).
    fn analyzed(&self, cache_hit: bool);
    /// An HTTP request ended: its method, the operation it reached (`unmatched` for none),
    /// its status and its duration.
    fn request(&self, method: &str, operation: &str, status: u16, seconds: f64);
    /// A webhook attempt ended: `delivered`, `retry` (failed, tried again later) or `failed`
    /// (failed, no attempt left).
    fn webhook_attempt(&self, outcome: &str);
    /// The webhook deliveries pending, and the age in seconds of the oldest (0 without any).
    fn webhook_queue(&self, pending: u64, oldest_age_seconds: f64);
    /// Everything recorded, in the Prometheus text exposition format (`GET /metrics`).
    fn exposition(&self) -> String;
}

/// Telemetry that records nothing (tests, tools).
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {
    fn ingested(&self, _bytes: u64, _rows: u64, _seconds: f64) {}
    fn analyzed(&self, _cache_hit: bool) {}
    fn request(&self, _method: &str, _operation: &str, _status: u16, _seconds: f64) {}
    fn webhook_attempt(&self, _outcome: &str) {}
    fn webhook_queue(&self, _pending: u64, _oldest_age_seconds: f64) {}
    fn exposition(&self) -> String {
        String::new()
    }
}
