//! `GET /api/datasets/{dataset_id}/rows` and `POST /api/datasets/{dataset_id}/query`.

use futures_util::StreamExt;
use poem::Body;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use poem_openapi::{Enum, Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::datasets::ColumnDto;
use super::errors::ApiError;
use super::ordered_map::OrderedMap;
use super::text::{RuledText, SqlRule};
use super::version_param::VersionParam;
use crate::app::App;
use crate::domain::dtype::dtype_name_of;
use crate::domain::ids::DatasetId;
use crate::domain::names::query_text;
use crate::domain::preview::cell_value;
use crate::domain::version_ref::VersionRef;
use crate::ports::StoreError;
use crate::ports::queries::{QueryBatches, RowsRequest};
use crate::ports::tables::TableFormat;

/// A cell: a number, a string (text; dates and timestamps in ISO-8601), a boolean, or null.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell(pub Value);

value_type!(
    Cell,
    "cell",
    MetaSchema {
        nullable: true,
        any_of: ["number", "string", "boolean"]
            .into_iter()
            .map(|ty| MetaSchemaRef::Inline(Box::new(MetaSchema::new(ty))))
            .collect(),
        ..MetaSchema::ANY
    }
);

impl ToJSON for Cell {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone())
    }
}

impl ParseFromJSON for Cell {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            v @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)) => Ok(Self(v)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

/// The rows of `batches` as JSON objects, cells typed as in the preview.
pub(super) fn json_rows(batches: &[arrow::array::RecordBatch]) -> Vec<OrderedMap<Cell>> {
    let mut rows = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        for row in 0..batch.num_rows() {
            let cells = schema
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(field, column)| (field.name().clone(), Cell(cell_value(column, row))))
                .collect();
            rows.push(OrderedMap(cells));
        }
    }
    rows
}

#[derive(Object, Debug)]
#[oai(example)]
pub struct RowsAnswer {
    /// The version the rows are of.
    pub version: i64,
    /// The returned columns, in order, with their dtypes.
    pub columns: Vec<ColumnDto>,
    /// Column name → cell: numbers, strings (datetimes as ISO-8601), booleans, or null
    /// (missing; NaN and ±infinity too, as in the preview).
    pub rows: Vec<OrderedMap<Cell>>,
    pub offset: u64,
    pub limit: u64,
    /// Rows matching `where` and `q` in the whole version, exactly.
    pub total: u64,
}

/// A row of the walk-through's transactions.
fn example_row(amount: f64, merchant: &str, is_fraud: i64) -> OrderedMap<Cell> {
    OrderedMap(vec![
        ("amount".into(), Cell(Value::from(amount))),
        ("merchant".into(), Cell(Value::from(merchant))),
        ("is_fraud".into(), Cell(Value::from(is_fraud))),
    ])
}

fn column(name: &str, dtype: &str) -> ColumnDto {
    ColumnDto { name: name.into(), dtype: dtype.into() }
}

impl poem_openapi::types::Example for RowsAnswer {
    fn example() -> Self {
        Self {
            version: 0,
            columns: vec![column("amount", "float64"), column("merchant", "object"), column("is_fraud", "int64")],
            rows: vec![example_row(1250.0, "Luxury Ltd", 1), example_row(29.99, "ACME Corp", 0)],
            offset: 0,
            limit: 100,
            total: 2,
        }
    }
}

impl poem_openapi::types::Example for QueryRequest {
    fn example() -> Self {
        let sql = "SELECT merchant, count(*) AS n, sum(amount) AS total FROM data GROUP BY 1 ORDER BY 1";
        Self {
            sql: RuledText::example(sql),
            version: Some(BodyVersion(VersionRef::Number(0))),
            format: Some(QueryFormat::Json),
            max_rows: Some(1000),
        }
    }
}

impl poem_openapi::types::Example for QueryResult {
    fn example() -> Self {
        let row = |merchant: &str, n: i64, total: f64| {
            OrderedMap(vec![
                ("merchant".into(), Cell(Value::from(merchant))),
                ("n".into(), Cell(Value::from(n))),
                ("total".into(), Cell(Value::from(total))),
            ])
        };
        Self {
            columns: vec![column("merchant", "object"), column("n", "int64"), column("total", "float64")],
            rows: vec![row("ACME Corp", 2, 37.49), row("Luxury Ltd", 1, 1250.0)],
            row_count: 2,
            truncated: false,
        }
    }
}

fn default_rows_limit() -> u64 {
    100
}

fn default_offset() -> u64 {
    0
}

/// `a,b,"odd, name"` → the column names (double quotes around a name that holds a comma or
/// a quote, `""` for a quote inside).
pub(super) fn column_list(parameter: &str, text: &str) -> Result<Vec<String>, ApiError> {
    let mut names = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut name = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        name.push('"');
                    }
                    Some('"') => break,
                    Some(c) => name.push(c),
                    None => return Err(ApiError::bad_request(format!("`{parameter}`: a quoted name is not closed"))),
                }
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek().filter(|c| **c != ',') {
                name.push(c);
                chars.next();
            }
            name = name.trim().to_string();
        }
        if name.is_empty() {
            return Err(ApiError::bad_request(format!("`{parameter}` names an empty column")));
        }
        names.push(name);
        match chars.next() {
            None => return Ok(names),
            Some(',') => {}
            Some(c) => {
                return Err(ApiError::bad_request(format!("`{parameter}`: unexpected `{c}` after a quoted name")));
            }
        }
    }
}

/// Parts of a `/query` answer in the formats other than JSON.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[oai(rename_all = "lowercase")]
pub enum QueryFormat {
    #[default]
    Json,
    Csv,
    Parquet,
    Arrow,
}

#[derive(Object, Debug)]
#[oai(example)]
pub struct QueryRequest {
    /// One read-only statement: `SELECT`, `WITH … SELECT` or `VALUES`. `data` is the chosen
    /// version, `v0`, `v1`, … every version of the dataset.
    pub sql: RuledText<SqlRule>,
    /// The version `data` is: a number, or `latest` (default).
    pub version: Option<BodyVersion>,
    /// `json` (default): rows as objects; `csv`, `parquet` or `arrow` (IPC stream): streamed.
    pub format: Option<QueryFormat>,
    /// Most rows to return (at most `QUERY_MAX_ROWS`, its default, for JSON).
    #[oai(validator(minimum(value = "1")))]
    pub max_rows: Option<u64>,
}

#[derive(Object, Debug)]
#[oai(example)]
pub struct QueryResult {
    /// The answer's columns, in order, with their dtypes (`int64`, `float64`, `bool`,
    /// `datetime64`, `object`, or Arrow's name of another type).
    pub columns: Vec<ColumnDto>,
    /// Column name → cell, as in `/rows`. A name two joined tables share is qualified by its
    /// table (`v1.amount`).
    pub rows: Vec<OrderedMap<Cell>>,
    /// Rows returned.
    pub row_count: u64,
    /// Whether the answer has more rows than were returned (`max_rows`).
    pub truncated: bool,
}

/// The answer of `/query`.
pub enum QueryReply {
    Json(QueryResult),
    Stream { body: Body, content_type: &'static str },
}

const CSV_TYPE: &str = "text/csv; charset=utf-8";
const PARQUET_TYPE: &str = "application/vnd.apache.parquet";
const ARROW_TYPE: &str = "application/vnd.apache.arrow.stream";

impl poem::IntoResponse for QueryReply {
    fn into_response(self) -> poem::Response {
        match self {
            QueryReply::Json(result) => Json(result).into_response(),
            QueryReply::Stream { body, content_type } => {
                poem::Response::builder().content_type(content_type).body(body)
            }
        }
    }
}

impl poem_openapi::ApiResponse for QueryReply {
    fn meta() -> MetaResponses {
        let binary = || MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary")));
        let mut content = vec![MetaMediaType {
            content_type: "application/json; charset=utf-8",
            schema: <QueryResult as Type>::schema_ref(),
        }];
        content.extend(
            [CSV_TYPE, PARQUET_TYPE, ARROW_TYPE]
                .into_iter()
                .map(|content_type| MetaMediaType { content_type, schema: binary() }),
        );
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The answer: JSON (`format=json`), or streamed CSV, Parquet or an Arrow IPC stream.",
                status: Some(200),
                status_range: None,
                content,
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        <QueryResult as Type>::register(registry);
    }
}

pub struct QueriesApi;

#[OpenApi(tag = "ApiTags::Datasets")]
impl QueriesApi {
    /// Read rows
    ///
    /// A page of a version's rows (the latest by default), exact on the whole version:
    /// `where` keeps the rows where a boolean SQL expression over the columns holds
    /// (comparisons, `AND`/`OR`/`NOT`, `IN`, `IS [NOT] NULL`, `LIKE`, arithmetic; double quotes
    /// around odd column names), `q` the rows where any text column holds the text
    /// (case-insensitive), `order_by` sorts (`col [ASC|DESC] [NULLS FIRST|LAST], …`; file order
    /// without it), `columns` picks columns. `total` counts every matching row. A bad
    /// expression answers 400 with the parser's message and position; an unknown column 400
    /// naming it.
    #[oai(path = "/api/datasets/:dataset_id/rows", method = "get", operation_id = "get_dataset_rows")]
    #[allow(clippy::too_many_arguments)]
    async fn rows(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// The version: a number, or `latest` (default).
        #[oai(default)]
        version: Query<VersionParam>,
        /// Rows to skip (after filtering and sorting).
        #[oai(default = "default_offset")]
        offset: Query<u64>,
        /// Rows to return (1–1000).
        #[oai(default = "default_rows_limit", validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<u64>,
        /// Comma-separated column names (all by default); double quotes around a name that
        /// holds a comma.
        columns: Query<Option<String>>,
        /// A boolean SQL expression over the columns, e.g. `amount > 100 AND country IN ('DE', 'FR')`.
        #[oai(name = "where")]
        filter: Query<Option<String>>,
        /// Sort keys: `col [ASC|DESC] [NULLS FIRST|LAST], …`.
        order_by: Query<Option<String>>,
        /// Text to find in any text column, case-insensitively.
        q: Query<Option<String>>,
    ) -> Result<Json<RowsAnswer>, ApiError> {
        let given = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let request = RowsRequest {
            offset: offset.0,
            limit: usize::try_from(limit.0).unwrap_or(1000),
            columns: given(columns.0).map(|c| column_list("columns", &c)).transpose()?,
            filter: given(filter.0),
            order_by: given(order_by.0),
            search: q.0.filter(|s| !s.is_empty()),
        };
        let (version, page) = app.rows(&auth.0, DatasetId(dataset_id.0), &version.0.0, &request).await?;
        let columns = page
            .schema
            .fields()
            .iter()
            .map(|f| {
                let stored = version.columns.iter().find(|c| c.name == *f.name());
                let dtype = stored.map_or_else(|| dtype_name_of(f.data_type()), |c| c.dtype.as_str().to_string());
                ColumnDto { name: f.name().clone(), dtype }
            })
            .collect();
        Ok(Json(RowsAnswer {
            version: version.summary.version,
            columns,
            rows: json_rows(&page.batches),
            offset: offset.0,
            limit: limit.0,
            total: page.total,
        }))
    }

    /// Query with SQL
    ///
    /// Runs one read-only SQL statement (`SELECT`, `WITH … SELECT`, `VALUES`; Apache
    /// DataFusion's dialect) over the dataset's versions: `data` is the chosen version (the
    /// latest by default), `v0`, `v1`, … every version, so that `SELECT … FROM v3 EXCEPT SELECT
    /// … FROM v2` works. Statements that define, change or set anything (`CREATE`, `INSERT`,
    /// `COPY`, `SET`, …) and several statements answer 400. `format=json` answers at most
    /// `max_rows` rows (default and maximum `QUERY_MAX_ROWS`) and says whether there were
    /// more; `csv`, `parquet` and `arrow` stream (all rows, or `max_rows`). Sorts, joins and
    /// aggregations spill to disk past their share of `QUERY_MEMORY_BYTES`; a query that needs
    /// more answers 422 `query_too_large`.
    #[oai(path = "/api/datasets/:dataset_id/query", method = "post", operation_id = "query_dataset")]
    async fn query(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        body: Json<QueryRequest>,
    ) -> Result<QueryReply, ApiError> {
        let request = body.0;
        let sql = query_text(&request.sql).map_err(crate::app::AppError::from)?;
        let limit = app.settings.query_max_rows;
        let format = request.format.unwrap_or_default();
        if format == QueryFormat::Json && request.max_rows.is_some_and(|n| n > limit) {
            return Err(ApiError::bad_request(format!(
                "`max_rows` is at most {limit} for JSON answers (QUERY_MAX_ROWS); stream larger answers as csv, parquet or arrow"
            )));
        }
        let which = request.version.map(|v| v.0).unwrap_or_default();
        let answer = app.query(&auth.0, DatasetId(dataset_id.0), &which, sql).await?;
        let max_rows = request.max_rows.or((format == QueryFormat::Json).then_some(limit));
        let mut batches = answer.batches;
        if let Some(max) = max_rows {
            batches = at_most(batches, max + u64::from(format == QueryFormat::Json));
        }
        let table_format = match format {
            QueryFormat::Json => return json_answer(answer.schema, batches, max_rows.unwrap_or(limit)).await,
            QueryFormat::Csv => TableFormat::Csv(Default::default()),
            QueryFormat::Parquet => TableFormat::Parquet,
            QueryFormat::Arrow => TableFormat::ArrowIpc,
        };
        let content_type = match format {
            QueryFormat::Csv => CSV_TYPE,
            QueryFormat::Parquet => PARQUET_TYPE,
            _ => ARROW_TYPE,
        };
        let batches = batches.map(|b| b.map_err(|e| StoreError::other_caused_by("running a query", e))).boxed();
        let bytes = app.exporter.encode(answer.schema, batches, table_format);
        let body = Body::from_bytes_stream(bytes.map(|chunk| {
            chunk.map_err(|e| {
                tracing::warn!(error = %crate::app::errors::ErrorChain(&e), "a streamed query answer failed");
                std::io::Error::other(e.to_string())
            })
        }));
        Ok(QueryReply::Stream { body, content_type })
    }
}

/// The first `max` rows of `batches` (the last batch cut); the stream ends there, which drops
/// (and so cancels) the query.
fn at_most(batches: QueryBatches, max: u64) -> QueryBatches {
    futures_util::stream::unfold((batches, max), |(mut batches, left)| async move {
        if left == 0 {
            return None;
        }
        match batches.next().await? {
            Ok(batch) => {
                let rows = batch.num_rows() as u64;
                let batch = if rows > left { batch.slice(0, left as usize) } else { batch };
                Some((Ok(batch), (batches, left.saturating_sub(rows))))
            }
            Err(e) => Some((Err(e), (batches, 0))),
        }
    })
    .boxed()
}

/// Collects a JSON answer: at most `max_rows` rows, and whether there were more (the stream
/// holds one row more than `max_rows` when there were).
async fn json_answer(
    schema: arrow::datatypes::SchemaRef,
    mut batches: QueryBatches,
    max_rows: u64,
) -> Result<QueryReply, ApiError> {
    let mut collected = Vec::new();
    let mut rows = 0u64;
    while let Some(batch) = batches.next().await {
        let batch = batch.map_err(crate::app::queries::from_query)?;
        rows += batch.num_rows() as u64;
        collected.push(batch);
    }
    let truncated = rows > max_rows;
    let mut json = json_rows(&collected);
    json.truncate(usize::try_from(max_rows).unwrap_or(usize::MAX));
    let columns = schema
        .fields()
        .iter()
        .map(|f| ColumnDto { name: f.name().clone(), dtype: dtype_name_of(f.data_type()) })
        .collect();
    Ok(QueryReply::Json(QueryResult { columns, row_count: json.len() as u64, rows: json, truncated }))
}

/// The `version` of a query body: a version number (a JSON integer or a string of digits),
/// `latest` or an alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyVersion(pub VersionRef);

value_type!(
    BodyVersion,
    "version_number_or_latest",
    MetaSchema {
        description: Some(
            "A version number (0, 1, 2, …), `latest` (the newest version) or an alias (the version it points at)."
        ),
        any_of: vec![
            MetaSchemaRef::Inline(Box::new(MetaSchema { minimum: Some(0.0), ..MetaSchema::new("integer") })),
            MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
        ],
        ..MetaSchema::ANY
    }
);

impl ParseFromJSON for BodyVersion {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::Number(n) => match n.as_i64() {
                Some(n) if n >= 0 => Ok(Self(VersionRef::Number(n))),
                _ => Err(ParseError::custom("`version` must be a version number (0, 1, 2, …) or `latest`")),
            },
            Value::String(s) => VersionRef::parse(&s).map(Self).map_err(|e| ParseError::custom(e.to_string())),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for BodyVersion {
    fn to_json(&self) -> Option<Value> {
        Some(match &self.0 {
            VersionRef::Number(n) => Value::from(*n),
            VersionRef::Latest | VersionRef::Alias(_) => Value::String(self.0.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_lists_take_plain_and_quoted_names() {
        assert_eq!(column_list("columns", "a, b ,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            column_list("columns", "\"odd, name\",\"say \"\"hi\"\"\",x").unwrap(),
            ["odd, name", "say \"hi\"", "x"]
        );
        for bad in ["a,,b", "\"open", "\"a\"b", ",a"] {
            assert!(column_list("columns", bad).is_err(), "{bad}");
        }
    }
}
