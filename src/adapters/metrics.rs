//! Prometheus metrics (`GET /metrics`, text exposition format) with prometheus-client.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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
        Self { registry, requests, latency, upload_bytes, rows_ingested, ingest_seconds, analyze }
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

    fn analyzed(&self, cache_hit: bool) {
        let result = if cache_hit { "hit" } else { "computed" };
        self.analyze.get_or_create(&CacheLabels { result: result.into() }).inc();
    }
}
