//! How a request names one version of a dataset: the `version` parameter of the read routes
//! (`GET /api/datasets/{id}`, `/columns`, `/download`, `/analyze`, `/quality`, `/rows`,
//! `/query`) and compare's `v1` and `v2`. One rule, [`VersionRef::parse`], serves all of them.

use std::fmt;

use thiserror::Error;

use crate::domain::aliases::AliasName;

/// The word that names a dataset's newest version (the default).
pub const LATEST: &str = "latest";

/// Which version a request means.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum VersionRef {
    /// The newest version, whatever its number (`latest`, or no parameter).
    #[default]
    Latest,
    /// The version with this number (0 for the first upload, then 1, 2, …).
    Number(i64),
    /// The version an alias points at when the request is served.
    Alias(AliasName),
}

/// A `version` parameter that names no version.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`version` must be a version number (0, 1, 2, …), `latest` or an alias, not {0:?}")]
pub struct VersionRefError(pub String);

impl VersionRef {
    /// `latest` (any case), a version number in decimal digits, or an alias name
    /// ([`AliasName::parse`]); surrounding white space is ignored. Anything else — a negative
    /// or fractional number, an empty text — is refused.
    pub fn parse(text: &str) -> Result<Self, VersionRefError> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case(LATEST) {
            return Ok(Self::Latest);
        }
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return trimmed.parse::<i64>().map(Self::Number).map_err(|_| VersionRefError(text.to_string()));
        }
        AliasName::parse(trimmed).map(Self::Alias).map_err(|_| VersionRefError(text.to_string()))
    }

    /// The parameter, or [`VersionRef::Latest`] when it is absent.
    pub fn parse_optional(text: Option<&str>) -> Result<Self, VersionRefError> {
        text.map_or(Ok(Self::Latest), Self::parse)
    }
}

impl fmt::Display for VersionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str(LATEST),
            Self::Number(n) => write!(f, "{n}"),
            Self::Alias(name) => f.write_str(name.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_and_version_numbers_are_versions() {
        assert_eq!(VersionRef::parse("latest"), Ok(VersionRef::Latest));
        assert_eq!(VersionRef::parse(" LATEST "), Ok(VersionRef::Latest));
        assert_eq!(VersionRef::parse("0"), Ok(VersionRef::Number(0)));
        assert_eq!(VersionRef::parse("17"), Ok(VersionRef::Number(17)));
        assert_eq!(VersionRef::parse_optional(None), Ok(VersionRef::Latest));
    }

    #[test]
    fn an_alias_name_is_a_version_too() {
        assert_eq!(VersionRef::parse(" production "), Ok(VersionRef::Alias(AliasName::parse("production").unwrap())));
        assert_eq!(VersionRef::parse("v1").unwrap().to_string(), "v1");
    }

    #[test]
    fn anything_else_is_refused_with_the_text_it_was_given() {
        for bad in ["", " ", "-1", "+1", "1.0", "1e3", "V1", "Newest", "inf", "a b", "99999999999999999999"] {
            let err = VersionRef::parse(bad).unwrap_err();
            assert_eq!(err.0, bad);
        }
    }

    #[test]
    fn a_version_is_written_as_it_is_named() {
        assert_eq!(VersionRef::Latest.to_string(), "latest");
        assert_eq!(VersionRef::Number(3).to_string(), "3");
    }
}
