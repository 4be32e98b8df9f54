//! The [`TableQueries`] port on Apache DataFusion: `/rows` pages and `/query` SQL over the
//! stored normalized Parquet files, read through the artifact store's range reads
//! ([`artifact_objects`]).
//!
//! - One `SessionContext` per query, with only the tables the query names registered; no
//!   catalog, no information schema, no URL tables, no file-reading functions.
//! - One memory pool for all queries (`QUERY_MEMORY_BYTES`, fair spilling): sorts, joins and
//!   aggregations spill to `SPOOL_DIR/query` past their share, and fail (`TooLarge`) when they
//!   cannot.
//! - Queries run on their own runtime ([`QueryRuntime`]), so a CPU-heavy query never stalls
//!   the threads that answer other requests; batches come back over a bounded channel, and
//!   dropping the answer's stream cancels the query.

mod artifact_objects;
mod diff;
mod errors;
mod rows;
mod statement;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

pub use self::artifact_objects::ArtifactObjects;
pub(crate) use self::errors::query_error;
use crate::ports::StoreError;
use crate::ports::artifacts::ArtifactStore;
use crate::ports::queries::{
    DiffRequest, QueryAnswer, QueryError, QueryLimits, QueryTable, RowDiff, RowsPage, RowsRequest, TableQueries,
};

/// Batches in flight between a running query and its reader.
const CHANNEL_BATCHES: usize = 2;
/// Stack of each query thread (tokio's default is 2 MiB).
const QUERY_THREAD_STACK: usize = 32 << 20;
/// Blocking threads of the query runtime (local reads of `/rows` pages).
const QUERY_BLOCKING_THREADS: usize = 2;
/// Rows of the batches a query produces.
const BATCH_ROWS: usize = 8192;
/// A sort of a whole version reserves this fraction of the memory pool to merge its spills.
const SORT_RESERVE_SHARE: usize = 32;

/// The [`TableQueries`] adapter: the engine, and the runtime its queries run on.
pub struct DataFusionQueries {
    engine: Arc<Engine>,
    runtime: QueryRuntime,
}

/// The store's files as DataFusion reads them, and the memory pool and spill folder every
/// query shares.
struct Engine {
    objects: Arc<ArtifactObjects>,
    store: Arc<dyn ArtifactStore>,
    env: Arc<RuntimeEnv>,
    limits: QueryLimits,
}

impl DataFusionQueries {
    /// Files are read on the runtime this is called on (the server's).
    pub fn new(store: Arc<dyn ArtifactStore>, limits: QueryLimits, spool_dir: &Path) -> Result<Self, StoreError> {
        let objects = Arc::new(ArtifactObjects::new(Arc::clone(&store), tokio::runtime::Handle::current()));
        // What a query spills goes here; what a killed process left is removed at start (each
        // instance has its own spool folder).
        let spill = spool_dir.join("query");
        if spill.exists() {
            std::fs::remove_dir_all(&spill)
                .map_err(|e| StoreError::other_caused_by(format!("emptying {}", spill.display()), e))?;
        }
        std::fs::create_dir_all(&spill)
            .map_err(|e| StoreError::other_caused_by(format!("creating {}", spill.display()), e))?;
        let env = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(limits.memory_bytes)))
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![spill])),
            )
            .build_arc()
            .map_err(|e| StoreError::other_caused_by("starting the query engine", e))?;
        let url = ObjectStoreUrl::parse(format!("{}://store", artifact_objects::SCHEME))
            .map_err(|e| StoreError::other_caused_by("the query engine's store address", e))?;
        env.register_object_store(url.as_ref(), Arc::clone(&objects) as Arc<dyn object_store::ObjectStore>);
        let runtime =
            QueryRuntime::start().map_err(|e| StoreError::other_caused_by("starting the query threads", e))?;
        Ok(Self { engine: Arc::new(Engine { objects, store, env, limits }), runtime })
    }
}

impl Engine {
    /// A fresh session: nothing registered, the shared memory pool and spill folder.
    fn session(&self) -> SessionContext {
        self.session_with(base_config(crate::ports::system::worker_threads()))
    }

    fn session_with(&self, config: SessionConfig) -> SessionContext {
        SessionContext::new_with_config_rt(config, Arc::clone(&self.env))
    }

    /// A fresh session for whole-version sorts: one partition each (a sort of the whole
    /// table, spilling past its share of the memory pool), with a share of the pool set aside
    /// for merging what it spilled (DataFusion's 10 MB default would not fit a small pool).
    fn sort_session(&self) -> SessionContext {
        let merge_reserve = (self.limits.memory_bytes / SORT_RESERVE_SHARE).clamp(64 << 10, 10 << 20);
        self.session_with(base_config(1).set_usize("datafusion.execution.sort_spill_reservation_bytes", merge_reserve))
    }

    /// Makes `table` readable in `ctx` under its name.
    async fn register(&self, ctx: &SessionContext, table: &QueryTable) -> Result<(), DataFusionError> {
        self.objects.know_size(&table.key, table.size);
        let url = ListingTableUrl::parse(format!("{}://store/{}", artifact_objects::SCHEME, table.key))?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new(url).with_listing_options(options).infer_schema(&ctx.state()).await?;
        ctx.register_table(table.name.as_str(), Arc::new(ListingTable::try_new(config)?))?;
        Ok(())
    }

    /// Plans and starts one read-only statement over `tables`.
    async fn start(&self, tables: &[QueryTable], sql: &str) -> Result<SendableRecordBatchStream, QueryError> {
        let ctx = self.session();
        // Checked before anything is read: a refused statement registers no table.
        statement::read_only_statement(&ctx.state(), sql)?;
        for table in tables {
            self.register(&ctx, table).await.map_err(query_error)?;
        }
        self.start_in(&ctx, sql).await
    }

    /// Plans and starts one read-only statement in `ctx` (its tables registered).
    async fn start_in(&self, ctx: &SessionContext, sql: &str) -> Result<SendableRecordBatchStream, QueryError> {
        let statement = statement::read_only_statement(&ctx.state(), sql)?;
        let plan = ctx.state().statement_to_plan(statement).await.map_err(query_error)?;
        statement::verify_read_only(&plan)?;
        let frame = ctx.execute_logical_plan(plan).await.map_err(query_error)?;
        let names = output_names(frame.schema());
        let stream = frame.execute_stream().await.map_err(query_error)?;
        Ok(renamed(stream, names))
    }

    /// Runs a statement in `ctx` and collects its batches (for `/rows`, whose pages are small).
    async fn collect_in(&self, ctx: &SessionContext, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        let mut stream = self.start_in(ctx, sql).await?;
        let schema = stream.schema();
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            batches.push(batch.map_err(query_error)?);
        }
        Ok((schema, batches))
    }
}

/// The settings every session starts from: `partitions` threads of work, batches of
/// [`BATCH_ROWS`], no information schema.
fn base_config(partitions: usize) -> SessionConfig {
    SessionConfig::new().with_target_partitions(partitions).with_batch_size(BATCH_ROWS).with_information_schema(false)
}

#[async_trait]
impl TableQueries for DataFusionQueries {
    fn tables_in(&self, sql: &str) -> Result<Vec<String>, QueryError> {
        let state = self.engine.session().state();
        let statement = statement::read_only_statement(&state, sql)?;
        statement::table_names(&state, &statement)
    }

    async fn sql(&self, tables: &[QueryTable], sql: &str) -> Result<QueryAnswer, QueryError> {
        let engine = Arc::clone(&self.engine);
        let (tables, sql) = (tables.to_vec(), sql.to_string());
        let (schema_tx, schema_rx) = oneshot::channel();
        let (batch_tx, batch_rx) = mpsc::channel(CHANNEL_BATCHES);
        // Detached: it ends when the query does, fails, or its reader goes away.
        let _detached = self.runtime.spawn(async move {
            let mut stream = match engine.start(&tables, &sql).await {
                Ok(stream) => stream,
                Err(e) => {
                    let _ = schema_tx.send(Err(e));
                    return Ok(());
                }
            };
            if schema_tx.send(Ok(stream.schema())).is_err() {
                return Ok(());
            }
            // Also while the query works towards its next batch, a reader that went away ends
            // it: dropping the stream cancels the query.
            loop {
                let batch = tokio::select! {
                    batch = stream.next() => batch,
                    () = batch_tx.closed() => return Ok(()),
                };
                let Some(batch) = batch else { return Ok(()) };
                let failed = batch.is_err();
                if batch_tx.send(batch.map_err(query_error)).await.is_err() || failed {
                    return Ok(());
                }
            }
        })?;
        let schema = schema_rx.await.map_err(|_| QueryError::Engine("the query task ended early".into()))??;
        let batches = futures_util::stream::unfold(batch_rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
        Ok(QueryAnswer { schema, batches: batches.boxed() })
    }

    async fn rows(&self, table: &QueryTable, request: &RowsRequest) -> Result<RowsPage, QueryError> {
        let engine = Arc::clone(&self.engine);
        let (table, request) = (table.clone(), request.clone());
        // Aborted when this call is dropped (the request timed out, or its client left).
        let task = AbortOnDrop(self.runtime.spawn(async move { rows::page(&engine, &table, &request).await })?);
        task.wait().await
    }

    async fn diff(&self, v1: &QueryTable, v2: &QueryTable, request: &DiffRequest) -> Result<RowDiff, QueryError> {
        let engine = Arc::clone(&self.engine);
        let (v1, v2, request) = (v1.clone(), v2.clone(), request.clone());
        let task = AbortOnDrop(self.runtime.spawn(async move { diff::diff(&engine, &v1, &v2, &request).await })?);
        task.wait().await
    }
}

/// The names of a query's columns as its answer shows them: a name that two columns share (a
/// join of two versions) is qualified by its table (`v1.amount`), others stay bare.
fn output_names(schema: &datafusion::common::DFSchema) -> Vec<String> {
    let bare: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    schema
        .iter()
        .map(|(qualifier, field)| {
            let shared = bare.iter().filter(|n| **n == field.name().as_str()).count() > 1;
            match qualifier {
                Some(q) if shared => format!("{q}.{}", field.name()),
                _ => field.name().clone(),
            }
        })
        .collect()
}

/// The stream with its columns named `names`.
fn renamed(stream: SendableRecordBatchStream, names: Vec<String>) -> SendableRecordBatchStream {
    let original = stream.schema();
    if original.fields().iter().map(|f| f.name()).eq(names.iter()) {
        return stream;
    }
    let fields: Vec<Field> =
        original.fields().iter().zip(&names).map(|(f, name)| f.as_ref().clone().with_name(name)).collect();
    let schema = Arc::new(Schema::new_with_metadata(fields, original.metadata().clone()));
    let target = Arc::clone(&schema);
    let batches = stream.map(move |batch| {
        batch.and_then(|b| RecordBatch::try_new(Arc::clone(&target), b.columns().to_vec()).map_err(Into::into))
    });
    Box::pin(datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, batches))
}

/// The runtime queries run on: as many threads as one CPU-bound job may use
/// ([`worker_threads`](crate::ports::system::worker_threads)), with [`QUERY_THREAD_STACK`]
/// each, shut down without waiting when
/// the engine is dropped (dropping a runtime from async code would panic).
struct QueryRuntime(Option<tokio::runtime::Runtime>);

impl QueryRuntime {
    fn start() -> std::io::Result<Self> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(crate::ports::system::worker_threads())
            .thread_name("query")
            // Plans of long conditions (thousands of `OR`s) are deep trees that the planner and
            // optimizer walk recursively.
            .thread_stack_size(QUERY_THREAD_STACK)
            // Each blocking thread would take that stack too; the files are read on the
            // server's runtime (see `artifact_objects`), so few are needed here.
            .max_blocking_threads(QUERY_BLOCKING_THREADS)
            .enable_all()
            .build()
            .map(|runtime| Self(Some(runtime)))
    }

    fn spawn<T, F>(&self, task: F) -> Result<tokio::task::JoinHandle<Result<T, QueryError>>, QueryError>
    where
        F: Future<Output = Result<T, QueryError>> + Send + 'static,
        T: Send + 'static,
    {
        match &self.0 {
            Some(runtime) => Ok(runtime.spawn(task)),
            None => Err(QueryError::Engine("the query engine is shut down".into())),
        }
    }
}

/// A task on the query runtime that is aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<Result<T, QueryError>>);

impl<T> AbortOnDrop<T> {
    async fn wait(mut self) -> Result<T, QueryError> {
        (&mut self.0).await.map_err(|e| QueryError::Engine(format!("the query task failed: {e}")))?
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
