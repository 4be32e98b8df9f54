//! What a download of a version is: its format, the file name offered, and its entity tag.
//!
//! The entity tag is strong and derived from content alone, so the same version in the same
//! format (and options) has the same tag on every instance and after every restart:
//! - `original`: the SHA-256 of the uploaded bytes;
//! - `parquet`: the SHA-256 of the normalized file (the bytes served);
//! - `csv`, `jsonl`, `xlsx`: a SHA-256 over the normalized file's SHA-256, the format, its
//!   options and [`ENCODING_REVISION`] — the encoders are deterministic, so equal inputs give
//!   equal bytes; a change of an encoder's output must raise the revision.

use sha2::{Digest, Sha256};

/// Raised whenever an encoder's output changes for the same table (so that caches holding the
/// old bytes under the old tag are not told they are current).
pub const ENCODING_REVISION: u32 = 1;

/// The formats a version downloads in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadFormat {
    /// The normalized table as RFC 4180 CSV; `escape_formulas` prefixes formula-like text.
    Csv { escape_formulas: bool },
    /// An Excel workbook.
    Xlsx,
    /// The normalized, typed Parquet file, as stored.
    Parquet,
    /// The uploaded bytes, as uploaded.
    Original,
    /// JSON Lines: one object a row, typed like the preview.
    Jsonl,
}

impl DownloadFormat {
    /// The file name extension (for `original`: of the source format, given by the caller).
    fn extension(self) -> &'static str {
        match self {
            Self::Csv { .. } => "csv",
            Self::Xlsx => "xlsx",
            Self::Parquet => "parquet",
            Self::Jsonl => "jsonl",
            Self::Original => "bin",
        }
    }

    /// Whether the bytes are a stored file served as is (so byte ranges can be asked for).
    pub fn is_stored_file(self) -> bool {
        matches!(self, Self::Parquet | Self::Original)
    }

    /// The strong entity tag (quoted) of this format of a version whose normalized file and
    /// uploaded file have the given SHA-256s (lower-case hex).
    pub fn etag(self, normalized_sha256: &str, original_sha256: &str) -> String {
        let tag = match self {
            Self::Original => format!("sha256-{original_sha256}"),
            Self::Parquet => format!("sha256-{normalized_sha256}"),
            Self::Csv { escape_formulas } => {
                derived(normalized_sha256, &format!("csv;escape_formulas={escape_formulas}"))
            }
            Self::Xlsx => derived(normalized_sha256, "xlsx"),
            Self::Jsonl => derived(normalized_sha256, "jsonl"),
        };
        format!("\"{tag}\"")
    }
}

fn derived(normalized_sha256: &str, format: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{normalized_sha256}\n{format}\n{ENCODING_REVISION}").as_bytes());
    format!("{format}-{}", &hex::encode(hasher.finalize())[..32]).replace(';', "-").replace('=', "-")
}

/// `Transactions Q4` version 2 → `Transactions_Q4-v2.csv`: ASCII letters, digits, `-`, `_`
/// and `.` only, so the name is safe in a `Content-Disposition` header on every platform.
/// `original_extension` names the original's extension (its source format).
pub fn download_file_name(name: &str, version: i64, format: DownloadFormat, original_extension: &str) -> String {
    let mut safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    safe.truncate(100);
    let safe = safe.trim_matches(['_', '.']);
    let safe = if safe.is_empty() { "dataset" } else { safe };
    let extension = if format == DownloadFormat::Original { original_extension } else { format.extension() };
    format!("{safe}-v{version}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const O: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn download_names_are_header_safe() {
        let csv = DownloadFormat::Csv { escape_formulas: false };
        assert_eq!(download_file_name("Transactions Q4", 2, csv, "csv"), "Transactions_Q4-v2.csv");
        assert_eq!(download_file_name("\"; rm -rf /", 0, csv, "csv"), "rm_-rf-v0.csv");
        assert_eq!(download_file_name("日本", 1, csv, "csv"), "dataset-v1.csv");
        assert_eq!(download_file_name("T", 1, DownloadFormat::Original, "parquet"), "T-v1.parquet");
        assert_eq!(download_file_name("T", 1, DownloadFormat::Jsonl, "csv"), "T-v1.jsonl");
    }

    #[test]
    fn stored_files_are_tagged_by_their_own_hash() {
        assert_eq!(DownloadFormat::Original.etag(N, O), format!("\"sha256-{O}\""));
        assert_eq!(DownloadFormat::Parquet.etag(N, O), format!("\"sha256-{N}\""));
    }

    #[test]
    fn encoded_formats_have_one_tag_per_content_format_and_option() {
        let plain = DownloadFormat::Csv { escape_formulas: false };
        let escaped = DownloadFormat::Csv { escape_formulas: true };
        let tags =
            [plain.etag(N, O), escaped.etag(N, O), DownloadFormat::Xlsx.etag(N, O), DownloadFormat::Jsonl.etag(N, O)];
        for (i, a) in tags.iter().enumerate() {
            assert!(a.starts_with('"') && a.ends_with('"') && !a[1..a.len() - 1].contains('"'), "{a}");
            for b in &tags[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(plain.etag(N, O), plain.etag(N, "other original"), "derived from the table, not the upload");
        assert_ne!(plain.etag(N, O), plain.etag(O, O));
    }
}
