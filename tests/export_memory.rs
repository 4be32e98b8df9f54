//! A large dataset is downloaded as CSV in bounded memory: the process's peak RSS grows by
//! far less than the size of the data while the whole file streams out. One test alone in
//! its binary, so that no other test's allocations count. Linux only (reads /proc).

use std::io::Write;

use datasets_api::app::ingest::SpooledUpload;
use datasets_api::config::Settings;
use datasets_api::domain::downloads::DownloadFormat;
use datasets_api::domain::ids::ProjectId;
use datasets_api::domain::version_ref::VersionRef;
use datasets_api::server::build_app;
use futures_util::StreamExt;

/// Bound on the growth of the peak RSS while the CSV streams out.
const BOUND_MIB: f64 = 48.0;
const ROWS: usize = 3_000_000;

fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn reset_peak() -> bool {
    // SAFETY: malloc_trim only returns free heap memory to the OS.
    unsafe {
        libc::malloc_trim(0);
    }
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_csv_download_streams_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::for_tests(dir.path(), "memory-test-admin-key");
    let (mut app, _) = build_app(&settings).await.unwrap();
    app.settings.precompute_statistics = false;
    let admin = app.authenticate("memory-test-admin-key").await.unwrap().unwrap();
    let project = app.create_project(&admin, "memory", None).await.unwrap();

    let path = dir.path().join("spool").join("big.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "id,amount,score,label").unwrap();
    for i in 0..ROWS {
        writeln!(out, "{i},{}.25,{},label number {}", i % 100_000, i % 977, i % 5000).unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let size = std::fs::metadata(&path).unwrap().len();
    let upload = SpooledUpload {
        path: tempfile::TempPath::try_from_path(&path).unwrap(),
        size,
        sha256: String::new(),
        file_name: None,
        hints: Default::default(),
    };
    let uploaded = app.upload_dataset(&admin, ProjectId(project.id.0), "big", None, upload).await.unwrap();
    assert_eq!(uploaded.row_count, ROWS as u64);

    if !reset_peak() {
        eprintln!("skipped: /proc/self/clear_refs is not writable here, so peak RSS cannot be measured");
        return;
    }
    let baseline = status_mib("VmRSS:").unwrap();
    let csv = DownloadFormat::Csv { escape_formulas: false };
    let prepared = app.prepare_download(&admin, uploaded.dataset_id, &VersionRef::Latest, csv).await.unwrap();
    let mut stream = app.download_bytes(&prepared, None).await.unwrap();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        bytes += chunk.unwrap().len() as u64;
    }
    let growth = status_mib("VmHWM:").unwrap() - baseline;
    let exported_mib = bytes as f64 / (1024.0 * 1024.0);
    eprintln!("exported {exported_mib:.1} MiB of CSV; peak RSS grew by {growth:.1} MiB");
    assert!(exported_mib > 2.0 * BOUND_MIB, "the dataset must be larger than the bound to prove anything");
    assert!(growth < BOUND_MIB, "peak RSS grew by {growth:.1} MiB while exporting {exported_mib:.1} MiB");
}
