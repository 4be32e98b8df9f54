//! Reading a text chunk, plain (`Utf8`) or dictionary-encoded (`Dictionary(Int32, Utf8)`).

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray, StringArray};
use arrow::datatypes::{DataType, Int32Type};

/// True for a plain or dictionary-encoded text chunk.
pub(crate) fn is_text(column: &ArrayRef) -> bool {
    column.data_type() == &DataType::Utf8 || text_dictionary(column).is_some()
}

/// Calls `each` with every non-missing text of a `Utf8` or `Dictionary(Int32, Utf8)` chunk and
/// the number of rows it stands for: once per row for plain text; for a dictionary, once per
/// distinct value of the chunk, with its number of rows (no row's text is read).
pub(crate) fn for_each_text(column: &ArrayRef, mut each: impl FnMut(&str, u64)) {
    match text_dictionary(column) {
        Some((keys, values)) => {
            for (k, rows) in key_counts(keys, values.len()).into_iter().enumerate() {
                if rows > 0 && values.is_valid(k) {
                    each(values.value(k), rows);
                }
            }
        }
        None => column.as_string::<i32>().iter().flatten().for_each(|value| each(value, 1)),
    }
}

/// The keys and values of a `Dictionary(Int32, Utf8)` column.
fn text_dictionary(column: &ArrayRef) -> Option<(&PrimitiveArray<Int32Type>, &StringArray)> {
    let dictionary = column.as_dictionary_opt::<Int32Type>()?;
    Some((dictionary.keys(), dictionary.values().as_string_opt::<i32>()?))
}

/// How many non-missing rows hold each of the `values` dictionary keys.
fn key_counts(keys: &PrimitiveArray<Int32Type>, values: usize) -> Vec<u64> {
    let mut counts = vec![0u64; values];
    for k in keys.iter().flatten() {
        if let Some(count) = usize::try_from(k).ok().and_then(|k| counts.get_mut(k)) {
            *count += 1;
        }
    }
    counts
}
