//! HTTP's own mechanisms for reading entities: entity tags (`If-None-Match`, RFC 9110
//! §13.1.2), byte ranges (`Range`, `If-Range`, RFC 9110 §14) and dates (`Last-Modified`).

use std::ops::Range;

use chrono::{DateTime, Utc};

/// Whether `If-None-Match` (a list of tags, or `*`) matches the strong tag `etag` (quoted).
/// The comparison is weak, as the RFC wants for this header: `W/"x"` matches `"x"`.
pub fn none_match(if_none_match: Option<&str>, etag: &str) -> bool {
    let Some(header) = if_none_match else { return false };
    header.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// What a `Range` header asks of an entity of `length` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeAsked {
    /// No range, one the server ignores (several ranges, another unit, bad syntax, or an
    /// `If-Range` that no longer matches): the whole entity.
    Whole,
    /// One satisfiable range (end exclusive), clipped to the entity.
    Part(Range<u64>),
    /// A single range that no byte of the entity satisfies: `416`.
    Unsatisfiable,
}

/// The range to serve for `range` and `if_range` of an entity of `length` bytes tagged
/// `etag`. Only single ranges of bytes are served (`bytes=a-b`, `bytes=a-`, `bytes=-n`).
pub fn range_asked(range: Option<&str>, if_range: Option<&str>, etag: &str, length: u64) -> RangeAsked {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else { return RangeAsked::Whole };
    // If-Range with a tag: serve the range only while the entity is the same (strong match).
    if if_range.is_some_and(|tag| tag.trim() != etag) {
        return RangeAsked::Whole;
    }
    if spec.contains(',') {
        return RangeAsked::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeAsked::Whole };
    let number =
        |s: &str| (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u64>().ok()).flatten();
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) => RangeAsked::Unsatisfiable,
            Some(_) if length == 0 => RangeAsked::Unsatisfiable,
            Some(n) => RangeAsked::Part(length.saturating_sub(n)..length),
            None => RangeAsked::Whole,
        },
        (start, "") => match number(start) {
            Some(s) if s < length => RangeAsked::Part(s..length),
            Some(_) => RangeAsked::Unsatisfiable,
            None => RangeAsked::Whole,
        },
        (start, end) => match (number(start), number(end)) {
            (Some(s), Some(e)) if s > e => RangeAsked::Whole,
            (Some(s), Some(_)) if s >= length => RangeAsked::Unsatisfiable,
            (Some(s), Some(e)) => RangeAsked::Part(s..e.saturating_add(1).min(length)),
            _ => RangeAsked::Whole,
        },
    }
}

/// `Content-Range` of a part served.
pub fn content_range(part: &Range<u64>, length: u64) -> String {
    format!("bytes {}-{}/{length}", part.start, part.end.saturating_sub(1))
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "\"sha256-abc\"";

    #[test]
    fn if_none_match_compares_weakly_and_knows_the_star() {
        assert!(none_match(Some(TAG), TAG));
        assert!(none_match(Some("\"other\", W/\"sha256-abc\""), TAG));
        assert!(none_match(Some("*"), TAG));
        assert!(!none_match(Some("\"other\""), TAG));
        assert!(!none_match(None, TAG));
    }

    #[test]
    fn single_byte_ranges_are_served_and_clipped() {
        let asked = |r: &str| range_asked(Some(r), None, TAG, 100);
        assert_eq!(asked("bytes=0-9"), RangeAsked::Part(0..10));
        assert_eq!(asked("bytes=90-"), RangeAsked::Part(90..100));
        assert_eq!(asked("bytes=-10"), RangeAsked::Part(90..100));
        assert_eq!(asked("bytes=-500"), RangeAsked::Part(0..100));
        assert_eq!(asked("bytes=95-200"), RangeAsked::Part(95..100));
        assert_eq!(asked("bytes=99-99"), RangeAsked::Part(99..100));
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable_and_others_are_ignored() {
        let asked = |r: &str| range_asked(Some(r), None, TAG, 100);
        assert_eq!(asked("bytes=100-"), RangeAsked::Unsatisfiable);
        assert_eq!(asked("bytes=100-200"), RangeAsked::Unsatisfiable);
        assert_eq!(asked("bytes=-0"), RangeAsked::Unsatisfiable);
        assert_eq!(range_asked(Some("bytes=-5"), None, TAG, 0), RangeAsked::Unsatisfiable);
        for ignored in ["bytes=0-1,5-6", "items=0-1", "bytes=5-2", "bytes=x-", "bytes=", "bytes=1-2-3"] {
            assert_eq!(asked(ignored), RangeAsked::Whole, "{ignored}");
        }
        assert_eq!(range_asked(None, None, TAG, 100), RangeAsked::Whole);
    }

    #[test]
    fn if_range_serves_the_part_only_while_the_tag_matches() {
        assert_eq!(range_asked(Some("bytes=0-9"), Some(TAG), TAG, 100), RangeAsked::Part(0..10));
        assert_eq!(range_asked(Some("bytes=0-9"), Some("\"old\""), TAG, 100), RangeAsked::Whole);
    }

    #[test]
    fn dates_are_imf_fixdate() {
        let at = DateTime::<Utc>::from_timestamp(784_111_777, 0).unwrap();
        assert_eq!(http_date(at), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}

/// The answer of a `GET` that supports `If-None-Match`: the representation with its `ETag`,
/// or `304` with no body when the client's copy is current.
#[derive(poem_openapi::ApiResponse)]
pub enum Tagged<T: poem_openapi::types::ParseFromJSON + poem_openapi::types::ToJSON + Send + Sync> {
    /// The representation. Send its `ETag` in `If-None-Match` to get `304` while it is current.
    #[oai(status = 200)]
    Ok(poem_openapi::payload::Json<T>, #[oai(header = "ETag")] String),
    /// Not modified: the copy named by `If-None-Match` is current (no body).
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
}

impl<T: poem_openapi::types::ParseFromJSON + poem_openapi::types::ToJSON + Send + Sync> Tagged<T> {
    /// `body` tagged `etag` (quoted), or `304` when `if_none_match` names it.
    pub fn with_tag(body: T, etag: String, if_none_match: Option<&str>) -> Self {
        if none_match(if_none_match, &etag) {
            Self::NotModified(etag)
        } else {
            Self::Ok(poem_openapi::payload::Json(body), etag)
        }
    }

    /// `body` tagged by its content (see [`content_etag`]), or `304` when `if_none_match`
    /// names it.
    pub fn by_content(body: T, if_none_match: Option<&str>) -> Self {
        let etag = content_etag(&body);
        Self::with_tag(body, etag, if_none_match)
    }
}

/// A strong entity tag of a JSON representation: the first 128 bits of the SHA-256 of its
/// serialization, in hex and quoted. Equal documents get equal tags, any change another.
pub fn content_etag<T: poem_openapi::types::ToJSON>(body: &T) -> String {
    use sha2::{Digest, Sha256};
    let json = body.to_json().map(|v| v.to_string()).unwrap_or_default();
    let digest = Sha256::digest(json.as_bytes());
    format!("\"{}\"", hex::encode(&digest[..16]))
}
