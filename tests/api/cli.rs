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
