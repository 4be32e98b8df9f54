//! Checked text values. Validation happens once, in these constructors; handlers and services
//! never re-validate.
//!
//! Each kind of text field has one [`TextRule`] below: its length limits, and a regular
//! expression that says the same as the constructor's rule (no control character — Unicode
//! `Cc`: U+0000–U+001F, U+007F–U+009F — except tab, line feed and carriage return in
//! descriptions; required values hold a character other than white space). The HTTP adapter
//! documents fields with these rules (`maxLength`, `minLength`, `pattern`), so the OpenAPI
//! document and the checks cannot drift apart; a test proves each pattern equivalent to its
//! constructor.

use thiserror::Error;

/// The documented form of a text field's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    /// Fewest characters of the value as sent (1 for required values).
    pub min_chars: usize,
    /// Most characters, counted after surrounding white space is trimmed (and, in the
    /// document's `maxLength`, as sent).
    pub max_chars: usize,
    /// A regular expression that accepts exactly the values the rule accepts (short of the
    /// length limits).
    pub pattern: &'static str,
}

/// Dataset, project, user, experiment, model and deployment names; a model's algorithm.
pub const NAME_RULE: TextRule = TextRule { min_chars: 1, max_chars: 200, pattern: NAME_PATTERN };
/// An optional description of a dataset, a version or a project.
pub const DESCRIPTION_RULE: TextRule = TextRule { min_chars: 0, max_chars: 10_000, pattern: DESCRIPTION_PATTERN };
/// The description a new version must have.
pub const REQUIRED_DESCRIPTION_RULE: TextRule =
    TextRule { min_chars: 1, max_chars: 10_000, pattern: REQUIRED_DESCRIPTION_PATTERN };
/// A user's e-mail address.
pub const EMAIL_RULE: TextRule = TextRule { min_chars: 0, max_chars: 320, pattern: EMAIL_PATTERN };
/// An experiment's target column (optional).
pub const TARGET_COLUMN_RULE: TextRule = TextRule { min_chars: 0, max_chars: 400, pattern: LABEL_PATTERN };
/// An experiment's problem type (optional).
pub const PROBLEM_TYPE_RULE: TextRule = TextRule { min_chars: 0, max_chars: 64, pattern: LABEL_PATTERN };
/// A deployment's stage (required).
pub const STAGE_RULE: TextRule = TextRule { min_chars: 1, max_chars: 64, pattern: NAME_PATTERN };

/// The SQL of a query: any text with a character other than white space, up to 100,000
/// characters.
pub const SQL_RULE: TextRule = TextRule { min_chars: 1, max_chars: 100_000, pattern: SQL_PATTERN };

/// An `Idempotency-Key` header: 1 to 255 visible ASCII characters (`domain::idempotency`).
pub const IDEMPOTENCY_KEY_RULE: TextRule = TextRule { min_chars: 1, max_chars: 255, pattern: r"^[!-~]+$" };

/// An alias of a version (`domain::aliases`): a lower-case letter, then up to 62 lower-case
/// letters, digits, `_` or `-`.
pub const ALIAS_RULE: TextRule = TextRule { min_chars: 1, max_chars: 63, pattern: r"^[a-z][a-z0-9_-]*$" };

/// Every rule: what the OpenAPI document may say of a text field.
pub const ALL_RULES: [TextRule; 10] = [
    NAME_RULE,
    DESCRIPTION_RULE,
    REQUIRED_DESCRIPTION_RULE,
    EMAIL_RULE,
    TARGET_COLUMN_RULE,
    PROBLEM_TYPE_RULE,
    STAGE_RULE,
    SQL_RULE,
    IDEMPOTENCY_KEY_RULE,
    ALIAS_RULE,
];

/// White space, as `str::trim` (Unicode `White_Space`) removes it from both ends first; spelled
/// out because `\s` means slightly different sets in the regex dialects of clients.
/// Required values need a character that is neither white space nor a control character.
///
/// A required single-line name.
const NAME_PATTERN: &str = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x1f\x7f-\x9f]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";
/// An optional single-line label (may be empty or blank: then it is absent).
const LABEL_PATTERN: &str = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x1f\x7f-\x9f]*[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";
/// An optional description: tab, line feed and carriage return are allowed.
const DESCRIPTION_PATTERN: &str = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";
/// An e-mail address: `local@domain`, each part holding a character other than white space.
const EMAIL_PATTERN: &str = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^@\x00-\x1f\x7f-\x9f]*[^@\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f][^@\x00-\x1f\x7f-\x9f]*@[^@\x00-\x1f\x7f-\x9f]*[^@\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f][^@\x00-\x1f\x7f-\x9f]*[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";
/// A query's SQL: anything, with a character that is not white space.
const SQL_PATTERN: &str =
    r"^[\s\S]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][\s\S]*$";
/// A required description.
const REQUIRED_DESCRIPTION_PATTERN: &str = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";

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
    DatasetName, "name", NAME_RULE.max_chars
);
name_type!(
    /// A project's name (1–200 characters).
    ProjectName, "name", NAME_RULE.max_chars
);
name_type!(
    /// A user's display name (1–200 characters).
    UserName, "name", NAME_RULE.max_chars
);

name_type!(
    /// The name of an experiment, a model or a deployment (1–200 characters).
    ResourceName, "name", NAME_RULE.max_chars
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
    pub const MAX_CHARS: usize = DESCRIPTION_RULE.max_chars;

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
        let value = required("email", raw, EMAIL_RULE.max_chars)?;
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

/// A query's SQL as given (not trimmed: positions in error messages count from its start);
/// refused when it holds only white space or is longer than [`SQL_RULE`] allows.
pub fn query_text(raw: &str) -> Result<&str, TextError> {
    if raw.trim().is_empty() {
        return Err(TextError::Empty { field: "sql" });
    }
    if raw.chars().count() > SQL_RULE.max_chars {
        return Err(TextError::TooLong { field: "sql", max: SQL_RULE.max_chars });
    }
    Ok(raw)
}

/// Most characters kept of an uploaded file's name.
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// The name of an uploaded file as recorded: its last path component (a client may send a
/// whole path, with `/` or `\\`), without control characters, trimmed, at most
/// [`MAX_FILE_NAME_CHARS`] characters; `None` when nothing is left.
pub fn uploaded_file_name(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).take(MAX_FILE_NAME_CHARS).collect();
    let clean = clean.trim();
    (!clean.is_empty() && clean != "." && clean != "..").then(|| clean.to_string())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use regex::Regex;

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

    /// Characters around every edge of the rules: white space that is trimmed, control
    /// characters (some of them white space too), other characters.
    const ALPHABET: &[char] = &[
        'a', ' ', '@', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{0}', '\u{1}', '\u{1c}', '\u{7f}', '\u{85}', '\u{9f}',
        '\u{a0}', '\u{2028}', '\u{3000}', '\u{feff}', '\u{180e}', 'é',
    ];

    fn check(s: &str) -> Result<(), TestCaseError> {
        let matches = |pattern: &str| Regex::new(pattern).unwrap().is_match(s);
        prop_assert_eq!(matches(NAME_PATTERN), ProjectName::parse(s).is_ok(), "name {:?}", s);
        prop_assert_eq!(matches(LABEL_PATTERN), optional_label("l", Some(s), 100).is_ok(), "label {:?}", s);
        let description = Description::parse_optional(Some(s));
        prop_assert_eq!(matches(DESCRIPTION_PATTERN), description.is_ok(), "description {:?}", s);
        let required = description.is_ok_and(|d| d.is_some());
        prop_assert_eq!(matches(REQUIRED_DESCRIPTION_PATTERN), required, "required description {:?}", s);
        prop_assert_eq!(matches(EMAIL_PATTERN), Email::parse(s).is_ok(), "email {:?}", s);
        prop_assert_eq!(matches(SQL_PATTERN), query_text(s).is_ok(), "sql {:?}", s);
        Ok(())
    }

    proptest! {
        /// What a pattern accepts, the domain rule accepts (short of the length limits), and
        /// the other way round.
        #[test]
        fn the_patterns_say_what_the_domain_rules_accept(
            chars in prop::collection::vec(prop::sample::select(ALPHABET), 0..7),
        ) {
            check(&chars.iter().collect::<String>())?;
        }
    }

    #[test]
    fn the_patterns_agree_with_the_domain_on_chosen_cases() {
        for s in ["a", " a ", "", "\t a \n", "a\tb", "a@b", " a @ b ", "@b", "a@", "a@b@c", "\u{85}x\u{85}", "x\u{85}y"]
        {
            check(s).unwrap();
        }
    }

    #[test]
    fn uploaded_file_names_keep_only_their_last_component_without_control_characters() {
        assert_eq!(uploaded_file_name("transactions.csv").as_deref(), Some("transactions.csv"));
        assert_eq!(uploaded_file_name("C:\\Users\\me\\données 2024.csv").as_deref(), Some("données 2024.csv"));
        assert_eq!(uploaded_file_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(uploaded_file_name("a\u{0}b\r\n.csv").as_deref(), Some("ab.csv"));
        assert_eq!(uploaded_file_name("dir/"), None);
        assert_eq!(uploaded_file_name(".."), None);
        assert_eq!(uploaded_file_name(&"é".repeat(300)).map(|n| n.chars().count()), Some(MAX_FILE_NAME_CHARS));
    }

    #[test]
    fn every_rule_counts_characters_not_bytes() {
        let name = "é".repeat(NAME_RULE.max_chars);
        assert!(DatasetName::parse(&name).is_ok());
        assert!(DatasetName::parse(&format!("{name}é")).is_err());
    }
}
