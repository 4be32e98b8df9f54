//! `GET /api/datasets/{dataset_id}/download`: a version as a file.

use poem::Body;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::{Enum, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::errors::ApiError;
use super::version_param::VersionParam;
use crate::app::App;
use crate::domain::ids::DatasetId;
use crate::ports::tables::CsvOptions;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum DownloadFormat {
    Csv,
    Xlsx,
}

/// A download: the file, streamed, documented with both of its media types (a derived
/// `ApiResponse` documents one media type per status).
pub struct Download {
    body: Body,
    content_type: &'static str,
    file_name: String,
}

impl poem::IntoResponse for Download {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type(self.content_type)
            .header(poem::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", self.file_name))
            .body(self.body)
    }
}

impl poem_openapi::ApiResponse for Download {
    fn meta() -> MetaResponses {
        let binary = || MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary")));
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The file, streamed: CSV (`text/csv; charset=utf-8`) or XLSX\n\
                              (`application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`).",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType { content_type: CSV_TYPE, schema: binary() },
                    MetaMediaType { content_type: XLSX_TYPE, schema: binary() },
                ],
                headers: vec![MetaHeader {
                    name: "CONTENT-DISPOSITION".to_string(),
                    description: Some("`attachment; filename=\"NAME-vN.csv\"` (or `.xlsx`).".to_string()),
                    required: true,
                    deprecated: false,
                    schema: <String as poem_openapi::types::Type>::schema_ref(),
                }],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

const CSV_TYPE: &str = "text/csv; charset=utf-8";
const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn default_format() -> DownloadFormat {
    DownloadFormat::Csv
}

pub struct DownloadApi;

#[OpenApi(tag = "ApiTags::Datasets")]
impl DownloadApi {
    /// Download a dataset
    ///
    /// A version (the latest by default) as a file. `format=csv` (default) streams RFC 4180 CSV in UTF-8;
    /// `escape_formulas=true` prefixes text cells that begin with `=`, `+`, `-`, `@`, tab or CR
    /// with `'` (CSV-injection protection; off by default to stay faithful to the data).
    /// `format=xlsx` returns an Excel workbook (numbers, dates, booleans and text as typed
    /// cells, a bold header row); a dataset beyond Excel's limits or `MAX_XLSX_ROWS` answers
    /// 422 `not_exportable`, suggesting CSV.
    #[oai(path = "/api/datasets/:dataset_id/download", method = "get", operation_id = "download_dataset")]
    async fn download(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// `csv` or `xlsx`.
        #[oai(default = "default_format")]
        format: Query<DownloadFormat>,
        /// CSV only: escape text cells that a spreadsheet could run as formulas.
        #[oai(default)]
        escape_formulas: Query<bool>,
        /// The version: a number, or `latest` (default).
        #[oai(default)]
        version: Query<VersionParam>,
    ) -> Result<Download, ApiError> {
        let id = DatasetId(dataset_id.0);
        let which = &version.0.0;
        let (stream, file_name, content_type) = match format.0 {
            DownloadFormat::Csv => {
                let options = CsvOptions { escape_formulas: escape_formulas.0 };
                let (stream, name) = app.download_csv(&auth.0, id, which, options).await?;
                (stream, name, CSV_TYPE)
            }
            DownloadFormat::Xlsx => {
                let (stream, name) = app.download_xlsx(&auth.0, id, which).await?;
                (stream, name, XLSX_TYPE)
            }
        };
        let body = Body::from_bytes_stream(futures_util::StreamExt::map(stream, |chunk| {
            chunk.map_err(|e| {
                tracing::error!(error = %e, "download stream failed");
                std::io::Error::other(e.to_string())
            })
        }));
        Ok(Download { body, content_type, file_name })
    }
}
