//! The `version` query parameter of the read routes: a version number, `latest` (the
//! default) or an alias, parsed by the domain's one rule ([`VersionRef::parse`]).

use poem_openapi::registry::MetaSchema;
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, ToJSON};
use serde_json::Value;

use crate::domain::version_ref::VersionRef;

/// Which version a read route answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionParam(pub VersionRef);

impl Default for VersionParam {
    fn default() -> Self {
        Self(VersionRef::Latest)
    }
}

value_type!(
    VersionParam,
    "version",
    MetaSchema {
        description: Some(
            "A version number (0, 1, 2, …), `latest` (the newest version) or an alias (the version it points at when the request is served)."
        ),
        default: Some(Value::String("latest".into())),
        example: Some(Value::String("0".into())),
        ..MetaSchema::new("string")
    }
);

impl ParseFromParameter for VersionParam {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        VersionRef::parse(value).map(Self).map_err(|e| ParseError::custom(e.to_string()))
    }
}

impl ToJSON for VersionParam {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.to_string()))
    }
}
