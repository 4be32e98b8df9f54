//! `GET /api/datasets/{dataset_id}/download`: a version as a file, with HTTP's conditional
//! and range requests (see [`conditional`](super::conditional)).

use poem::Body;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::{Enum, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::conditional::{RangeAsked, content_range, http_date, none_match, range_asked};
use super::errors::{ApiError, ErrorCode, error_response};
use super::version_param::VersionParam;
use crate::app::App;
use crate::app::datasets::PreparedDownload;
use crate::domain::downloads::DownloadFormat;
use crate::domain::ids::DatasetId;
use crate::ports::artifacts::ByteStream;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum DownloadFormatParam {
    Csv,
    Xlsx,
    Parquet,
    Original,
    Jsonl,
}

const CSV_TYPE: &str = "text/csv; charset=utf-8";
const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const PARQUET_TYPE: &str = "application/vnd.apache.parquet";
const JSONL_TYPE: &str = "application/x-ndjson";
const OCTET_TYPE: &str = "application/octet-stream";

fn default_format() -> DownloadFormatParam {
    DownloadFormatParam::Csv
}

/// The answer of a download.
pub enum DownloadReply {
    /// The file (`200`), or one range of it (`206`).
    File { download: PreparedDownload, body: ByteStream, part: Option<(std::ops::Range<u64>, u64)> },
    /// The client's copy is current (`304`).
    NotModified(PreparedDownload),
    /// No byte of the file is in the range asked (`416`).
    RangeNotSatisfiable { length: u64 },
}

fn content_type(download: &PreparedDownload, original_type: &'static str) -> &'static str {
    match download.format {
        DownloadFormat::Csv { .. } => CSV_TYPE,
        DownloadFormat::Xlsx => XLSX_TYPE,
        DownloadFormat::Parquet => PARQUET_TYPE,
        DownloadFormat::Jsonl => JSONL_TYPE,
        DownloadFormat::Original => original_type,
    }
}

/// `attachment` with the ASCII name, and, when the name offered differs from it (an original
/// uploaded under another name), that name exactly, in UTF-8 (RFC 6266, RFC 8187).
fn disposition(download: &PreparedDownload) -> String {
    let ascii = format!("attachment; filename=\"{}\"", download.ascii_file_name);
    if download.file_name == download.ascii_file_name {
        return ascii;
    }
    let exact = percent_encoding::utf8_percent_encode(&download.file_name, percent_encoding::NON_ALPHANUMERIC);
    format!("{ascii}; filename*=UTF-8''{exact}")
}

fn set(response: &mut poem::Response, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// The headers every answer about the file carries: its tag and date, and whether ranges
/// are served.
fn describe(response: &mut poem::Response, download: &PreparedDownload) {
    set(response, header::ETAG, &download.etag);
    set(response, header::LAST_MODIFIED, &http_date(download.last_modified));
    set(response, header::ACCEPT_RANGES, if download.stored.is_some() { "bytes" } else { "none" });
}

impl poem::IntoResponse for DownloadReply {
    fn into_response(self) -> poem::Response {
        match self {
            DownloadReply::NotModified(download) => {
                let mut response = poem::Response::builder().status(StatusCode::NOT_MODIFIED).finish();
                describe(&mut response, &download);
                response
            }
            DownloadReply::RangeNotSatisfiable { length } => {
                let mut response = error_response(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    ErrorCode::RangeNotSatisfiable,
                    &format!("the range asked for is outside the file's {length} bytes"),
                );
                set(&mut response, header::CONTENT_RANGE, &format!("bytes */{length}"));
                response
            }
            DownloadReply::File { download, body, part } => {
                let original_type = download.source_format.media_type();
                let body = Body::from_bytes_stream(futures_util::StreamExt::map(body, |chunk| {
                    chunk.map_err(|e| {
                        tracing::error!(error = %crate::app::errors::ErrorChain(&e), "download stream failed");
                        std::io::Error::other(e.to_string())
                    })
                }));
                let status = if part.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
                let mut response = poem::Response::builder()
                    .status(status)
                    .content_type(content_type(&download, original_type))
                    .body(body);
                describe(&mut response, &download);
                set(&mut response, header::CONTENT_DISPOSITION, &disposition(&download));
                if let Some(file) = &download.stored {
                    let length = part.as_ref().map_or(file.length, |(range, _)| range.end - range.start);
                    set(&mut response, header::CONTENT_LENGTH, &length.to_string());
                }
                if let (Some(file), DownloadFormat::Original) = (&download.stored, download.format) {
                    use base64::Engine;
                    let bytes = hex::decode(&file.sha256).unwrap_or_default();
                    let digest = base64::engine::general_purpose::STANDARD.encode(bytes);
                    set(&mut response, header::HeaderName::from_static("repr-digest"), &format!("sha-256=:{digest}:"));
                    set(&mut response, header::HeaderName::from_static("x-content-sha256"), &file.sha256);
                }
                if let Some((range, length)) = &part {
                    set(&mut response, header::CONTENT_RANGE, &content_range(range, *length));
                }
                response
            }
        }
    }
}

fn header_doc(name: &str, description: &str) -> MetaHeader {
    MetaHeader {
        name: name.to_string(),
        description: Some(description.to_string()),
        required: false,
        deprecated: false,
        schema: <String as poem_openapi::types::Type>::schema_ref(),
    }
}

impl poem_openapi::ApiResponse for DownloadReply {
    fn meta() -> MetaResponses {
        let binary = || MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary")));
        let file_types = || {
            [CSV_TYPE, XLSX_TYPE, PARQUET_TYPE, JSONL_TYPE, OCTET_TYPE]
                .into_iter()
                .map(|content_type| MetaMediaType { content_type, schema: binary() })
                .collect::<Vec<_>>()
        };
        let described = || {
            vec![
                header_doc(
                    "ETag",
                    "A strong tag derived from the content: the same version and format always have it.",
                ),
                header_doc("Last-Modified", "When the version was created."),
                header_doc("Accept-Ranges", "`bytes` for `parquet` and `original`, `none` otherwise."),
            ]
        };
        let file_headers = || {
            let mut headers = described();
            headers.extend([
                header_doc(
                    "Content-Disposition",
                    "`attachment; filename=\"NAME-vN.EXT\"`; for `original`, also `filename*=UTF-8''…` with the uploaded file's name when known.",
                ),
                header_doc("Repr-Digest", "`original` only: `sha-256=:BASE64:` of the uploaded bytes (RFC 9530)."),
                header_doc("X-Content-SHA256", "`original` only: the hex SHA-256 of the uploaded bytes."),
            ]);
            headers
        };
        let mut part_headers = file_headers();
        part_headers.push(header_doc("Content-Range", "`bytes FIRST-LAST/LENGTH`."));
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "The file, streamed: CSV, XLSX, Parquet, JSON Lines, or the original upload \
                                  (`text/csv`, Parquet or `application/octet-stream`).",
                    status: Some(200),
                    status_range: None,
                    content: file_types(),
                    headers: file_headers(),
                },
                MetaResponse {
                    description: "One range of the file (`parquet` and `original`), as the `Range` header asked.",
                    status: Some(206),
                    status_range: None,
                    content: file_types(),
                    headers: part_headers,
                },
                MetaResponse {
                    description: "Not modified: `If-None-Match` holds the file's tag. No body.",
                    status: Some(304),
                    status_range: None,
                    content: vec![],
                    headers: described(),
                },
                MetaResponse {
                    description: "No byte of the file is in the range asked (`range_not_satisfiable`); \
                                  `Content-Range: bytes */LENGTH`.",
                    status: Some(416),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json; charset=utf-8",
                        schema: <super::errors::ErrorBody as poem_openapi::types::Type>::schema_ref(),
                    }],
                    headers: vec![header_doc("Content-Range", "`bytes */LENGTH`.")],
                },
            ],
        }
    }

    fn register(registry: &mut Registry) {
        <super::errors::ErrorBody as poem_openapi::types::Type>::register(registry);
    }
}

pub struct DownloadApi;

#[OpenApi(tag = "ApiTags::Datasets")]
impl DownloadApi {
    /// Download a dataset
    ///
    /// A version (the latest by default) as a file. `format=csv` (default) streams RFC 4180
    /// CSV in UTF-8; `escape_formulas=true` prefixes text cells and column names that begin
    /// with `=`, `+`, `-`, `@`, tab or CR with `'` (CSV-injection protection; off by default to
    /// stay faithful to the data). `format=xlsx` returns an Excel workbook (numbers, dates,
    /// booleans and text as typed cells, a bold header row); a version beyond Excel's limits or
    /// `MAX_XLSX_ROWS` answers 422 `not_exportable`, suggesting CSV. `format=parquet` streams the
    /// normalized, typed Parquet file as stored; `format=original` the uploaded bytes exactly,
    /// under the uploaded file's name, with their SHA-256 in `Repr-Digest` and
    /// `X-Content-SHA256`; `format=jsonl` one JSON object a row, typed like the preview.
    ///
    /// Every answer has a strong `ETag` derived from the content and `Last-Modified`;
    /// `If-None-Match` with the tag answers `304` without a body. `parquet` and `original`
    /// serve single byte ranges (`Range: bytes=…`, `206` with `Content-Range`; `416` when no
    /// byte is in the range; `If-Range` honoured), so that Parquet readers (pyarrow, polars,
    /// DuckDB) can read a remote version's footer and only the row groups they need.
    #[oai(path = "/api/datasets/:dataset_id/download", method = "get", operation_id = "download_dataset")]
    #[allow(clippy::too_many_arguments)]
    async fn download(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// `csv` (default), `xlsx`, `parquet`, `original` or `jsonl`.
        #[oai(default = "default_format")]
        format: Query<DownloadFormatParam>,
        /// CSV only: escape text cells and column names that a spreadsheet could run as
        /// formulas.
        #[oai(default)]
        escape_formulas: Query<bool>,
        /// The version: a number, or `latest` (default).
        #[oai(default)]
        version: Query<VersionParam>,
        /// Tags of copies the client holds: the current one answers `304`.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
        /// One byte range (`bytes=FIRST-LAST`, `bytes=FIRST-`, `bytes=-SUFFIX`), for
        /// `parquet` and `original`.
        #[oai(name = "Range")]
        range: Header<Option<String>>,
        /// Serve the range only if the file still has this tag (else the whole file).
        #[oai(name = "If-Range")]
        if_range: Header<Option<String>>,
    ) -> Result<DownloadReply, ApiError> {
        let format = match format.0 {
            DownloadFormatParam::Csv => DownloadFormat::Csv { escape_formulas: escape_formulas.0 },
            DownloadFormatParam::Xlsx => DownloadFormat::Xlsx,
            DownloadFormatParam::Parquet => DownloadFormat::Parquet,
            DownloadFormatParam::Original => DownloadFormat::Original,
            DownloadFormatParam::Jsonl => DownloadFormat::Jsonl,
        };
        let download = app.prepare_download(&auth.0, DatasetId(dataset_id.0), &version.0.0, format).await?;
        if none_match(if_none_match.0.as_deref(), &download.etag) {
            return Ok(DownloadReply::NotModified(download));
        }
        let part = match &download.stored {
            None => None,
            Some(file) => match range_asked(range.0.as_deref(), if_range.0.as_deref(), &download.etag, file.length) {
                RangeAsked::Whole => None,
                RangeAsked::Part(part) => Some((part, file.length)),
                RangeAsked::Unsatisfiable => return Ok(DownloadReply::RangeNotSatisfiable { length: file.length }),
            },
        };
        let body = app.download_bytes(&download, part.as_ref().map(|(r, _)| r.clone())).await?;
        Ok(DownloadReply::File { download, body, part })
    }
}
