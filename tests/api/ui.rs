//! The web UI's routes: `/` redirects to `/ui/`, the page and its assets are served without a
//! key (they hold no data: the page calls the API with the user's key), under the policy, with
//! the caching their addresses allow.

use std::io::Read;

use crate::helpers::*;

/// The address of `main.js` that the page names.
fn main_js_of(page: &str) -> String {
    let start = page.find("src=\"/ui/assets/").expect("the page loads a script from its assets") + "src=\"".len();
    let end = start + page[start..].find('"').expect("a closing quote");
    assert!(page[start..end].ends_with("/main.js"), "{}", &page[start..end]);
    page[start..end].to_string()
}

#[tokio::test]
async fn the_root_redirects_to_the_ui_and_the_ui_is_served_without_a_key() {
    let app = spawn_app().await;
    let root = app.send(app.client.get("/")).await;
    assert_eq!(root.status.as_u16(), 302);
    assert_eq!(root.headers["location"], "/ui/");
    for path in ["/ui", "/ui/"] {
        let page = app.send(app.client.get(path)).await;
        assert_eq!(page.status.as_u16(), 200, "{path}");
        assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
        assert_eq!(page.headers["cache-control"], "no-cache");
        let policy = page.headers["content-security-policy"].to_str().unwrap();
        for part in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(part), "{policy} lacks {part}");
        }
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(page.headers["x-content-type-options"], "nosniff");
        assert_eq!(page.headers["x-frame-options"], "DENY");
        assert!(page.text().contains("<script type=\"module\" src=\"/ui/assets/"));
    }
}

#[tokio::test]
async fn assets_are_immutable_under_the_hash_of_this_build_and_others_are_not_found() {
    let app = spawn_app().await;
    let page = app.send(app.client.get("/ui/")).await.text();
    let main_js = main_js_of(&page);
    let asset = app.send(app.client.get(&main_js)).await;
    assert_eq!(asset.status.as_u16(), 200);
    assert!(asset.headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert_eq!(asset.headers["cache-control"], "public, max-age=31536000, immutable");
    assert!(asset.headers.contains_key("content-security-policy"));
    assert!(asset.text().contains("import"), "main.js is the UI's entry module");

    let version = main_js.trim_start_matches("/ui/assets/").split('/').next().unwrap().to_string();
    let stale = app.send(app.client.get("/ui/assets/0000000000000000/main.js")).await;
    stale.expect_error(404, "not_found");
    let unknown = app.send(app.client.get(format!("/ui/assets/{version}/secrets.js"))).await;
    unknown.expect_error(404, "not_found");
    let traversal = app.send(app.client.get(format!("/ui/assets/{version}/..%2F..%2FCargo.toml"))).await;
    traversal.expect_error(404, "not_found");
}

#[tokio::test]
async fn a_client_that_accepts_gzip_gets_the_same_bytes_compressed() {
    let app = spawn_app().await;
    let page = app.send(app.client.get("/ui/")).await.text();
    let main_js = main_js_of(&page);
    let plain = app.send(app.client.get(&main_js)).await;
    assert!(!plain.headers.contains_key("content-encoding"));
    let packed = app.send(app.client.get(&main_js).header("Accept-Encoding", "gzip, br")).await;
    assert_eq!(packed.headers["content-encoding"], "gzip");
    assert_eq!(packed.headers["vary"], "Accept-Encoding");
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&packed.body[..]).read_to_end(&mut unpacked).unwrap();
    assert_eq!(unpacked, plain.body.to_vec());
}

#[tokio::test]
async fn other_methods_on_ui_routes_answer_405_with_allow() {
    let app = spawn_app().await;
    for path in ["/", "/ui"] {
        let reply = app.send(app.client.post(path)).await;
        reply.expect_error(405, "method_not_allowed");
        assert_eq!(reply.headers.get("allow").and_then(|v| v.to_str().ok()), Some("GET, HEAD"), "{path}");
    }
}
