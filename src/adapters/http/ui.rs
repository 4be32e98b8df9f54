//! The web UI: the files of the repository's `ui/` folder, embedded in the binary and served
//! at `/ui` (`/` redirects there). The page calls only the public JSON API, with the key the
//! user pastes.
//!
//! - `GET /ui` (and `/ui/`): `index.html`, never cached, naming the assets under
//!   `/ui/assets/{version}/`, where `version` is a hash of every embedded file: a changed file
//!   changes every asset's address, so assets are cached for a year as `immutable`.
//! - `GET /ui/assets/{version}/{name}`: one asset; an unknown name or another version's
//!   address answers `404` in the API's error shape.
//! - Every answer carries [`CONTENT_SECURITY_POLICY`] and the usual hardening headers; a client
//!   that accepts gzip gets the gzip copy made once at first use.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, LazyLock};

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::Path;
use poem::{Endpoint, IntoResponse, Request, Response, Route, get, handler};
use poem_openapi::OperationId;
use sha2::{Digest, Sha256};

use super::errors::{ErrorCode, error_response};

/// The policy of every UI answer: scripts, styles, images and API calls from this server only;
/// no inline script or style attribute, no `eval`, no plugins, no `<base>`, forms posted only
/// here, and no page may frame the UI.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const JS: &str = "text/javascript; charset=utf-8";

/// Declares the embedded files: `(name, content type, bytes)`.
macro_rules! ui_files {
    ($(($name:literal, $type:expr)),* $(,)?) => {
        &[$(($name, $type, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/", $name)) as &[u8])),*]
    };
}

/// Every file of `ui/` but `index.html` (a test checks that the folder holds no other).
pub const ASSETS: &[(&str, &str, &[u8])] = ui_files![
    ("app.css", "text/css; charset=utf-8"),
    ("icon.svg", "image/svg+xml"),
    ("api.js", JS),
    ("charts.js", JS),
    ("dom.js", JS),
    ("layout.js", JS),
    ("main.js", JS),
    ("versions.js", JS),
    ("page-columns.js", JS),
    ("page-compare.js", JS),
    ("page-dataset.js", JS),
    ("page-datasets.js", JS),
    ("page-lineage.js", JS),
    ("page-rows.js", JS),
    ("page-signin.js", JS),
    ("page-upload.js", JS),
];

const INDEX_TEMPLATE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/index.html"));

/// One file as served: its bytes, and a gzip copy when that is smaller.
struct Body {
    content_type: &'static str,
    plain: Vec<u8>,
    gzip: Option<Vec<u8>>,
}

impl Body {
    fn new(content_type: &'static str, plain: Vec<u8>) -> Self {
        let gzip = gzip(&plain).filter(|packed| packed.len() < plain.len());
        Body { content_type, plain, gzip }
    }
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

/// The UI as served: the version of the embedded files, the index naming it, the assets.
struct Bundle {
    version: String,
    index: Body,
    assets: HashMap<&'static str, Body>,
}

/// The hash of every embedded file (names, lengths and bytes), 16 hex digits.
pub fn bundle_version() -> String {
    let mut sha = Sha256::new();
    for (name, _, bytes) in ASSETS.iter().copied().chain([("index.html", "", INDEX_TEMPLATE.as_bytes())]) {
        sha.update((name.len() as u64).to_le_bytes());
        sha.update(name.as_bytes());
        sha.update((bytes.len() as u64).to_le_bytes());
        sha.update(bytes);
    }
    hex::encode(sha.finalize())[..16].to_string()
}

/// Where the assets of this build are served.
pub fn assets_path() -> String {
    format!("/ui/assets/{}", BUNDLE.version)
}

static BUNDLE: LazyLock<Bundle> = LazyLock::new(|| {
    let version = bundle_version();
    let index = INDEX_TEMPLATE.replace("{{assets}}", &format!("/ui/assets/{version}"));
    let assets =
        ASSETS.iter().map(|(name, content_type, bytes)| (*name, Body::new(content_type, bytes.to_vec()))).collect();
    Bundle { version, index: Body::new("text/html; charset=utf-8", index.into_bytes()), assets }
});

/// Whether the request's `Accept-Encoding` accepts gzip (RFC 9110 §12.5.3): named with a
/// weight above 0, or not named and `*` accepted; `gzip;q=0` refuses it whatever `*` says.
fn accepts_gzip(req: &Request) -> bool {
    let Some(value) = req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let weight_of = |coding: &str| {
        value.split(',').find_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            if !parts.next().unwrap_or_default().eq_ignore_ascii_case(coding) {
                return None;
            }
            let q = parts.find_map(|p| p.strip_prefix("q=")).map_or(Some(1.0), |q| q.parse::<f32>().ok());
            Some(q.unwrap_or(0.0))
        })
    };
    match weight_of("gzip") {
        Some(q) => q > 0.0,
        None => weight_of("*").is_some_and(|q| q > 0.0),
    }
}

/// Adds the policy and hardening headers every UI answer carries.
fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut poem::http::HeaderMap, name, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    response.set_data(OperationId("ui"));
    response
}

/// Answers with `body` (served from the static bundle: nothing is copied).
fn serve(req: &Request, body: &'static Body, cache_control: &'static str) -> Response {
    let mut builder = Response::builder()
        .content_type(body.content_type)
        .header(header::CACHE_CONTROL, cache_control)
        .header(header::VARY, "Accept-Encoding");
    let bytes = match &body.gzip {
        Some(packed) if accepts_gzip(req) => {
            builder = builder.header(header::CONTENT_ENCODING, "gzip");
            packed.as_slice()
        }
        _ => body.plain.as_slice(),
    };
    harden(builder.body(bytes))
}

/// `GET /ui`: the page.
#[handler]
fn serve_index(req: &Request) -> Response {
    serve(req, &BUNDLE.index, "no-cache")
}

/// `GET /ui/assets/{version}/{name}`: one asset of this build.
#[handler]
fn serve_asset(req: &Request, Path((version, name)): Path<(String, String)>) -> Response {
    match BUNDLE.assets.get(name.as_str()) {
        Some(body) if version == BUNDLE.version => serve(req, body, "public, max-age=31536000, immutable"),
        _ => harden(error_response(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such file of the UI")),
    }
}

/// Answers `GET /` (and `HEAD /`) with a redirect to the UI, other methods on `/` with `405`,
/// and passes every other request on. (A middleware: the API is nested at `/`, so poem's
/// router cannot also route `/` itself.)
pub async fn redirect_root<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    if req.uri().path() != "/" {
        return Ok(next.call(req).await?.into_response());
    }
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return Ok(harden(Response::builder().status(StatusCode::FOUND).header(header::LOCATION, "/ui/").finish()));
    }
    let message = format!("{} is not allowed on /", req.method());
    Ok(error_response(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed, &message))
}

/// The UI's routes, to nest at `/ui`.
pub fn routes() -> Route {
    Route::new().at("/", get(serve_index)).at("/assets/:version/:name", get(serve_asset))
}

/// The UI's routes outside the OpenAPI document, for the `Allow` table.
pub const ROUTE_TEMPLATES: &[(&str, &[&str])] =
    &[("/", &["GET"]), ("/ui", &["GET"]), ("/ui/assets/{version}/{name}", &["GET"])];

#[cfg(test)]
mod tests {
    use super::*;

    fn request(accept_encoding: &str) -> Request {
        Request::builder().header(header::ACCEPT_ENCODING, accept_encoding).finish()
    }

    #[test]
    fn gzip_is_sent_only_to_clients_that_accept_it() {
        assert!(accepts_gzip(&request("gzip, deflate, br")));
        assert!(accepts_gzip(&request("br;q=1.0, gzip;q=0.8")));
        assert!(accepts_gzip(&request("*")));
        assert!(!accepts_gzip(&request("gzip;q=0")));
        assert!(!accepts_gzip(&request("gzip;q=0, *")));
        assert!(!accepts_gzip(&request("*;q=0")));
        assert!(!accepts_gzip(&request("br, deflate")));
        assert!(!accepts_gzip(&Request::builder().finish()));
    }

    #[test]
    fn every_file_of_the_ui_folder_is_embedded() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut on_disk: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != "index.html")
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|(name, _, _)| name.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "list every file of ui/ in ASSETS");
    }

    #[test]
    fn the_index_names_the_assets_of_this_build_only() {
        let index = String::from_utf8(BUNDLE.index.plain.clone()).unwrap();
        assert!(!index.contains("{{"), "a placeholder was left: {index}");
        assert!(index.contains(&format!("src=\"/ui/assets/{}/main.js\"", BUNDLE.version)));
        assert!(index.contains(&format!("href=\"/ui/assets/{}/app.css\"", BUNDLE.version)));
    }

    #[test]
    fn the_ui_has_no_inline_script_or_style_for_the_policy_to_block() {
        let index = INDEX_TEMPLATE.to_ascii_lowercase();
        assert_eq!(index.matches("<script").count(), index.matches("<script type=\"module\" src=").count());
        let handler_attribute = index.split(" on").skip(1).any(|rest| {
            let name_end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
            name_end > 0 && rest[name_end..].starts_with('=')
        });
        assert!(
            !index.contains("<style") && !index.contains(" style=") && !handler_attribute,
            "inline code in index.html"
        );
        for (name, _, bytes) in ASSETS.iter().filter(|(name, _, _)| name.ends_with(".js")) {
            let text = std::str::from_utf8(bytes).unwrap();
            let forbidden_apis = [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "DOMParser",
                "createContextualFragment",
                "setHTMLUnsafe",
                "srcdoc",
                "eval(",
                "new Function",
                "setAttribute(\"style\"",
                "style: ",
            ];
            for forbidden in forbidden_apis {
                assert!(!text.contains(forbidden), "{name} uses {forbidden}: data must be rendered as text");
            }
        }
    }

    #[test]
    fn the_compressed_assets_fit_in_300_kb() {
        let total: usize = BUNDLE
            .assets
            .values()
            .chain([&BUNDLE.index])
            .map(|body| body.gzip.as_ref().map_or(body.plain.len(), Vec::len))
            .sum();
        assert!(total <= 300_000, "the UI is {total} bytes compressed");
    }
}
