//! Prometheus metrics (`GET /metrics`, text exposition format) with prometheus-client.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::ports::system::Telemetry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The OpenAPI operation id, or `unmatched` for requests that reached no operation.
    pub operation: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `delivered`, `retry` or `failed`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `hit` or `computed`.
    pub result: String,
}

/// Every metric of the server.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    upload_bytes: Counter,
    rows_ingested: Counter,
    ingest_seconds: Histogram,
    analyze: Family<CacheLabels, Counter>,
    webhook_attempts: Family<OutcomeLabels, Counter>,
    webhook_pending: Gauge,
    webhook_oldest_pending: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("datasets_api");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by operation and status", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.001, 2.0, 16))) as fn() -> Histogram,
        );
        registry.register("http_request_duration_seconds", "HTTP request duration by operation", latency.clone());
        let upload_bytes = Counter::default();
        registry.register("upload_bytes", "Bytes of uploaded files that were stored", upload_bytes.clone());
        let rows_ingested = Counter::default();
        registry.register("rows_ingested", "Rows of uploaded files that were stored", rows_ingested.clone());
        let ingest_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register("ingest_duration_seconds", "Time to read and normalize an upload", ingest_seconds.clone());
        let analyze = Family::<CacheLabels, Counter>::default();
        registry.register("analyze", "Statistics requests answered from the cache (hit) or computed", analyze.clone());
        let webhook_attempts = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts by outcome (delivered, retry: failed and tried again later, failed: no attempt left)",
            webhook_attempts.clone(),
        );
        let webhook_pending = Gauge::default();
        registry.register(
            "webhook_pending_deliveries",
            "Webhook deliveries not yet delivered nor failed",
            webhook_pending.clone(),
        );
        let webhook_oldest_pending = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "webhook_oldest_pending_age_seconds",
            "Age of the oldest pending webhook delivery (0 without any)",
            webhook_oldest_pending.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            upload_bytes,
            rows_ingested,
            ingest_seconds,
            analyze,
            webhook_attempts,
            webhook_pending,
            webhook_oldest_pending,
        }
    }
}

impl Telemetry for Metrics {
    fn request(&self, method: &str, operation: &str, status: u16, seconds: f64) {
        let (method, operation) = (method.to_string(), operation.to_string());
        self.requests
            .get_or_create(&RequestLabels { method: method.clone(), operation: operation.clone(), status })
            .inc();
        self.latency.get_or_create(&RouteLabels { method, operation }).observe(seconds);
    }

    fn exposition(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    fn ingested(&self, bytes: u64, rows: u64, seconds: f64) {
        self.upload_bytes.inc_by(bytes);
        self.rows_ingested.inc_by(rows);
        self.ingest_seconds.observe(seconds);
    }

    fn webhook_attempt(&self, outcome: &str) {
        self.webhook_attempts.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
    }

    fn webhook_queue(&self, pending: u64, oldest_age_seconds: f64) {
        self.webhook_pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.webhook_oldest_pending.set(oldest_age_seconds);
    }

    fn analyzed(&self, cache_hit: bool) {
        let result = if cache_hit { "hit" } else { "computed" };
        self.analyze.get_or_create(&CacheLabels { result: result.into() }).inc();
    }
}
