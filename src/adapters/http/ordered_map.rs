//! A JSON object whose keys keep their order (column order, or most frequent first), typed in
//! the OpenAPI document as an object whose values are all `V`.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V: Type> Type for OrderedMap<V> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = V::RawValueType;

    fn name() -> Cow<'static, str> {
        format!("map_{}", V::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut values = V::schema_ref();
        // Optional values (`Option<T>`) are written as null: say so in the schema.
        if let (false, MetaSchemaRef::Inline(schema)) = (V::IS_REQUIRED, &mut values) {
            schema.nullable = true;
        }
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            additional_properties: Some(Box::new(values)),
            ..MetaSchema::new("object")
        }))
    }

    fn register(registry: &mut Registry) {
        V::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.0.iter().filter_map(|(_, v)| v.as_raw_value()))
    }
}

impl<V: ToJSON> ToJSON for OrderedMap<V> {
    fn to_json(&self) -> Option<Value> {
        let mut map = Map::with_capacity(self.0.len());
        for (key, value) in &self.0 {
            map.insert(key.clone(), value.to_json().unwrap_or(Value::Null));
        }
        Some(Value::Object(map))
    }
}

impl<V: ParseFromJSON> ParseFromJSON for OrderedMap<V> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| V::parse_from_json(Some(v)).map(|v| (k, v)).map_err(ParseError::propagate))
                .collect::<Result<Vec<_>, _>>()
                .map(OrderedMap),
            other => Err(ParseError::expected_type(other)),
        }
    }
}
