//! The records the registry keeps: users, projects, datasets, versions and their artifacts.

use chrono::{DateTime, Utc};

use crate::domain::access::Role;
use crate::domain::dtype::ColumnSchema;
use crate::domain::ids::{ApiKeyId, ArtifactId, DatasetId, ProjectId, UserId, VersionId};
use crate::domain::preview::PreviewRow;
use crate::domain::quality::QualityReport;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

/// An API key as stored: only the SHA-256 of the key, never the key.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub key_hash: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// The table format an upload was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Parquet,
    /// JSON Lines / NDJSON: one object a line.
    Jsonl,
    /// A JSON array of objects.
    Json,
    /// An Arrow IPC file (also Feather v2).
    ArrowFile,
    /// An Arrow IPC stream.
    ArrowStream,
    /// An Excel workbook (Office Open XML; also `.xlsm`).
    Xlsx,
    /// An Excel binary workbook.
    Xlsb,
    /// An OpenDocument spreadsheet.
    Ods,
    /// A legacy Excel workbook (BIFF8, Excel 97–2003).
    Xls,
}

impl TableFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            TableFormat::Parquet => "parquet",
            TableFormat::Jsonl => "jsonl",
            TableFormat::Json => "json",
            TableFormat::ArrowFile => "arrow",
            TableFormat::ArrowStream => "arrows",
            TableFormat::Xlsx => "xlsx",
            TableFormat::Xlsb => "xlsb",
            TableFormat::Ods => "ods",
            TableFormat::Xls => "xls",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "csv" => Some(TableFormat::Csv),
            "parquet" => Some(TableFormat::Parquet),
            "jsonl" => Some(TableFormat::Jsonl),
            "json" => Some(TableFormat::Json),
            "arrow" => Some(TableFormat::ArrowFile),
            "arrows" => Some(TableFormat::ArrowStream),
            "xlsx" => Some(TableFormat::Xlsx),
            "xlsb" => Some(TableFormat::Xlsb),
            "ods" => Some(TableFormat::Ods),
            "xls" => Some(TableFormat::Xls),
            _ => None,
        }
    }

    /// The media type of a file of this format.
    pub fn media_type(self) -> &'static str {
        match self {
            TableFormat::Csv => "text/csv",
            TableFormat::Parquet => "application/vnd.apache.parquet",
            TableFormat::Jsonl => "application/x-ndjson",
            TableFormat::Json => "application/json",
            TableFormat::ArrowFile => "application/vnd.apache.arrow.file",
            TableFormat::ArrowStream => "application/vnd.apache.arrow.stream",
            TableFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            TableFormat::Xlsb => "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
            TableFormat::Ods => "application/vnd.oasis.opendocument.spreadsheet",
            TableFormat::Xls => "application/vnd.ms-excel",
        }
    }
}

/// A compression around an uploaded table (recognised by its magic bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

impl Compression {
    pub const ALL: [Compression; 4] = [Compression::Gzip, Compression::Zstd, Compression::Bzip2, Compression::Xz];

    /// The compression whose magic bytes begin `head`, if any.
    pub fn detect(head: &[u8]) -> Option<Self> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Self::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Self::Zstd)
        } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
            Some(Self::Bzip2)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Self::Xz)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
            Self::Bzip2 => "bzip2",
            Self::Xz => "xz",
        }
    }

    /// The usual file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Gzip => "gz",
            Self::Zstd => "zst",
            Self::Bzip2 => "bz2",
            Self::Xz => "xz",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Self::Gzip => "application/gzip",
            Self::Zstd => "application/zstd",
            Self::Bzip2 => "application/x-bzip2",
            Self::Xz => "application/x-xz",
        }
    }
}

/// The format of an uploaded file: its table format and the compression around it. Stored
/// as its name: `csv`, `parquet`, or with the compression's extension, `csv.gz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceFormat {
    pub table: TableFormat,
    pub compression: Option<Compression>,
}

impl SourceFormat {
    pub const CSV: SourceFormat = SourceFormat { table: TableFormat::Csv, compression: None };
    pub const PARQUET: SourceFormat = SourceFormat { table: TableFormat::Parquet, compression: None };

    /// `csv`, `parquet`, `csv.gz`, … (also the original's file extension).
    pub fn name(self) -> String {
        match self.compression {
            None => self.table.as_str().to_string(),
            Some(c) => format!("{}.{}", self.table.as_str(), c.extension()),
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let (table, compression) = match raw.split_once('.') {
            None => (raw, None),
            Some((table, extension)) => {
                (table, Some(Compression::ALL.into_iter().find(|c| c.extension() == extension)?))
            }
        };
        Some(SourceFormat { table: TableFormat::parse(table)?, compression })
    }

    /// The media type of the original file.
    pub fn media_type(self) -> &'static str {
        self.compression.map_or(self.table.media_type(), Compression::media_type)
    }
}

/// What an artifact holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    /// The uploaded file, byte for byte.
    Original,
    /// The typed Parquet copy every read is served from.
    Normalized,
}

impl ArtifactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Original => "original",
            ArtifactKind::Normalized => "normalized",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "original" => Some(ArtifactKind::Original),
            "normalized" => Some(ArtifactKind::Normalized),
            _ => None,
        }
    }
}

/// A stored file. `storage_key` is the key in the artifact store.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub id: ArtifactId,
    pub kind: ArtifactKind,
    pub storage_key: String,
    pub size_bytes: u64,
    /// Lower-case hex SHA-256 of the stored bytes.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

/// Key layout in the artifact store: everything of a version lives under one prefix, so a
/// dataset's files can be found (and swept) by prefix.
pub fn artifact_key(dataset: DatasetId, version: VersionId, kind: ArtifactKind, format: SourceFormat) -> String {
    match kind {
        ArtifactKind::Original => format!("datasets/{dataset}/{version}/original.{}", format.name()),
        ArtifactKind::Normalized => format!("datasets/{dataset}/{version}/data.parquet"),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub id: DatasetId,
    pub project_id: ProjectId,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The newest version (every dataset has at least one).
    pub latest_version_id: VersionId,
    pub latest_version: i64,
    pub rows: u64,
    pub columns: u64,
    /// How many times the dataset changed since its first version (a new version, an alias
    /// set or removed): its entity tag (`domain::aliases::dataset_etag`).
    pub revision: i64,
}

/// A row of the dataset listing.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetListItem {
    pub dataset: Dataset,
    pub project_name: String,
}

/// A version without its bulky parts (schema, preview): what version listings show.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionSummary {
    pub id: VersionId,
    pub dataset_id: DatasetId,
    pub version: i64,
    pub row_count: u64,
    pub column_count: u64,
    pub description: Option<String>,
    pub created_by: UserId,
    pub created_by_name: String,
    pub created_at: DateTime<Utc>,
    /// Lower-case hex SHA-256 of the uploaded bytes.
    pub sha256: Option<String>,
    /// The hash of the normalized table (`domain::content_hash`); `None` for a version
    /// uploaded before it was recorded, until it is computed.
    pub content_hash: Option<String>,
}

/// One immutable version with everything recorded at upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub summary: VersionSummary,
    pub source_format: SourceFormat,
    pub columns: Vec<ColumnSchema>,
    pub quality: QualityReport,
    pub preview: Vec<PreviewRow>,
    /// The name the original file was uploaded under, when known.
    pub original_file_name: Option<String>,
    pub original: Artifact,
    pub normalized: Artifact,
    /// How the table fared against the dataset's contract at upload (none without one).
    pub contract: Option<crate::domain::contracts::ContractResult>,
    /// The hints the upload was read with (empty when none was given).
    pub read_hints: crate::domain::read_hints::ReadHints,
    /// Why each column has its type; `None` for a version uploaded before it was recorded.
    pub type_evidence: Option<Vec<crate::domain::inference::TypeEvidence>>,
}

/// What the metadata store records for an upload, in one transaction.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// Set when the upload creates the dataset.
    pub new_dataset: Option<NewDataset>,
    pub dataset_id: DatasetId,
    pub version_id: VersionId,
    pub description: Option<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub source_format: SourceFormat,
    pub row_count: u64,
    pub columns: Vec<ColumnSchema>,
    pub quality: QualityReport,
    pub preview: Vec<PreviewRow>,
    /// The name the original file was uploaded under, when the client gave one.
    pub original_file_name: Option<String>,
    /// The hash of the normalized table (`domain::content_hash`).
    pub content_hash: String,
    pub original: Artifact,
    pub normalized: Artifact,
    /// For a next version: only when the dataset is still at this revision (`If-Match`).
    pub if_revision: Option<i64>,
    /// How the table fared against the dataset's contract (none without one).
    pub contract: Option<crate::domain::contracts::ContractResult>,
    /// The hints the upload was read with.
    pub read_hints: crate::domain::read_hints::ReadHints,
    /// Why each column has its type (in column order).
    pub type_evidence: Vec<crate::domain::inference::TypeEvidence>,
}

#[derive(Debug, Clone)]
pub struct NewDataset {
    pub project_id: ProjectId,
    pub name: String,
    pub description: Option<String>,
}

/// Sort keys of the dataset listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetSort {
    CreatedAt,
    Name,
    Rows,
    Columns,
    ProjectName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDirection {
    Asc,
    Desc,
}

/// A page request: `limit` items from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u64,
    pub offset: u64,
}

/// A filtered, sorted page of the dataset listing.
#[derive(Debug, Clone)]
pub struct DatasetQuery {
    /// Only datasets of these projects; `None` means every project.
    pub projects: Option<Vec<ProjectId>>,
    /// Case-insensitive substring of the name or the description.
    pub search: Option<String>,
    pub sort: DatasetSort,
    pub direction: SortDirection,
    pub page: Page,
}
