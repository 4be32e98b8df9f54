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
}
