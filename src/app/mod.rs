//! Use cases. Each service method checks access, validates through domain constructors and
//! calls the ports; the HTTP adapter only converts to and from DTOs.

pub mod access;
pub mod aliases;
pub mod analysis;
pub mod compare;
pub mod contracts;
pub mod datasets;
pub mod errors;
pub mod idempotency;
pub mod ingest;
pub mod lineage;
pub mod projects;
pub mod queries;
pub mod row_diff;
pub mod sweeper;
pub mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;

use crate::ports::artifacts::ArtifactStore;
use crate::ports::metadata::MetadataStore;
use crate::ports::queries::TableQueries;
use crate::ports::system::{Clock, IdGenerator, SecretGenerator, Telemetry};
use crate::ports::tables::{IngestLimits, TableExporter, TableIngestor, TableSource};
use crate::ports::webhooks::WebhookSender;

pub use errors::AppError;

/// Settings the use cases need.
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: u64,
    pub ingest_limits: IngestLimits,
    /// Local folder for spooled uploads and normalized files before they are stored.
    pub spool_dir: PathBuf,
    /// Most data rows an XLSX download may have.
    pub max_xlsx_rows: u64,
    /// Compute a new version's statistics in the background right after its upload (on in
    /// the server; the benchmark and the memory tests turn it off to measure one thing at a
    /// time).
    pub precompute_statistics: bool,
    /// Most rows of a JSON query answer (`QUERY_MAX_ROWS`).
    pub query_max_rows: u64,
    /// How long an upload waits for an ingest slot before it is answered 503 (`Retry-After`).
    pub ingest_wait: std::time::Duration,
    /// How long an idempotency key is remembered from its first use (`IDEMPOTENCY_TTL_SECONDS`).
    pub idempotency_ttl: std::time::Duration,
    pub webhooks: webhooks::WebhookSettings,
}

/// The application: every port it needs, chosen at start-up.
#[derive(Clone)]
pub struct App {
    pub metadata: Arc<dyn MetadataStore>,
    pub artifacts: Arc<dyn ArtifactStore>,
    pub ingestor: Arc<dyn TableIngestor>,
    pub exporter: Arc<dyn TableExporter>,
    pub tables: Arc<dyn TableSource>,
    /// Rows pages and read-only SQL over stored versions.
    pub queries: Arc<dyn TableQueries>,
    /// Statistics computations in progress, one per version (see `analysis`).
    pub inflight: Arc<analysis::Inflight>,
    /// Ingest slots: `MAX_CONCURRENT_INGESTS` permits (each ingest takes about 200 MB of
    /// memory for a 500 MB file of ~15 columns, more for very wide files); further uploads wait
    /// for a slot.
    pub ingest_slots: Arc<tokio::sync::Semaphore>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub secrets: Arc<dyn SecretGenerator>,
    pub telemetry: Arc<dyn Telemetry>,
    /// Sends webhook deliveries.
    pub webhooks: Arc<dyn WebhookSender>,
    pub settings: AppSettings,
}
