//! Aliases: names that point at one version of a dataset (`production`, `training-2026-q4`)
//! and move when someone moves them; every move is kept. And the dataset's entity tag, which
//! changes with every change of the dataset (a new version, an alias set or removed).

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::domain::ids::{DatasetId, UserId, VersionId};
use crate::domain::names::ALIAS_RULE;
use crate::domain::version_ref::LATEST;

/// A valid alias name: `[a-z][a-z0-9_-]{0,62}`, not `latest` (which always means the newest
/// version) and nothing a number parser would read as a number (`inf`, `nan`, `infinity`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AliasName(String);

/// Why a text is not an alias name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AliasNameError {
    #[error(
        "an alias is 1 to 63 characters: a lower-case letter, then lower-case letters, digits, `_` or `-`; not {0:?}"
    )]
    Malformed(String),
    #[error("`latest` always names the newest version; it cannot be set or removed")]
    Reserved,
    #[error("an alias may not read as a number ({0:?})")]
    NumberLike(String),
}

impl AliasName {
    pub fn parse(text: &str) -> Result<Self, AliasNameError> {
        let bytes = text.as_bytes();
        let well_formed = (ALIAS_RULE.min_chars..=ALIAS_RULE.max_chars).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes[1..].iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-');
        if !well_formed {
            return Err(AliasNameError::Malformed(text.to_string()));
        }
        if text == LATEST {
            return Err(AliasNameError::Reserved);
        }
        if text.parse::<f64>().is_ok() {
            return Err(AliasNameError::NumberLike(text.to_string()));
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AliasName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an alias points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub dataset_id: DatasetId,
    pub name: AliasName,
    pub version_id: VersionId,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: UserId,
    /// The name of the user who last moved it.
    pub updated_by_name: String,
}

/// One change of an alias: set (`from` is `None` the first time), moved, or removed (`to` is
/// `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasMove {
    pub from_version: Option<i64>,
    pub to_version: Option<i64>,
    pub to_version_id: Option<VersionId>,
    pub moved_at: DateTime<Utc>,
    pub moved_by: UserId,
    pub moved_by_name: String,
}

/// A change of an alias to record: point `name` at `version` (`Some`), or remove it (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasChange {
    pub dataset_id: DatasetId,
    pub name: AliasName,
    /// The version's id and number.
    pub target: Option<(VersionId, i64)>,
    pub by: UserId,
    pub at: DateTime<Utc>,
    /// Only when the dataset is still at this revision (`If-Match`).
    pub if_revision: Option<i64>,
}

/// The entity tag of a dataset at `revision` (strong; quoted, as sent in `ETag`).
pub fn dataset_etag(dataset: DatasetId, revision: i64) -> String {
    format!("\"{}-r{revision}\"", dataset.0.simple())
}

/// Whether an `If-Match` header value (a list of tags, or `*`) matches the dataset's current
/// tag. The comparison is strong, as the RFC wants for `If-Match`: a weak tag never matches.
pub fn if_match(header: &str, current_etag: &str) -> bool {
    header.split(',').map(str::trim).any(|tag| tag == "*" || tag == current_etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_are_lower_case_words_that_are_neither_latest_nor_numbers() {
        for good in ["production", "a", "training-2026_q4", &format!("a{}", "b".repeat(62)), "v1", "e"] {
            assert_eq!(AliasName::parse(good).map(|a| a.as_str().to_string()), Ok(good.to_string()));
        }
        for bad in ["", "Production", "1", "12", "-a", "_a", "a b", "é", &format!("a{}", "b".repeat(63)), "a.b"] {
            assert!(matches!(AliasName::parse(bad), Err(AliasNameError::Malformed(_))), "{bad:?}");
        }
        assert_eq!(AliasName::parse("latest"), Err(AliasNameError::Reserved));
        for number_like in ["inf", "nan", "infinity"] {
            assert!(matches!(AliasName::parse(number_like), Err(AliasNameError::NumberLike(_))), "{number_like}");
        }
    }

    #[test]
    fn if_match_compares_strongly_and_star_matches_any_current_tag() {
        let id = DatasetId(uuid::Uuid::from_u128(7));
        let tag = dataset_etag(id, 3);
        assert_eq!(tag, "\"00000000000000000000000000000007-r3\"");
        assert!(if_match(&tag, &tag));
        assert!(if_match(&format!("\"other\", {tag}"), &tag));
        assert!(if_match("*", &tag));
        assert!(!if_match(&format!("W/{tag}"), &tag), "a weak tag never matches If-Match");
        assert!(!if_match(&dataset_etag(id, 2), &tag));
    }
}
