//! Composition root: read settings, build the adapters and the app, serve.

use std::process::ExitCode;

use datasets_api::adapters::http::openapi_json;
use datasets_api::app::access::AdminBootstrap;
use datasets_api::app::errors::ErrorChain;
use datasets_api::config::{CLOUD_VARIABLES, LogFormat, SETTINGS, Settings};
use datasets_api::server::{build_app, serve};

fn help() -> String {
    let mut text = String::from(
        "datasets-api — a registry of versioned tabular datasets\n\n\
         Usage: datasets-api [COMMAND]\n\n\
         Commands:\n  \
           (none)            start the server\n  \
           create-admin-key  print a new API key for the admin (recovers access), then exit\n  \
           --print-openapi   print the OpenAPI document, then exit\n  \
           --help            print this help\n\n\
         Settings (environment variables):\n",
    );
    for (name, meaning) in SETTINGS {
        text.push_str(&format!("  {name:<26} {meaning}\n"));
    }
    text.push_str("\nObject store credentials (each cloud's standard variables, read with STORAGE_URL):\n");
    for (name, meaning) in CLOUD_VARIABLES {
        text.push_str(&format!("  {name:<42} {meaning}\n"));
    }
    text
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    datasets_api::adapters::system::tune_glibc_malloc();
    match std::env::args().nth(1).as_deref() {
        Some("--help" | "-h") => {
            print!("{}", help());
            return ExitCode::SUCCESS;
        }
        Some("--print-openapi") => {
            println!("{}", openapi_json());
            return ExitCode::SUCCESS;
        }
        Some("create-admin-key") => return create_admin_key().await,
        Some(other) => {
            eprintln!("unknown argument {other:?}\n\n{}", help());
            return ExitCode::from(2);
        }
        None => {}
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("datasets-api: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_format);
    let (app, admin) = match build_app(&settings).await {
        Ok(built) => built,
        Err(e) => {
            eprintln!("datasets-api: {e}");
            return ExitCode::from(1);
        }
    };
    if let AdminBootstrap::Created { key } = admin {
        println!("Created the admin user. Its API key, shown only this once:\n\n    {key}\n");
    }
    match serve(&settings, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("datasets-api: {e}");
            ExitCode::from(1)
        }
    }
}

/// Connects to the configured stores and prints a new admin key.
async fn create_admin_key() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("datasets-api: {e}");
            return ExitCode::from(2);
        }
    };
    let key = match build_app(&settings).await {
        Ok((_, AdminBootstrap::Created { key })) => Ok(key),
        Ok((app, _)) => app.new_admin_key().await.map_err(|e| ErrorChain(&e).to_string()),
        Err(e) => Err(e.to_string()),
    };
    match key {
        Ok(key) => {
            println!("{key}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("datasets-api: {e}");
            ExitCode::from(1)
        }
    }
}
