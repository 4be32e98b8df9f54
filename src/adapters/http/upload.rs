//! Streamed `multipart/form-data` uploads. poem-openapi's own `Upload` buffers the whole file
//! before the handler runs; this payload hands the handler poem's streaming `Multipart`, and
//! [`read_form`] spools the `file` field to disk while counting and hashing it, stopping as
//! soon as the configured limit is passed. [`UploadAnswer::receive`] is the one way both
//! upload operations read their form and answer.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use poem::web::Multipart;
use poem::{Request, RequestBody};
use poem_openapi::impl_apirequest_for_payload;
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;
use poem_openapi::types::{ParseFromJSON, ToJSON};

use super::errors::{ApiError, ErrorBody, ErrorCode};
use super::limits::HttpLimits;
use super::text::rule_schema;
use crate::app::ingest::{SpooledUpload, Uploaded};
use crate::app::{App, AppError};
use crate::domain::names::{DESCRIPTION_RULE, NAME_RULE, REQUIRED_DESCRIPTION_RULE, TextRule, uploaded_file_name};
use crate::domain::read_hints::{BadHint, ReadHints};

/// Longest text form field, in bytes.
const MAX_TEXT_FIELD: u64 = 64 * 1024;
/// Most fields a form may have.
const MAX_FIELDS: usize = 32;
const CHUNK: usize = 256 * 1024;

fn is_multipart(content_type: &str) -> bool {
    content_type.split(';').next().map(str::trim).is_some_and(|e| e.eq_ignore_ascii_case("multipart/form-data"))
}

fn string_schema(format: Option<&'static str>, description: &'static str) -> MetaSchemaRef {
    let base = match format {
        Some(f) => MetaSchema::new_with_format("string", f),
        None => MetaSchema::new("string"),
    };
    MetaSchemaRef::Inline(Box::new(MetaSchema { description: Some(description), ..base }))
}

/// How one form field is described in the OpenAPI document.
enum FieldKind {
    Format(&'static str),
    /// `true` or `false`.
    Flag,
    /// `true` or `false`, with this default (none: detected).
    FlagDefault(Option<bool>),
    /// An optional hint: its example is empty, so that forms which send every field (Swagger
    /// UI fills a field from its example) send "not given".
    Hint(Option<&'static str>),
    /// Text under one of the domain's rules.
    Text(TextRule),
}

impl FieldKind {
    fn schema(self, description: &'static str) -> MetaSchemaRef {
        match self {
            FieldKind::Format(f) => string_schema(Some(f), description),
            FieldKind::Flag => MetaSchemaRef::Inline(Box::new(MetaSchema {
                description: Some(description),
                default: Some(serde_json::Value::Bool(false)),
                ..MetaSchema::new("boolean")
            })),
            FieldKind::FlagDefault(default) => MetaSchemaRef::Inline(Box::new(MetaSchema {
                description: Some(description),
                default: default.map(serde_json::Value::Bool),
                ..MetaSchema::new("boolean")
            })),
            FieldKind::Hint(format) => {
                let base = match format {
                    Some(f) => MetaSchema::new_with_format("string", f),
                    None => MetaSchema::new("string"),
                };
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    description: Some(description),
                    example: Some(serde_json::Value::String(String::new())),
                    ..base
                }))
            }
            FieldKind::Text(rule) => MetaSchemaRef::Inline(Box::new(rule_schema(rule, Some(description)))),
        }
    }
}

/// A `true`/`false` field whose absence means `true`.
fn flag_default_true() -> FieldKind {
    FieldKind::FlagDefault(Some(true))
}

/// A `true`/`false` field whose absence means "detect".
fn flag_default_none() -> FieldKind {
    FieldKind::FlagDefault(None)
}

/// A text hint.
fn hint_text() -> FieldKind {
    FieldKind::Hint(None)
}

/// A JSON hint.
fn hint_json() -> FieldKind {
    FieldKind::Hint(Some("json"))
}

fn format(f: &'static str) -> FieldKind {
    FieldKind::Format(f)
}

fn flag() -> FieldKind {
    FieldKind::Flag
}

fn text(rule: TextRule) -> FieldKind {
    FieldKind::Text(rule)
}

/// The read hints (`ReadHints`), fields of both upload forms, after their own.
fn read_hint_properties() -> Vec<(&'static str, MetaSchemaRef)> {
    vec![
        ("dtypes", hint_json().schema("A JSON object of column name to dtype (`int64`, `float64`, `bool`, `datetime64`, `object`, `category`): those columns get that type; a value that is not of it is refused (`422` naming the column, the value, its data row and, for CSV text, its line).")),
        ("na_values", hint_json().schema("A JSON array of extra missing markers, added to the default ones (pandas' `na_values`; see `keep_default_na`).")),
        ("keep_default_na", flag_default_true().schema("`false`: the default missing markers (`NA`, `null`, …) are values; only the empty cell and `na_values` are missing.")),
        ("delimiter", hint_text().schema("The CSV field delimiter, one ASCII character (`\\t` or `tab` for a tab); detected when absent.")),
        ("encoding", hint_text().schema("The text's encoding, a WHATWG label (`utf-8`, `latin1`, `windows-1252`, `utf-16le`, …) or Python's spelling of one (`latin-1`, `utf_8`, `utf-8-sig`, …); detected when absent.")),
        ("header", flag_default_none().schema("`true`: the first CSV row is the header; `false`: there is none (columns are named `column_1`, …); detected when absent.")),
        ("sheet", hint_text().schema("The spreadsheet's sheet to read, by name; the first sheet when absent.")),
    ]
}

/// A multipart form: its own fields, then the read hints.
macro_rules! multipart_form {
    ($(#[$doc:meta])* $name:ident, required: [$($req:literal),*], fields: [$(($field:literal, $format:expr, $desc:literal)),* $(,)?]) => {
        $(#[$doc])*
        pub struct $name(pub Multipart);

        impl Payload for $name {
            const CONTENT_TYPE: &'static str = "multipart/form-data";

            fn check_content_type(content_type: &str) -> bool {
                is_multipart(content_type)
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    required: vec![$($req),*],
                    properties: [vec![$(($field, $format.schema($desc))),*], read_hint_properties()].concat(),
                    ..MetaSchema::new("object")
                }))
            }

            fn register(_registry: &mut Registry) {}
        }

        impl ParsePayload for $name {
            const IS_REQUIRED: bool = true;

            async fn from_request(req: &Request, body: &mut RequestBody) -> poem::Result<Self> {
                Ok(Self(<Multipart as poem::FromRequest>::from_request(req, body).await?))
            }
        }

        impl_apirequest_for_payload!($name);
    };
}

multipart_form!(
    /// The form of `POST /api/datasets/upload`.
    UploadDatasetForm,
    required: ["project_id", "name", "file"],
    fields: [
        ("project_id", format("uuid"), "UUID of the owning project."),
        ("name", text(NAME_RULE), "Human-readable dataset name."),
        ("description", text(DESCRIPTION_RULE), "Optional description."),
        ("file", format("binary"), "The file to upload: CSV, JSON Lines, JSON, Parquet, Arrow IPC (Feather) or a spreadsheet, compressed with gzip, zstd, bzip2 or xz or not."),
    ]
);

multipart_form!(
    /// The form of `POST /api/datasets/{dataset_id}/versions`.
    UploadVersionForm,
    required: ["description", "file"],
    fields: [
        ("description", text(REQUIRED_DESCRIPTION_RULE), "Description of what changed in this version."),
        ("file", format("binary"), "The file: CSV, JSON Lines, JSON, Parquet, Arrow IPC (Feather) or a spreadsheet, compressed with gzip, zstd, bzip2 or xz or not."),
        (
            "skip_if_unchanged",
            flag(),
            "`true`: when the file's table equals the latest version's (the same `content_hash`), store nothing and answer 200 with the latest version and `unchanged: true`."
        ),
        (
            "reuse_hints",
            flag(),
            "`true`: read the file with the hints the latest version was read with (`hints` on the version); hints given in this form replace those of the same name."
        ),
    ]
);

/// A parsed form: its text fields and the spooled file.
pub struct ReceivedForm {
    pub text: HashMap<String, String>,
    pub file: SpooledUpload,
}

impl ReceivedForm {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.text.get(name).map(String::as_str)
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.field(name).ok_or_else(|| ApiError::bad_request(format!("the form field `{name}` is required")))
    }

    /// A `true`/`false` field (`false` when absent).
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.field(name).map(str::trim) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(ApiError::bad_request(format!("the form field `{name}` must be true or false"))),
        }
    }
}

fn malformed(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("malformed multipart body: {e}"))
}

/// Why a form could not be read.
#[derive(Debug)]
pub enum FormError {
    /// No byte of the body arrived for the idle limit: the answer is `408 request_timeout`,
    /// documented on the two upload operations only.
    Stalled(ErrorBody),
    /// Any other error answer.
    Api(ApiError),
}

impl From<ApiError> for FormError {
    fn from(e: ApiError) -> Self {
        FormError::Api(e)
    }
}

/// The answer of an upload operation.
#[derive(ApiResponse)]
pub enum UploadAnswer<T: ParseFromJSON + ToJSON + Send + Sync> {
    /// Created. `Server-Timing` says how long each phase took. With `Idempotent-Replayed:
    /// true`, this is the recorded answer of an earlier request with the same
    /// `Idempotency-Key` (nothing was stored again, and `Server-Timing` is absent).
    #[oai(status = 201)]
    Created(
        Json<T>,
        #[oai(header = "Server-Timing")] Option<String>,
        #[oai(header = "Idempotent-Replayed")] Option<String>,
    ),
    /// Only for a new version with `skip_if_unchanged=true`: the file's table equals the latest
    /// version's; nothing was stored and the answer is the latest version (`unchanged: true`).
    #[oai(status = 200)]
    Unchanged(
        Json<T>,
        #[oai(header = "Server-Timing")] Option<String>,
        #[oai(header = "Idempotent-Replayed")] Option<String>,
    ),
    /// The body stopped arriving: no byte came for `UPLOAD_IDLE_TIMEOUT_SECONDS`
    /// (`request_timeout`). Nothing was stored.
    #[oai(status = 408)]
    Stalled(Json<ErrorBody>),
}

impl<T: ParseFromJSON + ToJSON + Send + Sync> UploadAnswer<T> {
    /// Reads `form` within the app's limits, hands it to `upload`, and answers `201` with
    /// what `answer` makes of the upload (or `408` when the body stalled).
    pub async fn receive(
        form: Multipart,
        app: &App,
        limits: &HttpLimits,
        upload: impl AsyncFnOnce(ReceivedForm) -> Result<Uploaded, ApiError>,
        answer: impl FnOnce(&Uploaded) -> T,
    ) -> Result<Self, ApiError> {
        let form = read_form(form, &app.settings.spool_dir, app.settings.max_upload_bytes, limits.upload_idle_timeout);
        let form = match form.await {
            Ok(form) => form,
            Err(FormError::Stalled(body)) => return Ok(Self::Stalled(Json(body))),
            Err(FormError::Api(e)) => return Err(e),
        };
        let uploaded = upload(form).await?;
        let (body, timing) = (Json(answer(&uploaded)), Some(server_timing(&uploaded)));
        Ok(if uploaded.unchanged { Self::Unchanged(body, timing, None) } else { Self::Created(body, timing, None) })
    }
}

/// `Server-Timing` of an upload: the normalize phase (waiting for a slot, reading, typing,
/// normalizing, checking) and the store phase (artifacts and metadata), in milliseconds.
fn server_timing(u: &Uploaded) -> String {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    format!("normalize;dur={:.1}, store;dur={:.1}", ms(u.timings.normalize), ms(u.timings.store))
}

/// Waits for `read`, at most `idle`.
async fn within<T>(idle: Duration, read: impl Future<Output = T>) -> Result<T, FormError> {
    tokio::time::timeout(idle, read).await.map_err(|_| {
        tracing::info!(idle_s = idle.as_secs_f64(), "an upload body stalled; the upload is cancelled");
        FormError::Stalled(ErrorBody::new(
            ErrorCode::RequestTimeout,
            format!(
                "no byte of the upload arrived for {} s (UPLOAD_IDLE_TIMEOUT_SECONDS); the upload was cancelled",
                idle.as_secs_f64()
            ),
        ))
    })
}

/// Reads every field: text fields into memory (64 KiB each at most), the `file` field into a
/// spool file in `spool_dir`. Fails with 413 as soon as the file passes `max_bytes`, and with
/// [`FormError::Stalled`] when no byte of the body arrives for `idle`.
pub async fn read_form(
    mut form: Multipart,
    spool_dir: &Path,
    max_bytes: u64,
    idle: Duration,
) -> Result<ReceivedForm, FormError> {
    let mut text = HashMap::new();
    let mut file = None;
    let mut fields = 0usize;
    while let Some(field) = within(idle, form.next_field()).await?.map_err(malformed)? {
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(ApiError::bad_request(format!("the form has more than {MAX_FIELDS} fields")).into());
        }
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if file.is_some() {
                return Err(ApiError::bad_request("the form has more than one `file` field").into());
            }
            file = Some(spool(field, spool_dir, max_bytes, idle).await?);
        } else {
            let value = read_text(field, &name, idle).await?;
            text.insert(name, value);
        }
    }
    let mut file = file.ok_or_else(|| ApiError::bad_request("the form field `file` is required"))?;
    file.hints =
        read_hints(&text).map_err(|e| ApiError::bad_request(format!("the form field `{}`: {}", e.field, e.reason)))?;
    Ok(ReceivedForm { text, file })
}

/// The read hints among a form's text fields (see [`ReadHints`]). An empty field is a hint
/// not given (forms such as Swagger UI's send every field).
fn read_hints(text: &HashMap<String, String>) -> Result<ReadHints, BadHint> {
    let field = |name: &str| text.get(name).map(String::as_str).filter(|v| !v.trim().is_empty());
    // A delimiter or a sheet name may be white space itself: only an empty field is absent.
    let exact = |name: &str| text.get(name).map(String::as_str).filter(|v| !v.is_empty());
    Ok(ReadHints {
        dtypes: field("dtypes").map(ReadHints::parse_dtypes).transpose()?.unwrap_or_default(),
        na_values: field("na_values").map(ReadHints::parse_na_values).transpose()?,
        keep_default_na: field("keep_default_na").map(|v| ReadHints::parse_flag("keep_default_na", v)).transpose()?,
        delimiter: exact("delimiter").map(ReadHints::parse_delimiter).transpose()?,
        encoding: field("encoding").map(ReadHints::parse_encoding).transpose()?,
        header: field("header").map(|v| ReadHints::parse_flag("header", v)).transpose()?,
        sheet: exact("sheet").map(ReadHints::parse_sheet).transpose()?,
    })
}

async fn read_text(field: poem::web::Field, name: &str, idle: Duration) -> Result<String, FormError> {
    let mut reader = field.into_async_read();
    let mut value = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = within(idle, reader.read(&mut buf)).await?.map_err(malformed)?;
        if n == 0 {
            break;
        }
        value.extend_from_slice(&buf[..n]);
        if value.len() as u64 > MAX_TEXT_FIELD {
            return Err(ApiError::bad_request(format!("the form field `{name}` is longer than 64 KiB")).into());
        }
    }
    String::from_utf8(value)
        .map_err(|_| ApiError::bad_request(format!("the form field `{name}` is not UTF-8 text")).into())
}

async fn spool(
    field: poem::web::Field,
    spool_dir: &Path,
    max_bytes: u64,
    idle: Duration,
) -> Result<SpooledUpload, FormError> {
    let internal = |e: std::io::Error| ApiError::from(AppError::internal_caused_by("spooling an upload", e));
    let file_name = field.file_name().and_then(uploaded_file_name);
    let temp = tempfile::Builder::new().prefix("upload-").tempfile_in(spool_dir).map_err(internal)?;
    let (std_file, path) = temp.into_parts();
    let mut out = tokio::fs::File::from_std(std_file);
    let mut reader = field.into_async_read();
    let mut hashing = ChunkHashing::default();
    let mut size = 0u64;
    loop {
        let chunk = read_chunk(&mut reader, idle).await?;
        if chunk.is_empty() {
            break;
        }
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(ApiError::from(AppError::PayloadTooLarge { limit: max_bytes }).into());
        }
        hashing.add(chunk.clone()).await.map_err(hash_failed)?;
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.flush().await.map_err(internal)?;
    let sha256 = hashing.finish().await.map_err(hash_failed)?;
    Ok(SpooledUpload { path, size, sha256, file_name, hints: ReadHints::default() })
}

fn hash_failed(e: tokio::task::JoinError) -> FormError {
    ApiError::from(AppError::internal_caused_by("hashing an upload", e)).into()
}

/// The next [`CHUNK`] bytes of the field (fewer at its end, none after it), each read waited
/// for at most `idle`.
async fn read_chunk(reader: &mut (impl AsyncRead + Unpin), idle: Duration) -> Result<Bytes, FormError> {
    let mut chunk = BytesMut::with_capacity(CHUNK);
    while chunk.len() < CHUNK {
        if within(idle, reader.read_buf(&mut chunk)).await?.map_err(malformed)? == 0 {
            break;
        }
    }
    Ok(chunk.freeze())
}

/// The SHA-256 of an upload, each chunk hashed by a short blocking job while the receiving
/// task writes that chunk and reads the next: hashing was about 60% of that task's work, and
/// the upload's bytes arrive no faster than it takes them (BENCHMARKS.md, session 19). A job
/// holds a blocking thread only while it hashes one chunk, never while a client is slow, so
/// slow uploads cannot take the blocking pool that file writes and ingests need.
enum ChunkHashing {
    /// Every chunk handed over is hashed.
    Ready(Sha256),
    /// A job hashes the last chunk; it gives the hasher back.
    Hashing(tokio::task::JoinHandle<Sha256>),
}

impl Default for ChunkHashing {
    fn default() -> Self {
        ChunkHashing::Ready(Sha256::new())
    }
}

impl ChunkHashing {
    /// The hasher once every chunk handed over was hashed (a job that panicked fails).
    async fn hasher(&mut self) -> Result<Sha256, tokio::task::JoinError> {
        match std::mem::take(self) {
            ChunkHashing::Ready(hasher) => Ok(hasher),
            ChunkHashing::Hashing(job) => job.await,
        }
    }

    /// Hashes `chunk` after the chunks before it, on a blocking job; waits only for the job
    /// of the chunk before.
    async fn add(&mut self, chunk: Bytes) -> Result<(), tokio::task::JoinError> {
        let mut hasher = self.hasher().await?;
        *self = ChunkHashing::Hashing(tokio::task::spawn_blocking(move || {
            hasher.update(&chunk);
            hasher
        }));
        Ok(())
    }

    /// The lower-case hex digest of every chunk handed over, in order.
    async fn finish(mut self) -> Result<String, tokio::task::JoinError> {
        Ok(hex::encode(self.hasher().await?.finalize()))
    }
}
