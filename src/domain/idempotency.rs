//! Idempotency keys (IETF httpapi draft "The Idempotency-Key HTTP Header Field"): a client
//! sends `Idempotency-Key` with a request that creates something; the same key from the same
//! user with the same request replays the first answer instead of running it again.
//!
//! Rules (one place for each):
//! - A key is 1–255 visible ASCII characters (`!` to `~`).
//! - Keys belong to a user: two users may use the same key independently.
//! - A request is identified by its [`Fingerprint`]: the method, the path and query, the media
//!   type and the body's bytes, where a multipart body's boundary (which clients choose at
//!   random for each attempt) is left out, so a retried upload is the same request.
//! - A key is remembered for the TTL (`IDEMPOTENCY_TTL_SECONDS`, 24 h by default) from its
//!   first use; then it is forgotten and may be used again.
//! - While a request holds a key, it renews a lease on it every [`LEASE_RENEWAL`]; a key whose
//!   lease ran out (the process holding it died) is taken over by the next request with it.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::domain::ids::UserId;
use crate::domain::names::IDEMPOTENCY_KEY_RULE;

/// How long a key is remembered from its first use, by default (`IDEMPOTENCY_TTL_SECONDS`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a running request's hold on a key lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(60);
/// How often a running request renews its lease.
pub const LEASE_RENEWAL: Duration = Duration::from_secs(15);
/// The longest key.
pub const MAX_KEY_LENGTH: usize = IDEMPOTENCY_KEY_RULE.max_chars;

/// A valid `Idempotency-Key` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

/// Why an `Idempotency-Key` value is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (! to ~)")]
pub struct InvalidKey;

impl IdempotencyKey {
    pub fn parse(value: &[u8]) -> Result<Self, InvalidKey> {
        let visible = |b: &u8| (b'!'..=b'~').contains(b);
        // The rule's pattern, `^[!-~]+$`, with its length limits.
        let length = IDEMPOTENCY_KEY_RULE.min_chars..=IDEMPOTENCY_KEY_RULE.max_chars;
        if !length.contains(&value.len()) || !value.iter().all(visible) {
            return Err(InvalidKey);
        }
        Ok(Self(String::from_utf8(value.to_vec()).map_err(|_| InvalidKey)?))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whose key it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyOwner {
    pub user: UserId,
    pub key: IdempotencyKey,
}

/// The first answer to a keyed request, as it is replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// Hex SHA-256 of the request ([`Fingerprint`]).
    pub fingerprint: String,
    pub status: u16,
    /// The answer's `Content-Type`.
    pub content_type: Option<String>,
    /// The answer's body (the answers of keyed requests are JSON text).
    pub body: String,
}

/// A request's attempt to hold a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClaim {
    pub owner: KeyOwner,
    /// Identifies this attempt (a fresh UUID).
    pub token: uuid::Uuid,
    pub now: chrono::DateTime<chrono::Utc>,
    /// When the hold lapses unless renewed.
    pub lease_until: chrono::DateTime<chrono::Utc>,
    /// When the key is forgotten (the first use plus the TTL).
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// The key was free (never used, expired, or its holder's lease ran out): the request
    /// holds it now and runs.
    Claimed,
    /// Another request holds the key until `lease_until` at the latest.
    Running { lease_until: chrono::DateTime<chrono::Utc> },
    /// A request with this key was answered.
    Done(StoredAnswer),
}

/// Whether an answer is remembered for replay: every answer except server errors (`5xx`),
/// `408` and `409` (which say the request did not run and may be sent again) and `429`.
pub fn is_replayable(status: u16) -> bool {
    !(status >= 500 || matches!(status, 408 | 409 | 429))
}

/// The SHA-256 of a request: method, path and query, media type and body, in that order, each
/// length-prefixed; in a multipart body every occurrence of the boundary is replaced by a
/// fixed marker, so two attempts with different boundaries give one fingerprint, and the
/// body ends at its closing boundary (what follows it, the epilogue, is ignored: a form
/// reader stops there).
pub struct Fingerprint {
    sha: Sha256,
    /// `--` and the multipart boundary, when the body is multipart.
    delimiter: Option<Vec<u8>>,
    /// The body's last bytes that may begin a delimiter, kept until the next chunk.
    carry: Vec<u8>,
    /// The closing delimiter (`--boundary--`) was seen.
    closed: bool,
}

/// What stands for each boundary occurrence in a multipart body's fingerprint.
const BOUNDARY_MARKER: &[u8] = b"\0boundary\0";

impl Fingerprint {
    /// Starts the fingerprint of a request whose `Content-Type` is `content_type`.
    pub fn new(method: &str, path_and_query: &str, content_type: Option<&str>) -> Self {
        let mut sha = Sha256::new();
        let media_type = content_type.and_then(|c| c.split(';').next()).unwrap_or("").trim().to_ascii_lowercase();
        for part in [method.as_bytes(), path_and_query.as_bytes(), media_type.as_bytes()] {
            sha.update((part.len() as u64).to_le_bytes());
            sha.update(part);
        }
        let delimiter = (media_type.starts_with("multipart/"))
            .then(|| content_type.and_then(boundary))
            .flatten()
            .map(|b| [b"--".as_slice(), b.as_bytes()].concat());
        Self { sha, delimiter, carry: Vec::new(), closed: false }
    }

    /// Whether a multipart body's closing delimiter was seen (the rest is not part of the
    /// request).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Adds the body's next bytes.
    pub fn update(&mut self, chunk: &[u8]) {
        if self.closed {
            return;
        }
        let Some(delimiter) = &self.delimiter else {
            self.sha.update(chunk);
            return;
        };
        self.carry.extend_from_slice(chunk);
        let data = std::mem::take(&mut self.carry);
        let mut start = 0;
        for at in memchr::memmem::find_iter(&data, delimiter) {
            self.sha.update(&data[start..at]);
            let after = at + delimiter.len();
            if data.len() < after + 2 {
                // Whether this is the closing delimiter shows in the next bytes.
                self.carry = data[at..].to_vec();
                return;
            }
            self.sha.update(BOUNDARY_MARKER);
            if &data[after..after + 2] == b"--" {
                self.closed = true;
                return;
            }
            start = after;
        }
        // Keep what may be the start of a delimiter split across chunks.
        let keep = (data.len() - start).min(delimiter.len() - 1);
        let cut = data.len() - keep;
        self.sha.update(&data[start..cut]);
        self.carry = data[cut..].to_vec();
    }

    /// The fingerprint (lower-case hex) once the whole body was added.
    pub fn finish(mut self) -> String {
        if !self.closed {
            let carry = std::mem::take(&mut self.carry);
            self.sha.update(&carry);
        }
        hex::encode(self.sha.finalize())
    }
}

/// The `boundary` parameter of a multipart `Content-Type` (quotes removed).
fn boundary(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .skip(1)
        .find_map(|parameter| {
            let (name, value) = parameter.split_once('=')?;
            name.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_string())
        })
        .filter(|b| !b.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(boundary: &str) -> Vec<u8> {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nnew rows\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nid\n1\n--x\n\r\n\
             --{boundary}--\r\n"
        )
        .into_bytes()
    }

    fn fingerprint(content_type: &str, body: &[u8], chunk: usize) -> String {
        let mut f = Fingerprint::new("POST", "/api/datasets/upload", Some(content_type));
        for part in body.chunks(chunk.max(1)) {
            f.update(part);
        }
        f.finish()
    }

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse(b"a").is_ok());
        assert!(IdempotencyKey::parse(&[b'~'; 255]).is_ok());
        assert!(IdempotencyKey::parse(b"8e03978e-40d5-43e8-bc93-6894a57f9324").is_ok());
        assert_eq!(IdempotencyKey::parse(b""), Err(InvalidKey));
        assert_eq!(IdempotencyKey::parse(&[b'a'; 256]), Err(InvalidKey));
        assert_eq!(IdempotencyKey::parse(b"has space"), Err(InvalidKey));
        assert_eq!(IdempotencyKey::parse("é".as_bytes()), Err(InvalidKey));
        assert_eq!(IdempotencyKey::parse(b"tab\t"), Err(InvalidKey));
    }

    #[test]
    fn a_multipart_body_has_one_fingerprint_whatever_its_boundary_and_chunks() {
        let first = fingerprint("multipart/form-data; boundary=AaB03x", &body("AaB03x"), 7);
        for chunk in [1, 2, 3, 5, 64, 10_000] {
            let other = fingerprint("multipart/form-data; boundary=\"zz-91\"", &body("zz-91"), chunk);
            assert_eq!(other, first, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_multipart_body_ends_at_its_closing_boundary() {
        let whole = body("b1");
        let mut f = Fingerprint::new("POST", "/api/datasets/upload", Some("multipart/form-data; boundary=b1"));
        f.update(&whole[..whole.len() - 2]);
        assert!(f.is_closed(), "the closing delimiter and its two dashes were read");
        let mut with_epilogue = whole.clone();
        with_epilogue.extend_from_slice(b"an epilogue\r\n");
        assert_eq!(
            fingerprint("multipart/form-data; boundary=b1", &with_epilogue, 3),
            fingerprint("multipart/form-data; boundary=b1", &whole, 5)
        );
        let mut open = Fingerprint::new("POST", "/x", Some("multipart/form-data; boundary=b1"));
        open.update(&whole[..40]);
        assert!(!open.is_closed());
    }

    #[test]
    fn any_change_of_method_path_media_type_or_body_changes_the_fingerprint() {
        let json = |method: &str, path: &str, content_type: &str, body: &[u8]| {
            let mut f = Fingerprint::new(method, path, Some(content_type));
            f.update(body);
            f.finish()
        };
        let base = json("POST", "/api/projects", "application/json", br#"{"name":"a"}"#);
        assert_eq!(base, json("POST", "/api/projects", "application/json; charset=utf-8", br#"{"name":"a"}"#));
        assert_ne!(base, json("PUT", "/api/projects", "application/json", br#"{"name":"a"}"#));
        assert_ne!(base, json("POST", "/api/projects?x=1", "application/json", br#"{"name":"a"}"#));
        assert_ne!(base, json("POST", "/api/projects", "text/plain", br#"{"name":"a"}"#));
        assert_ne!(base, json("POST", "/api/projects", "application/json", br#"{"name":"b"}"#));
        let upload = fingerprint("multipart/form-data; boundary=b1", &body("b1"), 10);
        let changed = String::from_utf8(body("b1")).unwrap().replace("new rows", "new row");
        assert_ne!(upload, fingerprint("multipart/form-data; boundary=b1", changed.as_bytes(), 10));
        let other_file = String::from_utf8(body("b1")).unwrap().replace("id\n1\n", "id\n2\n");
        assert_ne!(upload, fingerprint("multipart/form-data; boundary=b1", other_file.as_bytes(), 10));
    }

    #[test]
    fn server_errors_and_answers_that_say_retry_are_not_replayed() {
        for status in [200, 201, 400, 403, 404, 413, 415, 422] {
            assert!(is_replayable(status), "{status}");
        }
        for status in [408, 409, 429, 500, 502, 503, 504] {
            assert!(!is_replayable(status), "{status}");
        }
    }
}
