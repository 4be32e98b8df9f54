//! The fold that makes dataset search case-insensitive in every script, the same on SQLite,
//! PostgreSQL and MySQL/MariaDB: their own `LOWER()`s disagree (SQLite's folds ASCII only), so
//! the server stores folded copies of the searchable text and folds each needle the same way.

/// `text` in Unicode lower case (`str::to_lowercase`: the default case mapping, every script,
/// without a locale's exceptions). Stored copies and needles must be folded by this one
/// function; changing it needs a migration that folds every stored copy again.
pub fn fold_for_search(text: &str) -> String {
    text.to_lowercase()
}
