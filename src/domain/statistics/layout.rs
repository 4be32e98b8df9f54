//! `memory_usage`: the size of the columns in Arrow's in-memory layout.

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::DataType;

use super::text_chunk::{for_each_text, is_text};

/// Bytes of one column chunk in the documented in-memory layout (without the per-column
/// validity bitmap, which [`memory_usage_mb`] adds once).
pub fn layout_bytes(column: &ArrayRef) -> u64 {
    let n = column.len() as u64;
    match column.data_type() {
        DataType::Int64 | DataType::Float64 | DataType::Timestamp(_, _) => 8 * n,
        DataType::Date32 => 4 * n,
        DataType::Boolean => n.div_ceil(8),
        // Text read dictionary-encoded counts as the same text column would.
        _ if is_text(column) => {
            let mut text = 0;
            for_each_text(column, |value, rows| text += rows * value.len() as u64);
            4 * n + text
        }
        _ => 8 * n,
    }
}

/// Total MB (10⁶ bytes, exact to the byte) of `columns` columns of `rows` rows whose value bytes are
/// `value_bytes`: adds each column's validity bitmap and the extra text offset.
pub fn memory_usage_mb(value_bytes: u64, rows: u64, columns: u64, text_columns: u64) -> f64 {
    let total = value_bytes + columns * rows.div_ceil(8) + text_columns * 4;
    total as f64 / 1e6
}
