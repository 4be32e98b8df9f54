//! Composition: settings → adapters → application → HTTP server.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::adapters::formats::{FileIngestor, StoredTables};
use crate::adapters::http::limits::HttpLimits;
use crate::adapters::http::routes_with;
use crate::adapters::metrics::Metrics;
use crate::adapters::opendal::OpendalStore;
use crate::adapters::query::DataFusionQueries;
use crate::adapters::sea_orm::SeaOrmStore;
use crate::adapters::system::{RandomSecrets, SystemClock, UuidV7};
use crate::adapters::webhooks::HttpWebhookSender;
use crate::app::access::AdminBootstrap;
use crate::app::errors::ErrorChain;
use crate::app::webhooks::WebhookSettings;
use crate::app::{App, AppSettings};
use crate::config::Settings;
use crate::ports::artifacts::ArtifactStore;
use crate::ports::metadata::MetadataStore;
use crate::ports::queries::QueryLimits;
use crate::ports::tables::{IngestLimits, TableExporter};

/// Why the server could not start. Each names the setting or backend at fault.
#[derive(Debug, Error)]
pub enum StartupError {
    #[error("database ({0}) is not usable: {1}")]
    Database(String, String),
    #[error("artifact store ({0}) is not usable: {1}")]
    Storage(String, String),
    #[error("spool folder {0} is not usable: {1}")]
    Spool(String, String),
    #[error("admin key: {0}")]
    Admin(String),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, String),
}

/// The database URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Connects and checks both stores, runs migrations, and makes sure an admin can sign in.
pub async fn build_app(settings: &Settings) -> Result<(App, AdminBootstrap), StartupError> {
    let db_name = redact_url(&settings.database_url);
    let metadata = SeaOrmStore::connect(&settings.database_url)
        .await
        .map_err(|e| StartupError::Database(db_name.clone(), ErrorChain(&e).to_string()))?;
    metadata.migrate().await.map_err(|e| StartupError::Database(db_name.clone(), ErrorChain(&e).to_string()))?;
    let store_name = settings.storage.describe();
    let store = OpendalStore::open(&settings.storage)
        .map_err(|e| StartupError::Storage(store_name.clone(), ErrorChain(&e).to_string()))?;
    store.probe().await.map_err(|e| {
        let problem = match e {
            crate::ports::StoreError::Unavailable(message) => message,
            other => ErrorChain(&other).to_string(),
        };
        StartupError::Storage(store_name.clone(), problem)
    })?;
    let artifacts: Arc<dyn ArtifactStore> = Arc::new(store);
    let tables = Arc::new(StoredTables::new(Arc::clone(&artifacts)));
    std::fs::create_dir_all(&settings.spool_dir)
        .map_err(|e| StartupError::Spool(settings.spool_dir.display().to_string(), e.to_string()))?;
    let queries = DataFusionQueries::new(
        Arc::clone(&artifacts),
        QueryLimits { memory_bytes: usize::try_from(settings.query_memory_bytes).unwrap_or(usize::MAX) },
        &settings.spool_dir,
    )
    .map_err(|e| StartupError::Spool(settings.spool_dir.display().to_string(), ErrorChain(&e).to_string()))?;
    let app = App {
        metadata: Arc::new(metadata),
        artifacts: Arc::clone(&artifacts),
        ingestor: Arc::new(FileIngestor::new(settings.spool_dir.clone())),
        exporter: Arc::clone(&tables) as Arc<dyn TableExporter>,
        tables,
        queries: Arc::new(queries),
        inflight: Arc::default(),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7),
        secrets: Arc::new(RandomSecrets),
        telemetry: Arc::new(Metrics::default()),
        webhooks: Arc::new(HttpWebhookSender),
        settings: AppSettings {
            max_upload_bytes: settings.max_upload_bytes,
            ingest_limits: IngestLimits {
                max_decompressed_bytes: settings.max_decompressed_bytes,
                max_expansion_ratio: settings.max_decompression_ratio,
                ..IngestLimits::default()
            },
            spool_dir: settings.spool_dir.clone(),
            max_xlsx_rows: settings.max_xlsx_rows,
            query_max_rows: settings.query_max_rows,
            precompute_statistics: true,
            ingest_wait: Duration::from_secs(settings.ingest_wait_seconds),
            idempotency_ttl: Duration::from_secs(settings.idempotency_ttl_seconds),
            webhooks: WebhookSettings {
                allow_private_targets: settings.webhook_allow_private_targets,
                retry: settings.webhook_retry_schedule.clone(),
                ..WebhookSettings::default()
            },
        },
        ingest_slots: Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent_ingests)),
    };
    let admin = app
        .bootstrap_admin(settings.admin_api_key.as_ref().map(|k| k.expose()))
        .await
        .map_err(|e| StartupError::Admin(ErrorChain(&e).to_string()))?;
    Ok((app, admin))
}

/// Serves until SIGINT or SIGTERM; in-flight requests get up to 30 s to finish.
pub async fn serve(settings: &Settings, app: App) -> Result<(), StartupError> {
    app.start_sweeper(
        Duration::from_secs(settings.sweep_grace_seconds),
        Duration::from_secs(settings.sweep_interval_seconds),
    );
    app.start_webhook_dispatcher();
    let addr = settings.bind_addr.to_string();
    let listener = poem::listener::TcpListener::bind(addr.clone());
    let acceptor = poem::listener::Listener::into_acceptor(listener)
        .await
        .map_err(|e| StartupError::Bind(addr.clone(), e.to_string()))?;
    let shutdown = shutdown_signal();
    tracing::info!(address = %addr, "listening; the web UI at http://{addr}/ui/, Swagger UI at http://{addr}/docs");
    let limits = HttpLimits {
        request_timeout: Duration::from_secs(settings.request_timeout_seconds),
        upload_idle_timeout: Duration::from_secs(settings.upload_idle_timeout_seconds),
    };
    poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(routes_with(app, limits), shutdown, Some(Duration::from_secs(30)))
        .await
        .map_err(|e| StartupError::Bind(addr, e.to_string()))
}

/// Waits for `signal`, or forever when its handler could not be installed.
#[cfg(unix)]
async fn wait_for(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// A future that ends at SIGINT or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a signal that arrives as soon as the server answers must
/// still shut it down gracefully rather than kill it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let listen = |kind| tokio::signal::unix::signal(kind).ok();
    #[cfg(unix)]
    let (mut term, mut interrupt) =
        (listen(tokio::signal::unix::SignalKind::terminate()), listen(tokio::signal::unix::SignalKind::interrupt()));
    async move {
        #[cfg(unix)]
        {
            tokio::select! {
                () = wait_for(term.as_mut()) => {},
                () = wait_for(interrupt.as_mut()) => {},
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing in-flight requests");
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:****@h:5432/db");
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
        assert_eq!(redact_url("mysql://root@127.0.0.1/test"), "mysql://root@127.0.0.1/test");
    }
}
