//! The HTTP adapter: one poem-openapi API struct per resource, their DTOs, and one error
//! mapping. Handlers extract, convert, call one service and convert back.

pub mod analysis;
pub mod auth;
pub mod compare;
pub mod datasets;
pub mod errors;
pub mod lineage;
pub mod ordered_map;
pub mod projects;
pub mod time;
pub mod upload;

use poem::{Endpoint, EndpointExt, Route, get};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, OpenApiService, Tags};

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
}

type Apis = (
    SystemApi,
    projects::ProjectsApi,
    projects::UsersApi,
    datasets::DatasetsApi,
    datasets::VersionsApi,
    analysis::AnalysisApi,
    compare::CompareApi,
    lineage::LineageApi,
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
            datasets::VersionsApi,
            analysis::AnalysisApi,
            compare::CompareApi,
            lineage::LineageApi,
        ),
        "datasets-api",
        env!("CARGO_PKG_VERSION"),
    )
    .description(DESCRIPTION)
}

/// The OpenAPI document as JSON (what `/openapi.json` serves and `openapi/openapi.json` holds).
pub fn openapi_json() -> String {
    openapi().spec()
}

/// Every route: the API, `/openapi.json`, Swagger UI at `/docs`, errors as JSON.
pub fn routes(app: App) -> impl Endpoint<Output = poem::Response> {
    let api = openapi();
    let spec = api.spec_endpoint();
    let ui = api.swagger_ui();
    Route::new()
        .at("/openapi.json", get(spec))
        .nest("/docs", ui)
        .nest("/", api)
        .data(app)
        .catch_all_error(errors::catch_all)
}
