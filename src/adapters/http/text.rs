//! Text fields of JSON request bodies.
//!
//! poem-openapi's `String` also accepts a JSON number or boolean and turns it into text
//! (`{"name": false}` would create a project named `false`), although the document says
//! `type: string`. [`Text`] accepts JSON strings only; anything else is `400 bad_request`.
//!
//! [`RuledText`] is a [`Text`] documented by one of the domain's [`TextRule`]s (`maxLength`,
//! `minLength`, `pattern`), so the document says exactly what the domain's constructors check.
//! It refuses a value longer or shorter than the rule while the body is parsed, as the
//! document says; the rest of the rule (the pattern) is the domain constructor's to check,
//! once (both answer `400 bad_request`).

use std::borrow::Cow;
use std::marker::PhantomData;
use std::ops::Deref;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use crate::domain::names::{self, TextRule};

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

/// Names a [`TextRule`] at the type level.
pub trait Rule: Send + Sync + 'static {
    /// The name of the schema (unique per rule).
    const NAME: &'static str;
    const RULE: TextRule;
}

macro_rules! rules {
    ($($(#[$doc:meta])* $ty:ident = $rule:path;)*) => {$(
        $(#[$doc])*
        pub struct $ty;

        impl Rule for $ty {
            const NAME: &'static str = stringify!($ty);
            const RULE: TextRule = $rule;
        }
    )*};
}

rules! {
    /// [`names::NAME_RULE`].
    NameRule = names::NAME_RULE;
    /// [`names::DESCRIPTION_RULE`].
    DescriptionRule = names::DESCRIPTION_RULE;
    /// [`names::EMAIL_RULE`].
    EmailRule = names::EMAIL_RULE;
    /// [`names::TARGET_COLUMN_RULE`].
    TargetColumnRule = names::TARGET_COLUMN_RULE;
    /// [`names::PROBLEM_TYPE_RULE`].
    ProblemTypeRule = names::PROBLEM_TYPE_RULE;
    /// [`names::STAGE_RULE`].
    StageRule = names::STAGE_RULE;
    /// [`names::SQL_RULE`].
    SqlRule = names::SQL_RULE;
    /// [`names::IDEMPOTENCY_KEY_RULE`].
    IdempotencyKeyRule = names::IDEMPOTENCY_KEY_RULE;
    /// [`names::ALIAS_RULE`].
    AliasRule = names::ALIAS_RULE;
}

/// The schema of a text field under `rule`, with `description`.
pub fn rule_schema(rule: TextRule, description: Option<&'static str>) -> MetaSchema {
    MetaSchema {
        description,
        min_length: (rule.min_chars > 0).then_some(rule.min_chars),
        max_length: Some(rule.max_chars),
        pattern: Some(rule.pattern.to_string()),
        ..MetaSchema::new("string")
    }
}

/// A JSON string documented, and bounded in length, by the rule `R`.
pub struct RuledText<R: Rule>(String, PhantomData<R>);

impl<R: Rule> RuledText<R> {
    pub fn into_string(self) -> String {
        self.0
    }

    /// A value for the document's examples (not checked: examples are written to fit).
    pub(super) fn example(text: &str) -> Self {
        Self(text.to_string(), PhantomData)
    }
}

impl<R: Rule> std::fmt::Debug for RuledText<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<R: Rule> Deref for RuledText<R> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<R: Rule> Type for RuledText<R> {
    const IS_REQUIRED: bool = true;

    type RawValueType = String;

    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        format!("string({})", R::NAME).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(rule_schema(R::RULE, None)))
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

impl<R: Rule> ParseFromJSON for RuledText<R> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let Text(s) = Text::parse_from_json(value).map_err(ParseError::propagate)?;
        let chars = s.chars().count();
        let rule = R::RULE;
        if chars > rule.max_chars {
            return Err(ParseError::custom(format!("at most {} characters", rule.max_chars)));
        }
        if chars < rule.min_chars {
            return Err(ParseError::custom(format!("at least {} character(s)", rule.min_chars)));
        }
        Ok(Self(s, PhantomData))
    }
}

/// As a header or path parameter: the text as sent, bounded in length like a JSON value.
impl<R: Rule> poem_openapi::types::ParseFromParameter for RuledText<R> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Self::parse_from_json(Some(Value::String(value.to_string()))).map_err(ParseError::propagate)
    }
}

impl<R: Rule> ToJSON for RuledText<R> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_strings_are_text() {
        assert_eq!(Text::parse_from_json(Some(Value::String("x".into()))).ok(), Some(Text("x".into())));
        for other in
            [Value::Bool(false), serde_json::json!(1), serde_json::json!([]), serde_json::json!({}), Value::Null]
        {
            assert!(Text::parse_from_json(Some(other.clone())).is_err(), "{other}");
        }
    }

    #[test]
    fn ruled_text_refuses_values_outside_its_length_limits_as_sent() {
        let parse = |s: String| RuledText::<StageRule>::parse_from_json(Some(Value::String(s)));
        assert!(parse("x".repeat(64)).is_ok());
        assert!(parse("é".repeat(64)).is_ok(), "characters are counted, not bytes");
        assert!(parse(format!("{} ", "x".repeat(64))).is_err(), "the limit applies before trimming");
        assert!(parse(String::new()).is_err(), "a stage is required");
        assert!(RuledText::<ProblemTypeRule>::parse_from_json(Some(Value::String(String::new()))).is_ok());
        assert!(RuledText::<NameRule>::parse_from_json(Some(serde_json::json!(7))).is_err());
    }
}
