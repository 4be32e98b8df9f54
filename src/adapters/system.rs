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

/// Tunes glibc's malloc so that the memory of a large request goes back to the OS and the
/// server's resident memory does not creep up request after request. Elsewhere (musl, other
/// systems): nothing. Call once, at start (arenas made before the call stay).
///
/// - **Large allocations (≥ 1 MiB) get mappings of their own**, returned to the OS as soon as
///   they are freed. By default glibc raises that threshold as large blocks are freed (up to
///   32 MiB), after which the column vectors of `/compare`, `/analyze` and uploads come from the
///   heap and stay resident: measured on the 500 MB benchmark, `/compare` in a fresh server
///   peaked at 523 MiB and left 444 MiB resident; with the fixed threshold, 312 MiB and 83 MiB,
///   in the same time (BENCHMARKS.md, session 12). `MALLOC_MMAP_THRESHOLD_`, when set, is
///   glibc's to apply and is left alone.
/// - **One malloc arena per core** ([`worker_threads`](crate::ports::system::worker_threads)),
///   not glibc's default of eight per core: each thread that allocates (Tokio's blocking pool
///   starts many) gets an arena of its own, and the freed small blocks each arena keeps add up.
///   Measured on the 500 MB benchmark, six uploads in a row to a fresh server (each with its
///   statistics and drift check): resident memory between uploads went 46 → 123 → 207 → 198
///   → 282 → 283 MiB with the default and 46 → 112 → 128 → 132 → 134 → 136 MiB with two
///   arenas, upload times within the machine's noise (BENCHMARKS.md, session 13).
///   `MALLOC_ARENA_MAX`, when set, is left to glibc.
pub fn tune_glibc_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes parameters of glibc's allocator (it takes the
        // allocator's own lock); it has no memory-safety preconditions.
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
            }
        }
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            let arenas = libc::c_int::try_from(crate::ports::system::worker_threads()).unwrap_or(1);
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, arenas);
            }
        }
    }
}
