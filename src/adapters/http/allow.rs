//! `405 Method Not Allowed` answers carry an `Allow` header (RFC 9110 §15.5.6) naming the
//! methods the path has. poem's router does not say which methods those are, so they are read
//! once from the OpenAPI document (plus the routes outside it) and matched against the path.

use std::collections::BTreeSet;

use poem::http::header::ALLOW;
use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

/// Every route template and its methods.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<Segment>, BTreeSet<&'static str>)>,
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .trim_matches('/')
        .split('/')
        .map(|s| {
            if (s.starts_with('{') && s.ends_with('}')) || s.starts_with(':') {
                Segment::Parameter
            } else {
                Segment::Literal(s.to_string())
            }
        })
        .collect()
}

fn method_name(method: &str) -> Option<&'static str> {
    Some(match method.to_ascii_lowercase().as_str() {
        "get" => "GET",
        "post" => "POST",
        "put" => "PUT",
        "patch" => "PATCH",
        "delete" => "DELETE",
        "options" => "OPTIONS",
        _ => return None,
    })
}

impl RouteTable {
    /// The routes of an OpenAPI document (JSON), and `extra` routes outside it (path templates
    /// in either `{name}` or `:name` form, with upper-case methods).
    pub fn from_openapi(document: &str, extra: &[(&str, &[&'static str])]) -> Self {
        let mut table = RouteTable::default();
        let parsed: serde_json::Value = serde_json::from_str(document).unwrap_or_default();
        if let Some(paths) = parsed["paths"].as_object() {
            for (path, operations) in paths {
                let methods = operations.as_object().into_iter().flatten().filter_map(|(m, _)| method_name(m));
                table.add(path, methods);
            }
        }
        for (path, methods) in extra {
            table.add(path, methods.iter().copied());
        }
        table
    }

    fn add(&mut self, template: &str, methods: impl IntoIterator<Item = &'static str>) {
        let mut set: BTreeSet<&'static str> = methods.into_iter().collect();
        // poem answers HEAD with the GET endpoint.
        if set.contains("GET") {
            set.insert("HEAD");
        }
        self.routes.push((segments(template), set));
    }

    /// The methods of the route matching `path`, as an `Allow` value; literal segments win over
    /// parameters, as in poem's router.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let wanted: Vec<&str> = path.trim_matches('/').split('/').collect();
        let matches = |template: &[Segment]| {
            template.len() == wanted.len()
                && template.iter().zip(&wanted).all(|(t, w)| match t {
                    Segment::Literal(l) => l == w,
                    Segment::Parameter => !w.is_empty(),
                })
        };
        let literals = |template: &[Segment]| template.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        let (_, methods) = self.routes.iter().filter(|(t, _)| matches(t)).max_by_key(|(t, _)| literals(t))?;
        Some(methods.iter().copied().collect::<Vec<_>>().join(", "))
    }
}

/// Middleware (used with `EndpointExt::around`): adds `Allow` to a 405 answer that lacks one.
pub async fn add_allow<E: Endpoint>(next: E, req: Request, table: &RouteTable) -> Result<Response> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let mut response = match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    if response.status() == StatusCode::METHOD_NOT_ALLOWED && !response.headers().contains_key(ALLOW) {
        match table.allowed(&path).and_then(|a| HeaderValue::from_str(&a).ok()) {
            Some(value) => {
                response.headers_mut().insert(ALLOW, value);
            }
            None => tracing::debug!(%method, path = %path, "a 405 answer for a path with no known methods"),
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let doc = serde_json::json!({"paths": {
            "/api/datasets/{dataset_id}": {"get": {}, "delete": {}},
            "/api/datasets/upload": {"post": {}},
            "/api/datasets": {"get": {}},
        }});
        RouteTable::from_openapi(&doc.to_string(), &[("/metrics", &["GET"])])
    }

    #[test]
    fn the_methods_of_the_matching_route_are_allowed() {
        let t = table();
        assert_eq!(t.allowed("/api/datasets/0190-abc").as_deref(), Some("DELETE, GET, HEAD"));
        assert_eq!(t.allowed("/api/datasets").as_deref(), Some("GET, HEAD"));
        assert_eq!(t.allowed("/metrics").as_deref(), Some("GET, HEAD"));
        assert_eq!(t.allowed("/nowhere"), None);
    }

    #[test]
    fn a_literal_segment_wins_over_a_parameter() {
        assert_eq!(table().allowed("/api/datasets/upload").as_deref(), Some("POST"));
    }

    #[test]
    fn methods_outside_the_document_are_ignored() {
        let doc = serde_json::json!({"paths": {"/x": {"get": {}, "parameters": [], "summary": "s"}}});
        assert_eq!(RouteTable::from_openapi(&doc.to_string(), &[]).allowed("/x").as_deref(), Some("GET, HEAD"));
    }
}
