//! [`ColumnValues`]: what one column's read collects, chunk by chunk, and its statistics.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};

use super::ColumnStats;
use super::numeric::{float_stats, int_stats};
use super::temporal::{MICROS_PER_DAY, temporal_stats};
use super::text_chunk::for_each_text;
use super::top_values::{HashCounts, HashTally, top_values};
use crate::domain::dtype::DType;

/// Collects one column's non-missing values across batches.
pub enum ColumnValues {
    Int(Vec<i64>),
    Float(Vec<f64>),
    Bool {
        trues: u64,
        falses: u64,
    },
    /// Exact counts by value (used to compare versions).
    Text(HashMap<String, u64>),
    /// Counts by 64-bit value hash, whatever the values' length (two values sharing a hash
    /// are counted as one: see [`HashTally`]); `top_values` may then need a second pass
    /// ([`super::TopValueRecovery`]).
    TextHashes(HashTally),
    Time {
        micros: Vec<i64>,
        dates: bool,
        utc: bool,
    },
}

impl ColumnValues {
    /// A collector for the column type that counts text by value hash (`/analyze`: bounded
    /// memory whatever the values' length; see [`HashTally`]).
    pub fn for_type_hashed(data_type: &DataType) -> Self {
        match data_type {
            DataType::Utf8 => Self::TextHashes(HashTally::default()),
            DataType::Dictionary(_, values) if **values == DataType::Utf8 => Self::TextHashes(HashTally::default()),
            _ => Self::for_type(data_type),
        }
    }

    /// A collector for the column type that counts text exactly, by value (`/compare`).
    pub fn for_type(data_type: &DataType) -> Self {
        match data_type {
            DataType::Int64 => Self::Int(Vec::new()),
            DataType::Float64 => Self::Float(Vec::new()),
            DataType::Boolean => Self::Bool { trues: 0, falses: 0 },
            DataType::Date32 => Self::Time { micros: Vec::new(), dates: true, utc: false },
            DataType::Timestamp(_, tz) => Self::Time { micros: Vec::new(), dates: false, utc: tz.is_some() },
            _ => Self::Text(HashMap::new()),
        }
    }

    /// Makes room for `values` more values at once (a collector told the column's length
    /// holds it without the slack and copies of growing step by step).
    pub fn reserve_exact(&mut self, values: usize) {
        match self {
            Self::Int(v) => v.reserve_exact(values),
            Self::Float(v) => v.reserve_exact(values),
            Self::Time { micros, .. } => micros.reserve_exact(values),
            Self::Bool { .. } | Self::Text(_) | Self::TextHashes(_) => {}
        }
    }

    /// Adds a column chunk; returns its number of missing cells.
    pub fn observe(&mut self, column: &ArrayRef) -> u64 {
        let valid = |i: usize| column.is_valid(i);
        let n = column.len();
        match self {
            Self::Int(v) => {
                let a = column.as_primitive::<Int64Type>();
                v.extend((0..n).filter(|&i| valid(i)).map(|i| a.value(i)));
            }
            Self::Float(v) => {
                let a = column.as_primitive::<Float64Type>();
                v.extend((0..n).filter(|&i| valid(i)).map(|i| a.value(i)));
            }
            Self::Bool { trues, falses } => {
                let a = column.as_boolean();
                for i in (0..n).filter(|&i| valid(i)) {
                    if a.value(i) { *trues += 1 } else { *falses += 1 }
                }
            }
            Self::Text(counts) => for_each_text(column, |value, rows| match counts.get_mut(value) {
                Some(c) => *c += rows,
                None => {
                    counts.insert(value.to_string(), rows);
                }
            }),
            Self::TextHashes(tally) => for_each_text(column, |value, rows| tally.add_text_times(value, rows)),
            Self::Time { micros, dates, .. } => {
                if *dates {
                    let a = column.as_primitive::<Date32Type>();
                    micros.extend(
                        (0..n).filter(|&i| valid(i)).map(|i| i64::from(a.value(i)).saturating_mul(MICROS_PER_DAY)),
                    );
                } else {
                    let a = column.as_primitive::<TimestampMicrosecondType>();
                    micros.extend((0..n).filter(|&i| valid(i)).map(|i| a.value(i)));
                }
            }
        }
        column.null_count() as u64
    }

    /// Counts by value hash of a text column, or of a bool column as the texts `true` and
    /// `false` (`/compare` pairs categories by hash); `None` for other kinds.
    pub fn into_hash_counts(self) -> Option<HashCounts> {
        match self {
            Self::TextHashes(tally) => Some(tally.into_counts()),
            Self::Bool { trues, falses } => {
                let mut tally = HashTally::default();
                tally.add_text_times("true", trues);
                tally.add_text_times("false", falses);
                Some(tally.into_counts())
            }
            Self::Text(counts) => {
                let mut tally = HashTally::default();
                counts.iter().for_each(|(value, &n)| tally.add_text_times(value, n));
                Some(tally.into_counts())
            }
            Self::Int(_) | Self::Float(_) | Self::Time { .. } => None,
        }
    }

    /// The column's statistics.
    pub fn finish(self, name: String, dtype: DType, rows: u64, missing: u64) -> ColumnStats {
        let missing_percent = if rows == 0 { 0.0 } else { missing as f64 / rows as f64 };
        let mut stats = ColumnStats {
            name,
            dtype,
            unique: 0,
            missing,
            missing_percent,
            numeric: None,
            top_values: None,
            temporal: None,
        };
        match self {
            Self::Int(v) => {
                let (numeric, unique) = int_stats(v);
                stats.numeric = Some(numeric);
                stats.unique = unique;
            }
            Self::Float(v) => {
                let (numeric, unique) = float_stats(v);
                stats.numeric = Some(numeric);
                stats.unique = unique;
            }
            Self::Bool { trues, falses } => {
                let mut counts = HashMap::new();
                if trues > 0 {
                    counts.insert("true".to_string(), trues);
                }
                if falses > 0 {
                    counts.insert("false".to_string(), falses);
                }
                stats.unique = counts.len() as u64;
                stats.top_values = Some(top_values(counts));
            }
            Self::Text(counts) => {
                stats.unique = counts.len() as u64;
                stats.top_values = Some(top_values(counts));
            }
            Self::TextHashes(tally) => {
                stats.unique = tally.into_counts().distinct();
                stats.top_values = Some(Vec::new());
            }
            Self::Time { micros, dates, utc } => {
                let (temporal, unique) = temporal_stats(micros, dates, utc);
                stats.temporal = temporal;
                stats.unique = unique;
            }
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::StringArray;
    use arrow::datatypes::Int32Type;

    use super::*;
    use crate::domain::statistics::layout_bytes;

    #[test]
    fn text_read_as_a_dictionary_has_the_statistics_and_layout_of_the_same_text() {
        use arrow::array::{DictionaryArray, Int32Array};
        use std::sync::Arc;
        let values = Arc::new(StringArray::from(vec![Some("b"), Some("a"), Some("unused"), Some("ccc")]));
        let batches_of_keys =
            [vec![Some(0), Some(1), None, Some(0), Some(3), Some(0)], vec![Some(1), Some(1), Some(3), None], vec![]];
        let (mut from_text, mut from_dictionary) = (
            ColumnValues::for_type_hashed(&DataType::Utf8),
            ColumnValues::for_type_hashed(&DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))),
        );
        let (mut missing, mut layout) = ((0, 0), (0, 0));
        for keys in batches_of_keys {
            let dictionary: ArrayRef = Arc::new(
                DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys.clone()), values.clone()).unwrap(),
            );
            let text: ArrayRef = Arc::new(StringArray::from(
                keys.iter().map(|k| k.map(|k| values.value(k as usize).to_string())).collect::<Vec<_>>(),
            ));
            missing.0 += from_text.observe(&text);
            missing.1 += from_dictionary.observe(&dictionary);
            layout.0 += layout_bytes(&text);
            layout.1 += layout_bytes(&dictionary);
        }
        assert_eq!(missing, (2, 2));
        assert_eq!(layout.0, layout.1);
        assert_eq!(layout.0, 4 * 10 + (1 + 1 + 1 + 3 + 1) + (1 + 1 + 3));
        let counts = |values: ColumnValues| match values {
            ColumnValues::TextHashes(tally) => {
                let counts = tally.into_counts();
                (counts.distinct(), counts.known_top_values())
            }
            _ => panic!("text is counted by hash"),
        };
        let (text, dictionary) = (counts(from_text), counts(from_dictionary));
        assert_eq!(text, dictionary);
        assert_eq!(text.0, 3);
        let top = text.1.expect("the memo names every value");
        assert_eq!(top, vec![("a".to_string(), 3), ("b".to_string(), 3), ("ccc".to_string(), 2)]);
    }
}
