//! Real time, ids and secrets.

use chrono::{DateTime, SubsecRound, Utc};
use rand::RngCore;
use uuid::Uuid;

use crate::ports::system::{Clock, IdGenerator, SecretGenerator};

pub struct SystemClock;

impl Clock for SystemClock {
    /// Truncated to microseconds, the precision every supported database stores.
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// UUIDv7: time-ordered, so new rows cluster at the end of indexes.
pub struct UuidV7;

impl IdGenerator for UuidV7 {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}

/// Keys are `dsk_` followed by 64 hex digits (256 random bits from the OS generator).
pub struct RandomSecrets;

impl SecretGenerator for RandomSecrets {
    fn new_api_key(&self) -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        format!("dsk_{}", hex::encode(bytes))
    }

    fn new_webhook_secret(&self) -> crate::domain::webhooks::signature::Secret {
        let mut bytes = [0u8; crate::domain::webhooks::signature::SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        crate::domain::webhooks::signature::Secret::from_bytes(bytes)
    }
}
