//! Timestamps in responses: RFC 3339 in UTC with a `Z` suffix, as the spec's examples show
//! (`2026-02-12T08:00:00Z`; fractions of a second only when there are any).

use chrono::{DateTime, SecondsFormat, Utc};
use poem_openapi::registry::MetaSchema;
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime(pub DateTime<Utc>);

impl From<DateTime<Utc>> for UtcTime {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t)
    }
}

value_type!(
    UtcTime,
    "string_date-time",
    MetaSchema {
        example: Some(Value::String("2026-02-12T08:00:00Z".into())),
        ..MetaSchema::new_with_format("string", "date-time")
    }
);

impl ToJSON for UtcTime {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
    }
}

impl ParseFromJSON for UtcTime {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => DateTime::parse_from_rfc3339(&s)
                .map(|t| Self(t.with_timezone(&Utc)))
                .map_err(|e| ParseError::custom(e.to_string())),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_end_in_z_with_fractions_only_when_present() {
        let t = DateTime::parse_from_rfc3339("2026-02-12T08:00:00+00:00").unwrap().with_timezone(&Utc);
        assert_eq!(UtcTime(t).to_json(), Some(Value::String("2026-02-12T08:00:00Z".into())));
        let t = t + chrono::Duration::microseconds(1500);
        assert_eq!(UtcTime(t).to_json(), Some(Value::String("2026-02-12T08:00:00.001500Z".into())));
    }
}
