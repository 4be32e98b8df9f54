//! Checked text values. Validation happens once, in these constructors; handlers and services
//! never re-validate.

use thiserror::Error;

/// Why a text value was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TextError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} must be at most {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} must not contain control characters")]
    ControlCharacter { field: &'static str },
}

fn checked(field: &'static str, raw: &str, max: usize, allow_newlines: bool) -> Result<String, TextError> {
    let value = raw.trim();
    if value.chars().count() > max {
        return Err(TextError::TooLong { field, max });
    }
    let bad = |c: char| c.is_control() && !(allow_newlines && (c == '\n' || c == '\r' || c == '\t'));
    if value.chars().any(bad) {
        return Err(TextError::ControlCharacter { field });
    }
    Ok(value.to_string())
}

fn required(field: &'static str, raw: &str, max: usize) -> Result<String, TextError> {
    let value = checked(field, raw, max, false)?;
    if value.is_empty() {
        return Err(TextError::Empty { field });
    }
    Ok(value)
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            /// Trims surrounding white space; refuses empty values, values longer than
            /// `MAX_CHARS` characters and control characters.
            pub fn parse(raw: &str) -> Result<Self, TextError> {
                required($field, raw, Self::MAX_CHARS).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }
    };
}

name_type!(
    /// A dataset's human-readable name (1–200 characters).
    DatasetName, "name", 200
);
name_type!(
    /// A project's name (1–200 characters).
    ProjectName, "name", 200
);
name_type!(
    /// A user's display name (1–200 characters).
    UserName, "name", 200
);

name_type!(
    /// The name of an experiment, a model or a deployment (1–200 characters).
    ResourceName, "name", 200
);

/// A short optional label (an algorithm, a stage, a problem type, a target column): trimmed,
/// empty means none, at most `max` characters, no control characters.
pub fn optional_label(field: &'static str, raw: Option<&str>, max: usize) -> Result<Option<String>, TextError> {
    let Some(raw) = raw else { return Ok(None) };
    let value = checked(field, raw, max, false)?;
    Ok((!value.is_empty()).then_some(value))
}

/// Free text describing a dataset, a version or a project (0–10,000 characters; newlines and
/// tabs allowed). An empty description is stored as none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, TextError> {
        let Some(raw) = raw else { return Ok(None) };
        let value = checked("description", raw, Self::MAX_CHARS, true)?;
        Ok((!value.is_empty()).then_some(Self(value)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An e-mail address as given (only its shape is checked: one `@` with text on both sides).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let value = required("email", raw, 320)?;
        match value.split_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@') => {
                Ok(Self(value))
            }
            _ => Err(TextError::Empty { field: "email (local@domain)" }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_name_is_trimmed() {
        assert_eq!(DatasetName::parse("  Transactions Q4 ").unwrap().as_str(), "Transactions Q4");
    }

    #[test]
    fn dataset_name_refuses_blank_long_and_control_text() {
        assert!(matches!(DatasetName::parse("   "), Err(TextError::Empty { .. })));
        assert!(matches!(DatasetName::parse(&"x".repeat(201)), Err(TextError::TooLong { .. })));
        assert!(matches!(DatasetName::parse("a\u{0}b"), Err(TextError::ControlCharacter { .. })));
    }

    #[test]
    fn empty_description_means_none_and_newlines_are_kept() {
        assert_eq!(Description::parse_optional(Some("  ")).unwrap(), None);
        let d = Description::parse_optional(Some("line 1\nline 2")).unwrap().unwrap();
        assert_eq!(d.as_str(), "line 1\nline 2");
    }

    #[test]
    fn email_needs_one_at_sign_with_text_on_both_sides() {
        assert!(Email::parse("alice@example.com").is_ok());
        assert!(Email::parse("alice").is_err());
        assert!(Email::parse("@example.com").is_err());
        assert!(Email::parse("a@b@c").is_err());
    }
}
