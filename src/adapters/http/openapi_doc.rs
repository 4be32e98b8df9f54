//! The OpenAPI document as served: poem-openapi's, with one shape rewritten for client
//! generators.
//!
//! poem-openapi writes a `$ref` that carries a default, a description or `nullable` as
//! `allOf: [{"$ref": …}, {"default": …}]`. Client generators (openapi-python-client 0.29)
//! cannot take `allOf` of a non-object (our enums) and skip the whole operation. Here the
//! `$ref` stays alone in the `allOf` and the annotations move beside it, where every tool
//! reads them; the meaning is the same.

use serde_json::Value;

/// Annotations that may be lifted out of an `allOf` next to a `$ref`.
const LIFTABLE: [&str; 3] = ["default", "description", "nullable"];

/// Rewrites every `allOf: [{$ref}, {annotations…}]` in `doc` as `allOf: [{$ref}]` with the
/// annotations on the enclosing schema (an annotation already there is kept).
pub fn lift_allof_annotations(doc: &mut Value) {
    match doc {
        Value::Object(map) => {
            let lifted: Vec<(String, Value)> = match map.get_mut("allOf") {
                Some(Value::Array(all))
                    if all.len() > 1
                        && all[0].get("$ref").is_some()
                        && all[1..].iter().all(|extra| {
                            extra.as_object().is_some_and(|o| o.keys().all(|k| LIFTABLE.contains(&k.as_str())))
                        }) =>
                {
                    all.drain(1..)
                        .flat_map(|extra| match extra {
                            Value::Object(o) => o.into_iter().collect::<Vec<_>>(),
                            _ => Vec::new(),
                        })
                        .collect()
                }
                _ => Vec::new(),
            };
            for (key, value) in lifted {
                map.entry(key).or_insert(value);
            }
            map.values_mut().for_each(lift_allof_annotations);
        }
        Value::Array(items) => items.iter_mut().for_each(lift_allof_annotations),
        _ => {}
    }
}

/// poem-openapi's JSON document `spec`, rewritten by [`lift_allof_annotations`].
pub fn for_generators(spec: &str) -> String {
    let mut doc: Value = serde_json::from_str(spec).expect("poem-openapi writes valid JSON");
    lift_allof_annotations(&mut doc);
    serde_json::to_string_pretty(&doc).expect("a JSON value serializes")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn annotations_beside_a_ref_move_out_of_the_all_of() {
        let mut doc = json!({"schema": {"default": "a", "allOf": [{"$ref": "#/E"}, {"default": "a", "description": "d"}]}});
        lift_allof_annotations(&mut doc);
        assert_eq!(doc, json!({"schema": {"default": "a", "allOf": [{"$ref": "#/E"}], "description": "d"}}));
    }

    #[test]
    fn an_all_of_of_real_schemas_is_left_alone() {
        let original = json!({"allOf": [{"$ref": "#/A"}, {"type": "object", "properties": {}}]});
        let mut doc = original.clone();
        lift_allof_annotations(&mut doc);
        assert_eq!(doc, original);
    }

    #[test]
    fn nested_schemas_are_rewritten_too() {
        let mut doc = json!({"a": [{"b": {"allOf": [{"$ref": "#/S"}, {"nullable": true}]}}]});
        lift_allof_annotations(&mut doc);
        assert_eq!(doc, json!({"a": [{"b": {"allOf": [{"$ref": "#/S"}], "nullable": true}}]}));
    }
}
