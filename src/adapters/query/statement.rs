//! What SQL a query may be: one read-only statement (`SELECT`, `WITH … SELECT`, `VALUES`),
//! and the tables it names. Everything else — DDL (`CREATE [EXTERNAL] TABLE`, `DROP`), DML
//! (`INSERT`, `UPDATE`, `DELETE`, `COPY`), `SET`, `EXPLAIN`, transactions, several
//! statements — is refused before anything is planned, and the plan is checked again with
//! DataFusion's own `SQLOptions` (no DDL, no DML, no statements) before it runs.

use datafusion::common::TableReference;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SQLOptions;
use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{Expr, SetExpr, Statement, Visit, Visitor};

use crate::ports::queries::QueryError;

/// Deepest nesting of expressions in a query: a chain of `OR`s (or of any operator) is as deep
/// as it is long, and planning walks it recursively, so a longer one is refused before it is
/// planned (a long list of values belongs in `IN (…)`, which is not deep).
pub const MAX_EXPRESSION_DEPTH: usize = 256;

/// Counts how deep expressions nest, stopping past [`MAX_EXPRESSION_DEPTH`].
#[derive(Default)]
struct Depth {
    now: usize,
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.now += 1;
        if self.now > MAX_EXPRESSION_DEPTH { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.now -= 1;
        ControlFlow::Continue(())
    }
}

/// Refuses `node` when its expressions nest deeper than [`MAX_EXPRESSION_DEPTH`].
pub fn check_depth(node: &impl Visit) -> Result<(), QueryError> {
    match node.visit(&mut Depth::default()) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(QueryError::Invalid(format!(
            "expressions nest deeper than {MAX_EXPRESSION_DEPTH} levels (for example a chain of more than \
             {MAX_EXPRESSION_DEPTH} ORs): write long lists of values as `column IN (…)`"
        ))),
    }
}

/// The one read-only statement of `sql`.
pub fn read_only_statement(state: &SessionState, sql: &str) -> Result<DFStatement, QueryError> {
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state.sql_to_statement(sql, &dialect).map_err(super::errors::query_error)?;
    match &statement {
        DFStatement::Statement(inner) => match inner.as_ref() {
            Statement::Query(query) if !selects_into(&query.body) => {
                check_depth(query)?;
                Ok(statement)
            }
            Statement::Query(_) => Err(not_allowed("SELECT … INTO")),
            other => Err(not_allowed(statement_kind(other))),
        },
        DFStatement::CreateExternalTable(_) => Err(not_allowed("CREATE EXTERNAL TABLE")),
        DFStatement::CopyTo(_) => Err(not_allowed("COPY")),
        DFStatement::Explain(_) => Err(not_allowed("EXPLAIN")),
        DFStatement::Reset(_) => Err(not_allowed("RESET")),
    }
}

/// The names of the tables the statement reads (not its common table expressions): bare
/// names only, as SQL normalizes them (unquoted names in lower case).
pub fn table_names(state: &SessionState, statement: &DFStatement) -> Result<Vec<String>, QueryError> {
    let references = state.resolve_table_references(statement).map_err(super::errors::query_error)?;
    let mut names = Vec::with_capacity(references.len());
    for reference in references {
        match reference {
            TableReference::Bare { table } => {
                if !names.iter().any(|n: &String| n == table.as_ref()) {
                    names.push(table.to_string());
                }
            }
            other => {
                return Err(QueryError::Invalid(format!(
                    "table `{other}`: name tables without a schema or catalog (data, v0, v1, …)"
                )));
            }
        }
    }
    Ok(names)
}

/// DataFusion's own check of a plan: nothing that defines, changes or sets anything.
pub fn verify_read_only(plan: &LogicalPlan) -> Result<(), QueryError> {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(plan)
        .map_err(|e| QueryError::NotAllowed(format!("only read-only queries are allowed: {e}")))
}

fn selects_into(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => select.into.is_some(),
        SetExpr::Query(query) => selects_into(&query.body),
        SetExpr::SetOperation { left, right, .. } => selects_into(left) || selects_into(right),
        _ => false,
    }
}

fn not_allowed(what: &str) -> QueryError {
    QueryError::NotAllowed(format!(
        "{what} is not allowed: a query is one read-only statement (SELECT, WITH … SELECT or VALUES)"
    ))
}

/// A short name of a statement's kind, for the refusal.
fn statement_kind(statement: &Statement) -> &'static str {
    match statement {
        Statement::Insert(_) => "INSERT",
        Statement::Update(_) => "UPDATE",
        Statement::Delete(_) => "DELETE",
        Statement::Copy { .. } => "COPY",
        Statement::CreateTable(_) | Statement::CreateView(_) => "CREATE",
        Statement::Drop { .. } => "DROP",
        Statement::Set(_) => "SET",
        Statement::Explain { .. } | Statement::ExplainTable { .. } => "EXPLAIN",
        _ => "this statement",
    }
}
