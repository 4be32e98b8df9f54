//! DataFusion's errors as the port's [`QueryError`]: the one place that decides whose fault a
//! failed query is.

use datafusion::error::DataFusionError;

use crate::ports::StoreError;
use crate::ports::queries::QueryError;

/// What a DataFusion error means for the caller:
/// - the query's own fault (syntax with its position, unknown names, types, arithmetic on the
///   data such as a division by zero or a failed cast, an unsupported feature): `Invalid`;
/// - more memory or spill space than the server gives queries: `TooLarge`;
/// - a stored file that cannot be read: `Store` (its own kind, e.g. `NotFound`);
/// - anything else (DataFusion's own invariants, task failures): `Engine`.
pub fn query_error(e: DataFusionError) -> QueryError {
    let message = e.to_string();
    match root(&e) {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Execution(_)
        | DataFusionError::ArrowError(..) => QueryError::Invalid(clean(&message)),
        DataFusionError::ResourcesExhausted(_) => QueryError::TooLarge(format!(
            "the query needs more memory than the server gives queries (QUERY_MEMORY_BYTES): {}",
            clean(&message)
        )),
        DataFusionError::ObjectStore(inner) => match inner.as_ref() {
            object_store::Error::NotFound { .. } => QueryError::Store(StoreError::NotFound),
            _ => QueryError::Store(StoreError::other_caused_by("reading a stored table", e)),
        },
        _ => QueryError::Engine(message),
    }
}

/// The innermost error, through DataFusion's wrappers (context, diagnostics, collections,
/// errors boxed as external).
fn root(e: &DataFusionError) -> &DataFusionError {
    let mut at = e.find_root();
    while let DataFusionError::External(inner) = at {
        match inner.downcast_ref::<DataFusionError>() {
            Some(next) => at = next.find_root(),
            None => break,
        }
    }
    at
}

/// DataFusion's message without its category prefixes and its plea to file a bug.
fn clean(message: &str) -> String {
    let mut text = message.trim();
    for prefix in [
        "External error: ",
        "Error during planning: ",
        "Execution error: ",
        "Arrow error: ",
        "SQL error: ",
        "Schema error: ",
        "Resources exhausted: ",
        "This feature is not implemented: ",
    ] {
        while let Some(rest) = text.strip_prefix(prefix) {
            text = rest.trim_start();
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_s_own_mistakes_are_invalid_and_keep_their_message() {
        let e = DataFusionError::Plan("table 'x' not found".into());
        assert!(matches!(query_error(e), QueryError::Invalid(m) if m == "table 'x' not found"));
        let e = DataFusionError::Context(
            "while planning".into(),
            Box::new(DataFusionError::Execution("Divide by zero".into())),
        );
        assert!(matches!(query_error(e), QueryError::Invalid(m) if m.contains("Divide by zero")));
    }

    #[test]
    fn exhausted_memory_is_too_large_and_engine_bugs_are_not_the_caller_s() {
        let e = DataFusionError::ResourcesExhausted("Failed to allocate".into());
        assert!(matches!(query_error(e), QueryError::TooLarge(m) if m.contains("QUERY_MEMORY_BYTES")));
        assert!(matches!(query_error(DataFusionError::Internal("bug".into())), QueryError::Engine(_)));
    }
}
