//! `/rows`: one page of a version's rows, exact on the whole table.
//!
//! In file order with no filter or search, the page is read straight from the Parquet file
//! (only the row groups that hold it). Otherwise it is a DataFusion query built from the
//! request's parts, each parsed on its own first — `where` as exactly one expression,
//! `order_by` as a list of sort keys — and written back from its syntax tree, so that no part
//! can reach outside its place in the query (`1) UNION SELECT …` is a syntax error, not a
//! second query). The total is `count(*)` of the same filter.

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;

use super::{Engine, query_error};
use crate::adapters::formats::parquet_source::{self, PageError};
use crate::ports::queries::{QueryError, QueryTable, RowsPage, RowsRequest};

/// The name of the table a rows query reads.
const TABLE: &str = "data";
/// Deepest nesting of a `where` or `order_by` expression.
const RECURSION_LIMIT: usize = 64;

pub(super) async fn page(engine: &Engine, table: &QueryTable, request: &RowsRequest) -> Result<RowsPage, QueryError> {
    let in_file_order = request.filter.is_none() && request.order_by.is_none() && request.search.is_none();
    if in_file_order {
        let page = parquet_source::read_page(
            std::sync::Arc::clone(&engine.store),
            &table.key,
            table.size,
            request.columns.as_deref(),
            request.offset,
            request.limit,
        )
        .await
        .map_err(|e| match e {
            PageError::UnknownColumn(name) => QueryError::Invalid(format!("unknown column `{name}`")),
            PageError::Store(e) => QueryError::Store(e),
        })?;
        return Ok(RowsPage { schema: page.schema, batches: page.batches, total: page.total });
    }
    let data = QueryTable { name: TABLE.to_string(), ..table.clone() };
    let ctx = engine.session();
    engine.register(&ctx, &data).await.map_err(query_error)?;
    let schema = ctx.table(TABLE).await.map_err(query_error)?.schema().as_arrow().clone();
    let parts = QueryParts::of(request, &schema)?;
    let (count_sql, page_sql) = (parts.count(), parts.page(request));
    let (count, page) = tokio::join!(engine.collect_in(&ctx, &count_sql), engine.collect_in(&ctx, &page_sql));
    let (_, counted) = count?;
    let (schema, batches) = page?;
    let total = counted
        .first()
        .filter(|b| b.num_rows() == 1)
        .and_then(|b| ScalarValue::try_from_array(b.column(0), 0).ok())
        .and_then(|v| match v {
            ScalarValue::Int64(Some(n)) => u64::try_from(n).ok(),
            _ => None,
        })
        .ok_or_else(|| QueryError::Engine("the row count came back in an unexpected shape".into()))?;
    Ok(RowsPage { schema, batches, total })
}

/// The parts of a rows query, each checked and written back from its syntax tree.
struct QueryParts {
    /// The select list (quoted column names, or `*`).
    select: String,
    /// The combined `where` and search condition, if any.
    condition: Option<String>,
    /// The sort keys, if any.
    order_by: Option<String>,
}

impl QueryParts {
    fn of(request: &RowsRequest, schema: &Schema) -> Result<Self, QueryError> {
        let select = match &request.columns {
            None => "*".to_string(),
            Some(names) => {
                for name in names {
                    if schema.field_with_name(name).is_err() {
                        return Err(QueryError::Invalid(format!("unknown column `{name}`")));
                    }
                }
                names.iter().map(|n| quoted(n)).collect::<Vec<_>>().join(", ")
            }
        };
        let mut conditions = Vec::new();
        if let Some(filter) = request.filter.as_deref() {
            conditions.push(format!("({})", expression(filter)?));
        }
        if let Some(text) = request.search.as_deref() {
            conditions.push(search_condition(text, schema));
        }
        let condition = (!conditions.is_empty()).then(|| conditions.join(" AND "));
        let order_by = request.order_by.as_deref().map(sort_keys).transpose()?;
        Ok(Self { select, condition, order_by })
    }

    fn count(&self) -> String {
        format!("SELECT count(*) FROM {TABLE}{}", self.where_clause())
    }

    fn page(&self, request: &RowsRequest) -> String {
        let order = self.order_by.as_ref().map(|o| format!(" ORDER BY {o}")).unwrap_or_default();
        format!(
            "SELECT {} FROM {TABLE}{}{order} LIMIT {} OFFSET {}",
            self.select,
            self.where_clause(),
            request.limit,
            request.offset
        )
    }

    fn where_clause(&self) -> String {
        self.condition.as_ref().map(|c| format!(" WHERE {c}")).unwrap_or_default()
    }
}

fn parser_for(text: &str) -> Result<Parser<'static>, QueryError> {
    Parser::new(&GenericDialect {})
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(text)
        .map_err(|e| QueryError::Invalid(e.to_string()))
}

/// A parser's error about `part` (`where`, `order_by`), with its position: the parser's own
/// (`at Line: L, Column: C`), or the end of the text when it ran out of text.
fn syntax_error(part: &str, text: &str, e: impl std::fmt::Display) -> QueryError {
    let message = e.to_string();
    if message.contains("Line: ") {
        return QueryError::Invalid(format!("{part}: {message}"));
    }
    let line = text.split('\n').count();
    let column = text.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    QueryError::Invalid(format!("{part}: {message} at Line: {line}, Column: {column}"))
}

/// `text` as exactly one SQL expression, written back from its syntax tree.
fn expression(text: &str) -> Result<String, QueryError> {
    let mut parser = parser_for(text)?;
    let expr = parser.parse_expr().map_err(|e| syntax_error("where", text, e))?;
    parser.expect_token(&Token::EOF).map_err(|e| syntax_error("where", text, e))?;
    super::statement::check_depth(&expr)?;
    Ok(expr.to_string())
}

/// `text` as a comma-separated list of sort keys (`col [ASC|DESC] [NULLS FIRST|LAST]`),
/// written back from their syntax trees.
fn sort_keys(text: &str) -> Result<String, QueryError> {
    let mut parser = parser_for(text)?;
    let keys =
        parser.parse_comma_separated(Parser::parse_order_by_expr).map_err(|e| syntax_error("order_by", text, e))?;
    parser.expect_token(&Token::EOF).map_err(|e| syntax_error("order_by", text, e))?;
    Ok(keys.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
}

/// Rows where any text column holds `text`, whatever its case; `FALSE` for a table without a
/// text column. LIKE's wildcards in `text` are escaped (backslash is the escape character).
fn search_condition(text: &str, schema: &Schema) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let pattern = format!("'%{}%'", escaped.replace('\'', "''"));
    let matches: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| matches!(f.data_type(), DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8))
        .map(|f| format!("{} ILIKE {pattern}", quoted(f.name())))
        .collect();
    if matches.is_empty() { "FALSE".to_string() } else { format!("({})", matches.join(" OR ")) }
}

/// A column name as a quoted SQL identifier.
pub(super) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_where_is_one_expression_and_nothing_more() {
        assert_eq!(expression("a > 1 AND \"odd name\" IS NULL").unwrap(), "a > 1 AND \"odd name\" IS NULL");
        for smuggled in ["1=1) UNION SELECT * FROM v0 WHERE (1=1", "a > 1; DROP TABLE data", "a > 1 LIMIT 5"] {
            assert!(matches!(expression(smuggled), Err(QueryError::Invalid(_))), "{smuggled}");
        }
    }

    #[test]
    fn a_syntax_error_says_where_it_is() {
        let Err(QueryError::Invalid(message)) = expression("a > > 1") else { panic!("accepted") };
        assert!(message.contains("Line: 1, Column: 5"), "{message}");
        let Err(QueryError::Invalid(message)) = expression("a >") else { panic!("accepted") };
        assert!(message.ends_with("at Line: 1, Column: 4"), "{message}");
    }

    #[test]
    fn sort_keys_are_read_with_their_directions() {
        assert_eq!(sort_keys("a DESC NULLS LAST, \"b\"").unwrap(), "a DESC NULLS LAST, \"b\"");
        assert!(sort_keys("a; DELETE FROM data").is_err());
    }

    #[test]
    fn long_chains_are_refused_before_planning_and_lists_pass() {
        let chain: String = (0..300).map(|i| format!("id = {i}")).collect::<Vec<_>>().join(" OR ");
        let Err(QueryError::Invalid(message)) = expression(&chain) else { panic!("accepted") };
        assert!(message.contains("IN ("), "{message}");
        let short: String = (0..200).map(|i| format!("id = {i}")).collect::<Vec<_>>().join(" OR ");
        assert!(expression(&short).is_ok());
        let list = format!("id IN ({})", (0..20_000).map(|i| i.to_string()).collect::<Vec<_>>().join(", "));
        assert!(expression(&list).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(matches!(expression(&deep), Err(QueryError::Invalid(_))));
    }

    #[test]
    fn search_escapes_wildcards_and_quotes() {
        let schema = Schema::new(vec![
            datafusion::arrow::datatypes::Field::new("n", DataType::Int64, true),
            datafusion::arrow::datatypes::Field::new("s", DataType::Utf8, true),
        ]);
        assert_eq!(search_condition("50%_o'k\\", &schema), "(\"s\" ILIKE '%50\\%\\_o''k\\\\%')");
        let numbers = Schema::new(vec![datafusion::arrow::datatypes::Field::new("n", DataType::Int64, true)]);
        assert_eq!(search_condition("x", &numbers), "FALSE");
    }
}
