//! The OpenAPI document as served: poem-openapi's, with the API contract's example responses
//! attached to their operations, and one shape rewritten for client generators.
//!
//! Examples: every `METHOD /path` of `docs/spec/datasets-api.rst` with a `**Response**` and a
//! JSON block gives that response's `example` (the spec's own figures, so Swagger UI and
//! generated clients show what the contract shows).
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

/// The API contract, whose example responses the document carries.
const CONTRACT: &str = include_str!("../../../docs/spec/datasets-api.rst");

/// One example response of the contract.
#[derive(Debug, PartialEq)]
pub struct SpecExample {
    /// Lower-case HTTP method.
    pub method: String,
    /// The path template, without its query string.
    pub path: String,
    /// The status code, e.g. `200`.
    pub status: String,
    pub body: Value,
}

/// The example responses of a reStructuredText contract: each `METHOD /path` line, then the
/// first `**Response** ``NNN …``` after it and the JSON code block that follows.
pub fn spec_examples(rst: &str) -> Vec<SpecExample> {
    const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    let lines: Vec<&str> = rst.lines().collect();
    let mut out = Vec::new();
    let mut endpoint: Option<(String, String)> = None;
    let mut status: Option<String> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if let Some((method, path)) = line.split_once(' ') {
            if METHODS.contains(&method) && path.starts_with('/') && !path.contains(' ') {
                let path = path.split('?').next().unwrap_or(path);
                endpoint = Some((method.to_ascii_lowercase(), path.to_string()));
                status = None;
            }
        }
        if line.starts_with("**Response**") {
            status = line.split("``").nth(1).and_then(|s| s.split_whitespace().next()).map(str::to_string);
        }
        if line == ".. code-block:: json" {
            let mut end = i + 1;
            let mut body = String::new();
            while end < lines.len() && (lines[end].trim().is_empty() || lines[end].starts_with(' ')) {
                body.push_str(lines[end]);
                body.push('\n');
                end += 1;
            }
            if let (Some((method, path)), Some(code)) = (&endpoint, status.take()) {
                if let Ok(body) = serde_json::from_str(&body) {
                    out.push(SpecExample { method: method.clone(), path: path.clone(), status: code, body });
                }
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

/// Sets each example as its response's JSON example, where the document has that operation,
/// status and a JSON media type.
fn attach_examples(doc: &mut Value, examples: Vec<SpecExample>) {
    for example in examples {
        let content = doc
            .get_mut("paths")
            .and_then(|p| p.get_mut(&example.path))
            .and_then(|p| p.get_mut(&example.method))
            .and_then(|o| o.get_mut("responses"))
            .and_then(|r| r.get_mut(&example.status))
            .and_then(|r| r.get_mut("content"))
            .and_then(Value::as_object_mut);
        let Some(content) = content else { continue };
        for (media_type, media) in content.iter_mut() {
            if let (true, Some(media)) = (media_type.starts_with("application/json"), media.as_object_mut()) {
                media.insert("example".into(), example.body.clone());
            }
        }
    }
}

/// poem-openapi's JSON document `spec`, with the contract's examples attached and rewritten
/// by [`lift_allof_annotations`].
pub fn for_generators(spec: &str) -> String {
    let mut doc: Value = serde_json::from_str(spec).expect("poem-openapi writes valid JSON");
    attach_examples(&mut doc, spec_examples(CONTRACT));
    lift_allof_annotations(&mut doc);
    serde_json::to_string_pretty(&doc).expect("a JSON value serializes")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn annotations_beside_a_ref_move_out_of_the_all_of() {
        let mut doc =
            json!({"schema": {"default": "a", "allOf": [{"$ref": "#/E"}, {"default": "a", "description": "d"}]}});
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
    fn the_contract_gives_an_example_response_for_each_of_its_endpoints() {
        let examples = spec_examples(CONTRACT);
        let find = |m: &str, p: &str| examples.iter().find(|e| e.method == m && e.path == p);
        let upload = find("post", "/api/datasets/upload").expect("the upload example");
        assert_eq!(upload.status, "201");
        assert_eq!(upload.body["quality"]["overall_score"], 92.5);
        let compare = find("get", "/api/datasets/{dataset_id}/compare").expect("the query string is dropped");
        assert_eq!(compare.status, "200");
        // 13 endpoints; the download answers a file, not JSON.
        assert_eq!(examples.len(), 12, "{examples:#?}");
    }

    #[test]
    fn served_document_carries_the_examples() {
        let doc: Value = serde_json::from_str(&crate::adapters::http::openapi_json()).unwrap();
        let ok = &doc["paths"]["/api/datasets/{dataset_id}/columns"]["get"]["responses"]["200"]["content"];
        let example = ok.as_object().unwrap().values().find_map(|m| m.get("example")).expect("an example");
        assert_eq!(example["columns"][0]["name"], "amount");
    }

    #[test]
    fn nested_schemas_are_rewritten_too() {
        let mut doc = json!({"a": [{"b": {"allOf": [{"$ref": "#/S"}, {"nullable": true}]}}]});
        lift_allof_annotations(&mut doc);
        assert_eq!(doc, json!({"a": [{"b": {"allOf": [{"$ref": "#/S"}], "nullable": true}}]}));
    }
}
