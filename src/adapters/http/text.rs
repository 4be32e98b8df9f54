//! Text fields of JSON request bodies.
//!
//! poem-openapi's `String` also accepts a JSON number or boolean and turns it into text
//! (`{"name": false}` would create a project named `false`), although the document says
//! `type: string`. [`Text`] accepts JSON strings only; anything else is `400 bad_request`.
//!
//! The patterns below are the documented form of the domain's text rules
//! (`domain::names`): no control character (Unicode `Cc`: U+0000–U+001F, U+007F–U+009F),
//! except tab, line feed and carriage return in descriptions; required values hold a
//! character other than white space. They are literals in the `validator` attributes (which
//! take no constants): keep these copies and those in sync.

use std::borrow::Cow;
use std::ops::Deref;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// White space, as `str::trim` (Unicode `White_Space`) removes it from both ends first; spelled
/// out because `\s` means slightly different sets in the regex dialects of clients.
/// Required values need a character that is neither white space nor a control character.
///
/// A required single-line name.
pub const NAME_PATTERN: &str = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x1f\x7f-\x9f]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";
/// An optional single-line label (may be empty or blank: then it is absent).
pub const LABEL_PATTERN: &str = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x1f\x7f-\x9f]*[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";
/// An optional description: tab, line feed and carriage return are allowed.
pub const DESCRIPTION_PATTERN: &str = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";
/// An e-mail address: `local@domain`, each part holding a character other than white space.
pub const EMAIL_PATTERN: &str = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^@\x00-\x1f\x7f-\x9f]*[^@\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f][^@\x00-\x1f\x7f-\x9f]*@[^@\x00-\x1f\x7f-\x9f]*[^@\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f][^@\x00-\x1f\x7f-\x9f]*[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";
/// A required description.
pub const REQUIRED_DESCRIPTION_PATTERN: &str = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";

/// A JSON string, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl Text {
    pub fn into_string(self) -> String {
        self.0
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Type for Text {
    const IS_REQUIRED: bool = true;

    type RawValueType = String;

    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ParseFromJSON for Text {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Ok(Text(s)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for Text {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use regex::Regex;

    use super::*;
    use crate::domain::names::{Description, Email, ProjectName, optional_label};

    #[test]
    fn only_json_strings_are_text() {
        assert_eq!(Text::parse_from_json(Some(Value::String("x".into()))).ok(), Some(Text("x".into())));
        for other in
            [Value::Bool(false), serde_json::json!(1), serde_json::json!([]), serde_json::json!({}), Value::Null]
        {
            assert!(Text::parse_from_json(Some(other.clone())).is_err(), "{other}");
        }
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
}
