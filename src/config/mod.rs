//! Settings from the environment, and from an optional TOML file named by `DATASETS_API_CONFIG`
//! (keys are the variable names in lower case; the environment wins). A bad setting stops the
//! server at start with one line naming it.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use thiserror::Error;

use crate::domain::idempotency::DEFAULT_TTL;
use crate::domain::webhooks::retry::RetrySchedule;
use crate::ports::tables::DEFAULT_MAX_EXPANSION_RATIO;

mod storage;
pub use storage::{AzblobTarget, AzureCredentials, CLOUD_VARIABLES, GcsTarget, S3Target, StorageTarget, parse_storage};

pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/datasets.db";
pub const DEFAULT_STORAGE_URL: &str = "data/artifacts";
pub const DEFAULT_SPOOL_DIR: &str = "data/spool";
/// 500 MB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 500 * 1000 * 1000;
/// Rows of a JSON `/query` answer by default.
pub const DEFAULT_QUERY_MAX_ROWS: u64 = 100_000;
/// 512 MiB.
pub const DEFAULT_QUERY_MEMORY_BYTES: u64 = 512 << 20;
/// Excel's sheet holds 1,048,576 rows, one of which is the header.
pub const EXCEL_DATA_ROWS: u64 = 1_048_575;

/// Every setting: (environment variable, meaning).
pub const SETTINGS: &[(&str, &str)] = &[
    ("BIND_ADDR", "address to listen on (default 127.0.0.1:8080)"),
    ("DATABASE_URL", "sqlite://PATH, postgres://… or mysql://… (default sqlite://data/datasets.db)"),
    (
        "STORAGE_URL",
        "artifact store: PATH, fs://PATH, s3://BUCKET/PREFIX, gcs://BUCKET/PREFIX or azblob://CONTAINER/PREFIX (default data/artifacts)",
    ),
    ("MAX_DATASET_UPLOAD_BYTES", "largest accepted upload in bytes (default 500000000)"),
    (
        "MAX_DECOMPRESSED_BYTES",
        "largest size a compressed upload (gzip, zstd, bzip2, xz) may expand to, in bytes (default 4 × MAX_DATASET_UPLOAD_BYTES)",
    ),
    (
        "MAX_DECOMPRESSION_RATIO",
        "most times a compressed upload may expand, checked past its first 16 MiB (default 200)",
    ),
    ("ADMIN_API_KEY", "the admin's API key; when unset, a key is created and printed once at first start"),
    ("SPOOL_DIR", "folder for uploads being processed (default data/spool)"),
    ("MAX_XLSX_ROWS", "most data rows an XLSX download may have (default and maximum 1048575, Excel's limit)"),
    ("MAX_CONCURRENT_INGESTS", "uploads read and normalized at once; others wait (default: the number of CPUs)"),
    ("INGEST_WAIT_SECONDS", "how long an upload waits for an ingest slot before 503 with Retry-After (default 120)"),
    (
        "SWEEP_GRACE_SECONDS",
        "age below which an unreferenced artifact is left alone by the orphan sweeper (default 3600)",
    ),
    ("SWEEP_INTERVAL_SECONDS", "time between two orphan sweeps of a running server (default 3600)"),
    (
        "REQUEST_TIMEOUT_SECONDS",
        "longest time to answer a request other than an upload, until the response starts; then 503 timeout (default 300)",
    ),
    (
        "UPLOAD_IDLE_TIMEOUT_SECONDS",
        "an upload whose body sends no byte for this long is cancelled with 408 (default 60)",
    ),
    (
        "IDEMPOTENCY_TTL_SECONDS",
        "how long an Idempotency-Key is remembered from its first use, with its answer for replay (default 86400)",
    ),
    ("QUERY_MAX_ROWS", "most rows of a JSON /query answer (default 100000)"),
    (
        "QUERY_MEMORY_BYTES",
        "memory that sorts, joins and aggregations of all running queries may hold; past it they spill to SPOOL_DIR (default 536870912)",
    ),
    (
        "WEBHOOK_ALLOW_PRIVATE_TARGETS",
        "true: webhooks may target loopback, private, link-local and other internal addresses (default false)",
    ),
    (
        "WEBHOOK_RETRY_SCHEDULE",
        "seconds to wait before each retry of a failed webhook delivery, comma-separated (default 5,30,120,600,3600,14400,43200,86400)",
    ),
    ("LOG_FORMAT", "text (default) or json"),
    ("DATASETS_API_CONFIG", "optional TOML file with any of these settings, keys in lower case"),
];

#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid setting {name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bind_addr: SocketAddr,
    pub database_url: String,
    pub storage: StorageTarget,
    pub max_upload_bytes: u64,
    pub max_decompressed_bytes: u64,
    pub max_decompression_ratio: u64,
    pub admin_api_key: Option<Secret>,
    pub spool_dir: PathBuf,
    pub max_xlsx_rows: u64,
    pub max_concurrent_ingests: usize,
    pub ingest_wait_seconds: u64,
    pub sweep_grace_seconds: u64,
    pub sweep_interval_seconds: u64,
    pub request_timeout_seconds: u64,
    pub upload_idle_timeout_seconds: u64,
    pub query_max_rows: u64,
    pub query_memory_bytes: u64,
    pub idempotency_ttl_seconds: u64,
    pub webhook_allow_private_targets: bool,
    pub webhook_retry_schedule: RetrySchedule,
    pub log_format: LogFormat,
}

impl Settings {
    /// Reads the process environment (and the optional file).
    pub fn from_env() -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::from_map(&env)
    }

    /// Reads settings from `vars` (environment variable names), with the optional file.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let file = match vars.get("DATASETS_API_CONFIG") {
            Some(path) => read_file(path)?,
            None => HashMap::new(),
        };
        let get = |name: &str| -> Option<String> {
            vars.get(name).cloned().or_else(|| file.get(&name.to_ascii_lowercase()).cloned()).filter(|v| !v.is_empty())
        };
        let bind = get("BIND_ADDR").unwrap_or_else(|| DEFAULT_BIND_ADDR.into());
        let bind_addr = bind.parse().map_err(|_| ConfigError {
            name: "BIND_ADDR",
            problem: format!("{bind:?} is not an address like 127.0.0.1:8080"),
        })?;
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let known = ["sqlite:", "postgres://", "postgresql://", "mysql://", "mariadb://"];
        if !known.iter().any(|p| database_url.starts_with(p)) {
            return Err(ConfigError {
                name: "DATABASE_URL",
                problem: "must start with sqlite://, postgres:// or mysql://".into(),
            });
        }
        let database_url = database_url.replacen("mariadb://", "mysql://", 1);
        let storage =
            parse_storage(&get("STORAGE_URL").unwrap_or_else(|| DEFAULT_STORAGE_URL.into()), &|name: &str| get(name))?;
        let max_upload_bytes = match get("MAX_DATASET_UPLOAD_BYTES") {
            None => DEFAULT_MAX_UPLOAD_BYTES,
            Some(raw) => raw.trim().parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| ConfigError {
                name: "MAX_DATASET_UPLOAD_BYTES",
                problem: format!("{raw:?} is not a positive whole number of bytes"),
            })?,
        };
        let admin_api_key = match get("ADMIN_API_KEY") {
            Some(key) if key.trim().len() < 16 => {
                return Err(ConfigError { name: "ADMIN_API_KEY", problem: "must be at least 16 characters".into() });
            }
            Some(key) => Some(Secret(key.trim().to_string())),
            None => None,
        };
        let spool_dir = PathBuf::from(get("SPOOL_DIR").unwrap_or_else(|| DEFAULT_SPOOL_DIR.into()));
        let max_xlsx_rows = match get("MAX_XLSX_ROWS") {
            None => EXCEL_DATA_ROWS,
            Some(raw) => {
                raw.trim().parse::<u64>().ok().filter(|&n| (1..=EXCEL_DATA_ROWS).contains(&n)).ok_or_else(|| {
                    ConfigError {
                        name: "MAX_XLSX_ROWS",
                        problem: format!("{raw:?} is not a number from 1 to {EXCEL_DATA_ROWS}"),
                    }
                })?
            }
        };
        let positive =
            |name: &'static str, default: u64| -> Result<u64, ConfigError> {
                match get(name) {
                    None => Ok(default),
                    Some(raw) => raw.trim().parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| ConfigError {
                        name,
                        problem: format!("{raw:?} is not a positive whole number"),
                    }),
                }
            };
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
        let max_concurrent_ingests = positive("MAX_CONCURRENT_INGESTS", cpus)? as usize;
        let ingest_wait_seconds = positive("INGEST_WAIT_SECONDS", 120)?;
        let sweep_grace_seconds = positive("SWEEP_GRACE_SECONDS", 3600)?;
        let sweep_interval_seconds = positive("SWEEP_INTERVAL_SECONDS", 3600)?;
        let request_timeout_seconds = positive("REQUEST_TIMEOUT_SECONDS", 300)?;
        let upload_idle_timeout_seconds = positive("UPLOAD_IDLE_TIMEOUT_SECONDS", 60)?;
        let query_max_rows = positive("QUERY_MAX_ROWS", DEFAULT_QUERY_MAX_ROWS)?;
        let query_memory_bytes = positive("QUERY_MEMORY_BYTES", DEFAULT_QUERY_MEMORY_BYTES)?;
        let idempotency_ttl_seconds = positive("IDEMPOTENCY_TTL_SECONDS", DEFAULT_TTL.as_secs())?;
        let max_decompressed_bytes = positive("MAX_DECOMPRESSED_BYTES", max_upload_bytes.saturating_mul(4))?;
        let max_decompression_ratio = positive("MAX_DECOMPRESSION_RATIO", DEFAULT_MAX_EXPANSION_RATIO)?;
        let webhook_allow_private_targets = match get("WEBHOOK_ALLOW_PRIVATE_TARGETS").as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError {
                    name: "WEBHOOK_ALLOW_PRIVATE_TARGETS",
                    problem: format!("{other:?} is neither true nor false"),
                });
            }
        };
        let webhook_retry_schedule = match get("WEBHOOK_RETRY_SCHEDULE") {
            None => RetrySchedule::default(),
            Some(raw) => RetrySchedule::parse(&raw)
                .map_err(|e| ConfigError { name: "WEBHOOK_RETRY_SCHEDULE", problem: e.to_string() })?,
        };
        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError { name: "LOG_FORMAT", problem: format!("{other:?} is neither text nor json") });
            }
        };
        Ok(Self {
            bind_addr,
            database_url,
            storage,
            max_upload_bytes,
            max_decompressed_bytes,
            max_decompression_ratio,
            admin_api_key,
            spool_dir,
            max_xlsx_rows,
            max_concurrent_ingests,
            ingest_wait_seconds,
            sweep_grace_seconds,
            sweep_interval_seconds,
            request_timeout_seconds,
            upload_idle_timeout_seconds,
            query_max_rows,
            query_memory_bytes,
            idempotency_ttl_seconds,
            webhook_allow_private_targets,
            webhook_retry_schedule,
            log_format,
        })
    }
}

impl Settings {
    /// Settings for tests and benchmarks: SQLite and artifacts in `dir`, no upload limit to
    /// speak of, two ingests at once, the defaults otherwise; `admin_api_key` is the admin's
    /// key. Change fields after for a case that needs other values.
    pub fn for_tests(dir: &std::path::Path, admin_api_key: &str) -> Self {
        Self {
            bind_addr: "127.0.0.1:0".parse().expect("a socket address"),
            database_url: format!("sqlite://{}", dir.join("test.db").display()),
            storage: StorageTarget::Filesystem(dir.join("artifacts")),
            max_upload_bytes: u64::MAX,
            max_decompressed_bytes: u64::MAX,
            max_decompression_ratio: DEFAULT_MAX_EXPANSION_RATIO,
            admin_api_key: Some(Secret::new(admin_api_key)),
            spool_dir: dir.join("spool"),
            max_xlsx_rows: EXCEL_DATA_ROWS,
            max_concurrent_ingests: 2,
            ingest_wait_seconds: 120,
            sweep_grace_seconds: 3600,
            sweep_interval_seconds: 3600,
            request_timeout_seconds: 300,
            upload_idle_timeout_seconds: 60,
            query_max_rows: DEFAULT_QUERY_MAX_ROWS,
            query_memory_bytes: DEFAULT_QUERY_MEMORY_BYTES,
            idempotency_ttl_seconds: DEFAULT_TTL.as_secs(),
            webhook_allow_private_targets: false,
            webhook_retry_schedule: RetrySchedule::default(),
            log_format: LogFormat::Text,
        }
    }
}

fn read_file(path: &str) -> Result<HashMap<String, String>, ConfigError> {
    let name = "DATASETS_API_CONFIG";
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError { name, problem: format!("{path}: {e}") })?;
    let table: toml::Table = text.parse().map_err(|e| ConfigError { name, problem: format!("{path}: {e}") })?;
    table
        .into_iter()
        .map(|(k, v)| {
            let value = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                other => {
                    return Err(ConfigError {
                        name,
                        problem: format!("{path}: {k} must be a string or a number, not {other}"),
                    });
                }
            };
            Ok((k.to_ascii_lowercase(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_map(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn defaults_are_sqlite_and_a_local_folder() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://data/datasets.db");
        assert_eq!(s.storage, StorageTarget::Filesystem("data/artifacts".into()));
        assert_eq!(s.max_upload_bytes, 500_000_000);
    }

    #[test]
    fn a_bad_setting_is_named_in_the_error() {
        assert_eq!(settings(&[("MAX_DATASET_UPLOAD_BYTES", "lots")]).unwrap_err().name, "MAX_DATASET_UPLOAD_BYTES");
        assert_eq!(settings(&[("BIND_ADDR", "nowhere")]).unwrap_err().name, "BIND_ADDR");
        assert_eq!(settings(&[("DATABASE_URL", "oracle://x")]).unwrap_err().name, "DATABASE_URL");
        assert_eq!(settings(&[("STORAGE_URL", "ftp://x")]).unwrap_err().name, "STORAGE_URL");
        assert_eq!(settings(&[("ADMIN_API_KEY", "short")]).unwrap_err().name, "ADMIN_API_KEY");
    }

    #[test]
    fn the_admin_key_never_appears_in_debug_output() {
        let s = settings(&[("ADMIN_API_KEY", "super-secret-admin-key")]).unwrap();
        assert!(!format!("{s:?}").contains("super-secret"));
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "bind_addr = \"127.0.0.1:9000\"\nmax_dataset_upload_bytes = 1234\n").unwrap();
        let p = path.to_string_lossy().to_string();
        let s = settings(&[("DATASETS_API_CONFIG", &p), ("BIND_ADDR", "127.0.0.1:9001")]).unwrap();
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:9001");
        assert_eq!(s.max_upload_bytes, 1234);
    }
}
