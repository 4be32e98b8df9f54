//! The pipeline benchmark: a realistic transactions CSV (default ~500 MB; `BENCH_MB` to
//! change) goes through the same code paths as the API — upload (ingest, typing, quality,
//! normalized Parquet, artifact store, metadata), `/analyze` statistics, and CSV and XLSX
//! export, reads of a version, and `/compare` of two versions with every drift test — and each
//! phase prints its wall time, throughput and peak RSS.
//!
//! Run: `cargo bench --bench pipeline` (or `scripts/bench.sh` to compare with pandas, polars
//! and DuckDB); `BENCH_SKIP_DOWNLOADS=1` stops after `/analyze` (no `results.json`, for
//! quick comparisons of the first two phases). The CSV is generated once into `BENCH_DIR` (default
//! `/var/tmp/datasets-api-bench`) and reused. Not a test: nothing here asserts a time.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use datasets_api::app::compare::CompareOptions;
use datasets_api::app::ingest::SpooledUpload;
use datasets_api::config::Settings;
use datasets_api::domain::contracts::ContractDraft;
use datasets_api::domain::downloads::DownloadFormat;
use datasets_api::domain::drift::rule::{DriftOptions, DriftTest};
use datasets_api::domain::ids::ProjectId;
use datasets_api::domain::version_ref::VersionRef;
use datasets_api::ports::queries::RowsRequest;
use datasets_api::server::build_app;
use futures_util::StreamExt;

/// The filter and sort of the benchmark's `/rows` phase (two columns, a float sort key).
const ROWS_WHERE: &str = "amount > 100 AND country = 'C03'";
const ROWS_ORDER_BY: &str = "amount DESC";
/// The key of the row-diff phase (unique in both versions).
const DIFF_KEY: &str = "transaction_id";
/// The benchmark's `/query` phase.
const QUERY_GROUP_BY: &str = "SELECT country, count(*), avg(amount) FROM data GROUP BY 1";

const FIRST_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
const SECOND_SEED: u64 = 0x2545_f491_4f6c_dd1d;
/// Every drift test of `/compare`, as `tests=all` would ask.
const ALL_TESTS: [DriftTest; 6] = DriftTest::ALL;

/// A small deterministic generator (xorshift64*), so every run measures the same file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const MERCHANTS: [&str; 40] = [
    "ACME Corp",
    "Luxury Ltd",
    "Corner Shop",
    "MegaMart",
    "FuelStop",
    "Book Nook",
    "Cafe Roma",
    "TechWorld",
    "Pharma Plus",
    "Green Grocer",
    "City Taxi",
    "AirFly",
    "Hotel Bella",
    "StreamFlix",
    "GameHub",
    "PetPals",
    "Shoe Box",
    "Home Depot-ish",
    "Garden Co",
    "Music Hall",
    "Cinema 9",
    "Sushi Go",
    "Burger Barn",
    "Pizza Pie",
    "Toy Town",
    "Jewel Box",
    "Auto Parts",
    "Bike Shop",
    "Gym Pro",
    "Spa Day",
    "Dentist",
    "Vet Clinic",
    "Bakery",
    "Florist",
    "Hardware",
    "Stationery",
    "Electronics",
    "Outdoor",
    "Kids Wear",
    "Optician",
];
const CATEGORIES: [&str; 12] = [
    "grocery",
    "fuel",
    "travel",
    "dining",
    "retail",
    "health",
    "entertainment",
    "services",
    "online",
    "utilities",
    "education",
    "other",
];
const CURRENCIES: [&str; 5] = ["EUR", "USD", "GBP", "CHF", "JPY"];
const WORDS: [&str; 16] = [
    "payment",
    "refund",
    "monthly",
    "subscription",
    "order",
    "gift",
    "online",
    "store",
    "card",
    "transfer",
    "fee",
    "bonus",
    "travel",
    "dinner",
    "tickets",
    "repair",
];

/// The benchmark's file: `seed` picks the values, `amount_factor` scales the amounts (the
/// second version of the `/compare` phase is next month's file, with amounts 5% higher).
fn generate(path: &Path, target_bytes: u64, seed: u64, amount_factor: f64) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let header = "transaction_id,user_id,merchant,category,amount,currency,country,timestamp,is_fraud,card_present,device_id,description,latitude,longitude,zip\n";
    out.write_all(header.as_bytes())?;
    let mut written = header.len() as u64;
    let mut rng = Rng(seed);
    let mut rows = 0u64;
    let start = 1_735_689_600i64; // 2025-01-01T00:00:00Z
    while written < target_bytes {
        let amount = if rng.below(50) == 0 {
            String::new()
        } else {
            format!("{:.2}", (rng.unit() * 6.0).exp() * 3.0 * amount_factor)
        };
        let t = start + (rows as i64) * 7 + rng.below(7) as i64;
        let ts = chrono::DateTime::from_timestamp(t, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ");
        let words = (0..1 + rng.below(4)).map(|_| WORDS[rng.below(16) as usize]).collect::<Vec<_>>().join(" ");
        let description = if rng.below(10) == 0 { format!("\"{words}, ref {}\"", rng.below(100_000)) } else { words };
        let line = format!(
            "{},{},{},{},{},{},C{:02},{},{},{},dev-{:012x},{},{:.5},{:.5},{:05}\n",
            rows + 1,
            rng.below(200_000),
            MERCHANTS[rng.below(40) as usize],
            CATEGORIES[rng.below(12) as usize],
            amount,
            CURRENCIES[rng.below(5) as usize],
            rng.below(30),
            ts,
            rng.below(100) == 0,
            rng.below(3) != 0,
            rng.next() & 0xffff_ffff_ffff,
            description,
            rng.unit() * 180.0 - 90.0,
            rng.unit() * 360.0 - 180.0,
            rng.below(100_000),
        );
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        rows += 1;
    }
    out.flush()?;
    Ok(rows)
}

/// A copy of `file` in the spool folder, as the upload endpoint spools a request body.
fn spooled(work: &Path, file: &Path, name: &str) -> SpooledUpload {
    let path = work.join("spool").join(name);
    let size = std::fs::copy(file, &path).expect("spool copy");
    SpooledUpload {
        path: tempfile::TempPath::try_from_path(&path).expect("spool path"),
        size,
        sha256: String::new(),
        file_name: Some(name.into()),
        hints: Default::default(),
    }
}

/// Returns freed heap to the OS, then resets the kernel's peak-RSS counter of this process
/// (Linux), so that each phase's peak is its own and not what an earlier phase left behind.
fn reset_peak() {
    // SAFETY: malloc_trim only releases free memory of glibc's allocator; it has no
    // preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    RESIDENT_AT_START.store(status_mib("VmRSS:").to_bits(), std::sync::atomic::Ordering::Relaxed);
}

/// Peak RSS since the last reset, in MiB.
/// A memory figure of this process from /proc/self/status (`VmHWM:` the peak, `VmRSS:` now).
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn peak_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Prints a phase's line and records it for `results.json`.
/// The resident memory when the current phase started (after `reset_peak`), as f64 bits.
static RESIDENT_AT_START: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn report(results: &mut Vec<serde_json::Value>, phase: &str, seconds: f64, megabytes: f64) {
    let peak = peak_mib();
    let start = f64::from_bits(RESIDENT_AT_START.load(std::sync::atomic::Ordering::Relaxed));
    println!(
        "{phase:<28} {seconds:>8.3} s {:>9.1} MB/s   peak RSS {peak:>7.1} MiB (resident at start {start:.1} MiB)",
        megabytes / seconds
    );
    results.push(serde_json::json!({
        "phase": phase, "seconds": seconds, "mb_per_s": megabytes / seconds, "peak_rss_mib": peak,
        "resident_at_start_mib": start,
    }));
}

#[tokio::main]
async fn main() {
    // As the server does at start (so the phases' memory is the server's).
    datasets_api::adapters::system::tune_glibc_malloc();
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,datasets_api=debug"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let target_mb: u64 = std::env::var("BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let dir = PathBuf::from(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp/datasets-api-bench".into()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let csv = dir.join(format!("transactions-{target_mb}MB.csv"));
    if !csv.exists() {
        let t = Instant::now();
        let rows = generate(&csv, target_mb * 1_000_000, FIRST_SEED, 1.0).expect("generate the CSV");
        println!("generated {} ({rows} rows) in {:.1} s", csv.display(), t.elapsed().as_secs_f64());
    }
    let size = std::fs::metadata(&csv).expect("csv").len();
    let mb = size as f64 / 1e6;
    println!("input: {} ({mb:.1} MB)", csv.display());

    let work = tempfile::tempdir_in(&dir).expect("work dir");
    let settings = Settings::for_tests(work.path(), "benchmark-admin-key-000");
    let (mut app, _) = build_app(&settings).await.expect("app");
    app.settings.precompute_statistics = false;
    let admin = app.authenticate("benchmark-admin-key-000").await.unwrap().unwrap();
    let project = app.create_project(&admin, "bench", None).await.unwrap();

    // The upload endpoint spools the request body to a file; the copy stands for that step.
    let upload = spooled(work.path(), &csv, "transactions.csv");

    let mut results = Vec::new();
    reset_peak();
    let t = Instant::now();
    let uploaded =
        app.upload_dataset(&admin, ProjectId(project.id.0), "transactions", None, upload).await.expect("upload");
    report(&mut results, "upload (ingest + store)", t.elapsed().as_secs_f64(), mb);
    println!(
        "  {} rows, {} columns, quality score {}",
        uploaded.row_count, uploaded.column_count, uploaded.quality.overall_score
    );
    let stored = app.metadata.find_version(uploaded.version_id).await.expect("version").expect("stored version");
    println!("  normalized Parquet file: {:.1} MB", stored.normalized.size_bytes as f64 / 1e6);

    reset_peak();
    let t = Instant::now();
    let stats = app.analyze(&admin, uploaded.dataset_id, &VersionRef::Latest).await.expect("analyze");
    report(&mut results, "analyze (first, computed)", t.elapsed().as_secs_f64(), mb);
    println!("  duplicate rows {}, memory_usage {:.1} MB", stats.duplicate_rows, stats.memory_usage);
    let t = Instant::now();
    app.analyze(&admin, uploaded.dataset_id, &VersionRef::Latest).await.expect("analyze");
    println!("analyze (cached)             {:>8.2} ms", t.elapsed().as_secs_f64() * 1e3);

    if std::env::var_os("BENCH_SKIP_DOWNLOADS").is_some() {
        return;
    }
    reset_peak();
    let t = Instant::now();
    let csv_format = DownloadFormat::Csv { escape_formulas: false };
    let prepared =
        app.prepare_download(&admin, uploaded.dataset_id, &VersionRef::Latest, csv_format).await.expect("csv");
    let mut stream = app.download_bytes(&prepared, None).await.expect("csv");
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        bytes += chunk.expect("chunk").len() as u64;
    }
    report(&mut results, "download CSV", t.elapsed().as_secs_f64(), bytes as f64 / 1e6);

    // The stored files as they are (the artifact store's speed).
    for (phase, format) in
        [("download Parquet (stored)", DownloadFormat::Parquet), ("download original", DownloadFormat::Original)]
    {
        reset_peak();
        let t = Instant::now();
        let prepared =
            app.prepare_download(&admin, uploaded.dataset_id, &VersionRef::Latest, format).await.expect(phase);
        let mut stream = app.download_bytes(&prepared, None).await.expect(phase);
        let mut bytes = 0u64;
        while let Some(chunk) = stream.next().await {
            bytes += chunk.expect("chunk").len() as u64;
        }
        report(&mut results, phase, t.elapsed().as_secs_f64(), bytes as f64 / 1e6);
    }

    if uploaded.row_count <= app.settings.max_xlsx_rows {
        reset_peak();
        let t = Instant::now();
        let prepared = app
            .prepare_download(&admin, uploaded.dataset_id, &VersionRef::Latest, DownloadFormat::Xlsx)
            .await
            .expect("xlsx");
        let mut stream = app.download_bytes(&prepared, None).await.expect("xlsx");
        let mut bytes = 0u64;
        while let Some(chunk) = stream.next().await {
            bytes += chunk.expect("chunk").len() as u64;
        }
        report(&mut results, "download XLSX", t.elapsed().as_secs_f64(), mb);
        println!("  {:.1} MB workbook", bytes as f64 / 1e6);
    } else {
        println!("download XLSX                skipped: {} rows exceed Excel's limit", uploaded.row_count);
    }
    // The version's Parquet file, for the reference tools to read the same table.
    let parquet_copy = dir.join("normalized.parquet");
    std::fs::copy(work.path().join("artifacts").join(&stored.normalized.storage_key), &parquet_copy)
        .expect("copy of the normalized file");
    let version = VersionRef::Latest;
    let rows = |offset: u64, filter: Option<&str>, order_by: Option<&str>| RowsRequest {
        offset,
        limit: 100,
        filter: filter.map(str::to_string),
        order_by: order_by.map(str::to_string),
        ..RowsRequest::default()
    };
    let pages = [
        ("rows: first page", rows(0, None, None)),
        ("rows: page at offset 3,000,000", rows(3_000_000.min(uploaded.row_count.saturating_sub(100)), None, None)),
        ("rows: where + order_by, first page", rows(0, Some(ROWS_WHERE), Some(ROWS_ORDER_BY))),
    ];
    for (phase, request) in pages {
        reset_peak();
        let t = Instant::now();
        let (_, page) = app.rows(&admin, uploaded.dataset_id, &version, &request).await.expect("rows");
        report(&mut results, phase, t.elapsed().as_secs_f64(), mb);
        println!("  {} rows of {} matching", page.batches.iter().map(|b| b.num_rows()).sum::<usize>(), page.total);
    }
    reset_peak();
    let t = Instant::now();
    let mut answer = app.query(&admin, uploaded.dataset_id, &version, QUERY_GROUP_BY).await.expect("query");
    let mut groups = 0;
    while let Some(batch) = answer.batches.next().await {
        groups += batch.expect("batch").num_rows();
    }
    report(&mut results, "query: group-by aggregate", t.elapsed().as_secs_f64(), mb);
    println!("  {groups} groups");

    // A second version (next month's file), then /compare with every test on every value.
    let next = dir.join(format!("transactions-{target_mb}MB-next.csv"));
    if !next.exists() {
        generate(&next, target_mb * 1_000_000, SECOND_SEED, 1.05).expect("generate the second CSV");
    }
    let next_size = std::fs::metadata(&next).expect("next csv").len();
    let upload = spooled(work.path(), &next, "next.csv");
    reset_peak();
    let t = Instant::now();
    let second = app
        .upload_version(&admin, uploaded.dataset_id, Some("next month"), upload, &Default::default())
        .await
        .expect("second version");
    report(&mut results, "upload next month (ingest + store)", t.elapsed().as_secs_f64(), next_size as f64 / 1e6);
    let next_parquet = dir.join("normalized-next.parquet");
    let stored_next = app.metadata.find_version(second.version_id).await.expect("version").expect("stored");
    std::fs::copy(work.path().join("artifacts").join(&stored_next.normalized.storage_key), &next_parquet)
        .expect("copy of the second normalized file");
    let options =
        CompareOptions { drift: DriftOptions { tests: ALL_TESTS.to_vec(), threshold: None }, ..Default::default() };
    // Statistics are cached per version (and computed at upload in the server): the phase
    // measures the comparison itself.
    app.analyze(&admin, uploaded.dataset_id, &VersionRef::Number(1)).await.expect("analyze v1");
    reset_peak();
    let t = Instant::now();
    let compared = app
        .compare(&admin, uploaded.dataset_id, &VersionRef::Number(0), &VersionRef::Number(1), &options)
        .await
        .expect("compare");
    report(&mut results, "compare: every drift test", t.elapsed().as_secs_f64(), mb + next_size as f64 / 1e6);
    println!(
        "  {} columns compared, {} drifted ({})",
        compared.dataset_drift.compared_columns,
        compared.dataset_drift.drifted_columns.len(),
        compared.dataset_drift.drifted_columns.join(", ")
    );

    // The row diff of the two versions by their unique id (a sort-merge that spills).
    reset_peak();
    let t = Instant::now();
    let diff = app
        .diff(
            &admin,
            uploaded.dataset_id,
            (&VersionRef::Number(0), &VersionRef::Number(1)),
            &[DIFF_KEY.to_string()],
            20,
        )
        .await
        .expect("diff");
    report(&mut results, "diff by key", t.elapsed().as_secs_f64(), mb + next_size as f64 / 1e6);
    println!(
        "  {} added, {} removed, {} changed, {} unchanged",
        diff.rows.added, diff.rows.removed, diff.rows.changed, diff.rows.unchanged
    );

    // The same file gzip-compressed (made once, level 6), uploaded as a new version.
    let gz = dir.join(format!("transactions-{target_mb}MB.csv.gz"));
    if !gz.exists() {
        let t = Instant::now();
        let mut encoder = flate2::write::GzEncoder::new(
            std::io::BufWriter::new(std::fs::File::create(&gz).expect("gz")),
            flate2::Compression::default(),
        );
        std::io::copy(&mut std::fs::File::open(&csv).expect("csv"), &mut encoder).expect("gzip");
        encoder.finish().expect("gzip");
        println!("compressed {} in {:.1} s", gz.display(), t.elapsed().as_secs_f64());
    }
    let gz_size = std::fs::metadata(&gz).expect("gz").len();
    let upload = spooled(work.path(), &gz, "transactions.csv.gz");
    reset_peak();
    let t = Instant::now();
    let from_gzip = app
        .upload_version(&admin, uploaded.dataset_id, Some("gzip"), upload, &Default::default())
        .await
        .expect("gzip version");
    report(&mut results, "upload gzip CSV (decompress + ingest + store)", t.elapsed().as_secs_f64(), mb);
    println!("  {:.1} MB compressed, {} rows", gz_size as f64 / 1e6, from_gzip.row_count);

    // The same file again under a contract of seven columns (warn: stored either way), to
    // measure what checking every row adds to an upload.
    let contract: ContractDraft = serde_json::from_value(serde_json::json!({
        "mode": "warn",
        "row_count_min": 1,
        "columns": [
            ["transaction_id", {"dtype": "int64", "unique": true}],
            ["amount", {"min": 0, "max": 1000000000, "max_missing_fraction": 0.05, "mostly": 0.99}],
            ["currency", {"allowed_values": ["EUR", "USD", "GBP", "CHF", "JPY"]}],
            ["country", {"pattern": "^C[0-9]{2}$"}],
            ["is_fraud", {"dtype": "bool"}],
            ["timestamp", {"dtype": "datetime64"}],
            ["description", {"max_missing_fraction": 0.1}]
        ]
    }))
    .expect("the benchmark's contract");
    app.set_contract(&admin, uploaded.dataset_id, &contract).await.expect("contract");
    let upload = spooled(work.path(), &next, "next-again.csv");
    reset_peak();
    let t = Instant::now();
    let checked = app
        .upload_version(&admin, uploaded.dataset_id, Some("next month, checked"), upload, &Default::default())
        .await
        .expect("checked version");
    report(&mut results, "upload next month with a contract", t.elapsed().as_secs_f64(), next_size as f64 / 1e6);
    let result = checked.contract.expect("a contract result");
    println!("  contract passed: {}, {} violation(s)", result.passed, result.violations.len());

    let summary = serde_json::json!({
        "input": csv, "input_gz": gz, "input_mb": mb, "rows": uploaded.row_count, "phases": results,
        "parquet": parquet_copy, "parquet_next": next_parquet, "rows_where": ROWS_WHERE, "diff_key": DIFF_KEY, "rows_order_by": ROWS_ORDER_BY, "query": QUERY_GROUP_BY,
    });
    let out = dir.join("results.json");
    std::fs::write(&out, serde_json::to_string_pretty(&summary).unwrap_or_default()).expect("results.json");
    println!("results: {}", out.display());
}
