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

/// Allocations of at least this size get a mapping of their own from glibc's malloc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: libc::c_int = 1 << 20;

/// Makes glibc's malloc give large allocations (≥ 1 MiB) mappings of their own, returned to the
/// OS as soon as they are freed. By default glibc raises that threshold as large blocks are
/// freed (up to 32 MiB), after which the column vectors of `/compare`, `/analyze` and uploads
/// come from the heap and stay resident: measured on the 500 MB benchmark, `/compare` in a fresh
/// server peaked at 523 MiB and left 444 MiB resident; with the fixed threshold, 312 MiB and
/// 83 MiB, in the same time (BENCHMARKS.md, 2026-12-05 session 12). The environment variable
/// `MALLOC_MMAP_THRESHOLD_`, when set, is glibc's to apply and is left alone. Elsewhere (musl,
/// other systems): nothing. Call once, at start.
pub fn return_large_allocations_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only changes a parameter of glibc's allocator (it takes the
        // allocator's own lock); it has no memory-safety preconditions.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        }
    }
}
