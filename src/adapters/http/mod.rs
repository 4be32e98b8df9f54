//! The HTTP adapter: one poem-openapi API struct per resource, their DTOs, and one error
//! mapping. Handlers extract, convert, call one service and convert back.

/// Implements poem-openapi's `Type` for a value type documented by one schema: `$name` is its
/// schema name, `$schema` an expression giving its `MetaSchema`. (The five value types of
/// this adapter differ only in those two.)
macro_rules! value_type {
    ($ty:ty, $name:expr, $schema:expr) => {
        impl poem_openapi::types::Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
                poem_openapi::registry::MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(std::iter::once(self))
            }
        }
    };
}

pub mod aliases;
pub mod allow;
pub mod analysis;
pub mod auth;
pub mod compare;
pub mod conditional;
pub mod contracts;
pub mod datasets;
pub mod diff;
pub mod download;
pub mod errors;
pub mod evidence;
pub mod idempotency;
pub mod limits;
pub mod lineage;
pub mod openapi_doc;
pub mod ordered_map;
pub mod projects;
pub mod queries;
pub mod request_id;
pub mod text;
pub mod time;
pub mod ui;
pub mod upload;
pub mod version_param;
pub mod versions;
pub mod webhooks;

use poem::web::Data;
use poem::{Endpoint, EndpointExt, Route, get};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, OpenApiService, Tags};

use crate::app::App;

#[derive(Tags)]
pub enum ApiTags {
    /// Datasets, their versions, schemas, quality reports and downloads.
    Datasets,
    /// Projects and their members.
    Projects,
    /// Users and API keys (admin only).
    Users,
    /// Experiments, models and deployments that used datasets.
    Lineage,
    /// Health.
    System,
}

#[derive(Object)]
pub struct Health {
    /// `ok` when the server is up.
    pub status: String,
}

/// The state of each backing store.
#[derive(Object)]
pub struct Readiness {
    /// `ready` when every store answers, else `unavailable`.
    pub status: String,
    /// `ok`, or why the metadata database did not answer.
    pub database: String,
    /// `ok`, or why the artifact store did not answer.
    pub artifact_store: String,
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Both stores answer.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// A store does not answer.
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

pub struct SystemApi;

#[OpenApi(tag = "ApiTags::System")]
impl SystemApi {
    /// Liveness
    ///
    /// Answers 200 while the server runs. Needs no API key.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> Json<Health> {
        Json(Health { status: "ok".into() })
    }

    /// Readiness
    ///
    /// Checks the metadata database (a query) and the artifact store (writes, reads back and
    /// deletes a probe object), both at once and each for at most 10 s: 200 when both answer,
    /// 503 otherwise. Needs no API key.
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self, app: Data<&App>) -> ReadyResponse {
        let bounded = |check: Result<Result<(), crate::ports::StoreError>, tokio::time::error::Elapsed>| match check {
            Ok(Ok(())) => "ok".to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} s", READY_CHECK_TIMEOUT.as_secs()),
        };
        let (database, artifact_store) = tokio::join!(
            tokio::time::timeout(READY_CHECK_TIMEOUT, app.metadata.ping()),
            tokio::time::timeout(READY_CHECK_TIMEOUT, app.artifacts.probe()),
        );
        let (database, artifact_store) = (bounded(database), bounded(artifact_store));
        let ok = database == "ok" && artifact_store == "ok";
        let body = Readiness { status: if ok { "ready" } else { "unavailable" }.into(), database, artifact_store };
        if ok { ReadyResponse::Ready(Json(body)) } else { ReadyResponse::NotReady(Json(body)) }
    }
}

/// How long `/ready` waits for each store.
const READY_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

type Apis = (
    SystemApi,
    projects::ProjectsApi,
    projects::UsersApi,
    datasets::DatasetsApi,
    versions::VersionsApi,
    aliases::AliasesApi,
    download::DownloadApi,
    queries::QueriesApi,
    analysis::AnalysisApi,
    compare::CompareApi,
    diff::DiffApi,
    contracts::ContractsApi,
    lineage::LineageApi,
    webhooks::WebhooksApi,
);

const DESCRIPTION: &str = "Versioned tabular datasets (CSV, Parquet) with schema, data quality and downloads. \
Every `/api` operation needs `Authorization: Bearer KEY`. Errors are JSON: \
`{\"error\": {\"code\": \"...\", \"message\": \"...\"}}`.";

/// The OpenAPI service describing every operation.
pub fn openapi() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            SystemApi,
            projects::ProjectsApi,
            projects::UsersApi,
            datasets::DatasetsApi,
            versions::VersionsApi,
            aliases::AliasesApi,
            download::DownloadApi,
            queries::QueriesApi,
            analysis::AnalysisApi,
            compare::CompareApi,
            diff::DiffApi,
            contracts::ContractsApi,
            lineage::LineageApi,
            webhooks::WebhooksApi,
        ),
        "datasets-api",
        env!("CARGO_PKG_VERSION"),
    )
    .description(DESCRIPTION)
}

/// The OpenAPI document as JSON (what `/openapi.json` serves and `openapi/openapi.json` holds),
/// in the shape client generators read (see [`openapi_doc`]).
pub fn openapi_json() -> String {
    openapi_doc::for_generators(&openapi().spec())
}

/// `GET /metrics`: Prometheus text exposition (outside the OpenAPI document, no key).
#[poem::handler]
fn metrics(app: poem::web::Data<&App>) -> poem::Response {
    poem::Response::builder().content_type("text/plain; version=0.0.4; charset=utf-8").body(app.telemetry.exposition())
}

/// Every route with the default time limits (see [`routes_with`]).
pub fn routes(app: App) -> impl Endpoint<Output = poem::Response> {
    routes_with(app, limits::HttpLimits::default())
}

/// Every route: the API, `/openapi.json`, Swagger UI at `/docs`, the web UI at `/ui` (`/`
/// redirects there), `/metrics`, errors as JSON,
/// 405 answers with `Allow`, and the time limits of `limits`.
pub fn routes_with(app: App, time_limits: limits::HttpLimits) -> impl Endpoint<Output = poem::Response> {
    let api = openapi();
    let mut outside: Vec<(&str, &[&'static str])> =
        vec![("/openapi.json", &["GET"]), ("/metrics", &["GET"]), ("/docs", &["GET"])];
    outside.extend(ui::ROUTE_TEMPLATES.iter().copied());
    let allowed = std::sync::Arc::new(allow::RouteTable::from_openapi(&api.spec(), &outside));
    let document = openapi_json();
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder().content_type("application/json; charset=utf-8").body(document.clone())
    });
    let swagger = api.swagger_ui();
    let telemetry = std::sync::Arc::clone(&app.telemetry);
    let keyed = app.clone();
    Route::new()
        .at("/openapi.json", get(spec))
        .at("/metrics", get(metrics))
        .nest("/docs", swagger)
        .nest("/ui", ui::routes())
        .nest("/", api)
        .data(app)
        .data(time_limits)
        .catch_all_error(errors::catch_all)
        .around(ui::redirect_root)
        .around(move |next, req| idempotency::guard(next, req, keyed.clone()))
        .around(move |next, req| limits::limit_time(next, req, time_limits.request_timeout))
        .around(move |next, req| {
            let allowed = std::sync::Arc::clone(&allowed);
            async move { allow::add_allow(next, req, &allowed).await }
        })
        .around(move |next, req| request_id::track(next, req, std::sync::Arc::clone(&telemetry)))
}
