//! The binary's command line: help, the OpenAPI document, admin-key recovery, bad settings.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_datasets-api");

fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(BIN);
    command.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the binary runs")
}

#[test]
fn help_documents_every_setting() {
    let out = run(&["--help"], &[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for (name, _) in datasets_api::config::SETTINGS {
        assert!(text.contains(name), "--help lacks {name}");
    }
    assert!(text.contains("create-admin-key"));
}

#[test]
fn print_openapi_prints_the_document_without_starting_a_server() {
    let out = run(&["--print-openapi"], &[]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim_end(),
        datasets_api::adapters::http::openapi_json().trim_end()
    );
}

#[test]
fn a_bad_setting_stops_the_server_with_one_line_naming_it() {
    let out = run(&[], &[("MAX_DATASET_UPLOAD_BYTES", "lots")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("MAX_DATASET_UPLOAD_BYTES"), "{err}");
}

#[tokio::test]
async fn create_admin_key_prints_a_working_admin_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let storage = dir.path().join("artifacts").display().to_string();
    let spool = dir.path().join("spool").display().to_string();
    let env = [("DATABASE_URL", db.as_str()), ("STORAGE_URL", storage.as_str()), ("SPOOL_DIR", spool.as_str())];
    let first = run(&["create-admin-key"], &env);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let second = run(&["create-admin-key"], &env);
    let (k1, k2) = (String::from_utf8(first.stdout).unwrap(), String::from_utf8(second.stdout).unwrap());
    let (k1, k2) = (k1.trim(), k2.trim());
    assert!(k1.starts_with("dsk_") && k2.starts_with("dsk_") && k1 != k2);

    let settings =
        datasets_api::config::Settings::from_map(&env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
            .unwrap();
    let (app, _) = datasets_api::server::build_app(&settings).await.unwrap();
    for key in [k1, k2] {
        let principal = app.authenticate(key).await.unwrap().expect("the key authenticates");
        assert!(principal.is_admin);
    }
}

/// Sends one HTTP/1.1 request over a plain TCP connection and returns the raw response.
fn http_get(addr: &str, path: &str, request_id: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nX-Request-Id: {request_id}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn the_server_logs_json_lines_with_the_request_id_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .env_clear()
        .env("BIND_ADDR", &addr)
        .env("DATABASE_URL", format!("sqlite://{}", dir.path().join("s.db").display()))
        .env("STORAGE_URL", dir.path().join("artifacts"))
        .env("SPOOL_DIR", dir.path().join("spool"))
        .env("ADMIN_API_KEY", "json-log-test-admin-key")
        .env("LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the server starts");
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the server did not listen");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let response = http_get(&addr, "/health", "trace-42");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.to_ascii_lowercase().contains("x-request-id: trace-42"), "{response}");

    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "SIGTERM ends the server cleanly: {:?}", output.status);
    let logs = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<serde_json::Value> =
        logs.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l}"))).collect();
    let request = lines
        .iter()
        .find(|l| l["fields"]["request_id"] == "trace-42")
        .unwrap_or_else(|| panic!("no log line of the request in\n{logs}"));
    assert_eq!(request["fields"]["status"], 200);
    assert_eq!(request["fields"]["path"], "/health");
    assert!(!logs.contains("json-log-test-admin-key"), "the admin key is never logged");
}

#[test]
fn an_unreachable_object_store_stops_the_server_with_one_line_naming_it_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s3.db").display());
    let spool = dir.path().join("spool").display().to_string();
    let env = [
        ("DATABASE_URL", db.as_str()),
        ("SPOOL_DIR", spool.as_str()),
        ("STORAGE_URL", "s3://datasets/prod"),
        // Port 1 on loopback: nothing listens there.
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID"),
        ("AWS_SECRET_ACCESS_KEY", "very-secret-access-key-value"),
        ("ADMIN_API_KEY", "an-admin-key-that-is-long-enough"),
    ];
    let out = run(&[], &env);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8(out.stderr).unwrap();
    let last = err.lines().last().unwrap_or_default();
    assert!(last.contains("artifact store (s3://datasets/prod) is not usable"), "{last}");
    assert!(last.contains("unreachable"), "{last}");
    assert!(!err.contains("very-secret-access-key-value"), "the secret key was printed: {err}");
    assert!(!err.contains("an-admin-key-that-is-long-enough"), "the admin key was printed: {err}");
}
