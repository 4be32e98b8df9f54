//! The content hash of a version: `sha256:` and the hex SHA-256 of a canonical serialization
//! of its normalized table. The same table gives the same hash whatever file it came from (CSV
//! with any delimiter, encoding or line ending; Parquet with any row groups or compression),
//! and any change of a value, a column name, a dtype or the row order changes it. The
//! definition is written out in `docs/content-hash.md`, with a Python recipe.
//!
//! ```text
//! content_hash = "sha256:" + hex(SHA-256(
//!     "datasets-api/table/v1\n"
//!     u64le(row count) u64le(column count)
//!     for each column, in order:
//!         u64le(byte length of its name) name (UTF-8)
//!         u64le(byte length of its dtype) dtype (ASCII: int64, float64, bool, datetime64,
//!                                                 category or object)
//!         column digest (32 bytes)
//! ))
//! column digest = SHA-256(
//!     storage tag (one byte: 1 int64, 2 float64, 3 bool, 4 date, 5 timestamp, 6 timestamp
//!                  in UTC, 7 text)
//!     for each row, in order: the cell
//! )
//! cell: missing → 0x00 followed by the type's fixed width of zero bytes (none for text);
//!       present → 0x01 followed by
//!         int64       the value, 8 bytes little-endian (two's complement)
//!         float64     the IEEE-754 bits, 8 bytes little-endian (−0.0 and 0.0 differ)
//!         bool        one byte, 0 or 1
//!         date        days since 1970-01-01, 4 bytes little-endian
//!         timestamp   microseconds since 1970-01-01T00:00:00, 8 bytes little-endian
//!         text        u64le(byte length) and the UTF-8 bytes
//! ```

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use sha2::{Digest, Sha256};

use crate::domain::dtype::ColumnSchema;

/// The first bytes of every table serialization (its version).
const PREFIX: &[u8] = b"datasets-api/table/v1\n";

/// How a column is stored, as its digest says it first.
fn storage_tag(data_type: &DataType) -> Option<u8> {
    Some(match data_type {
        DataType::Int64 => 1,
        DataType::Float64 => 2,
        DataType::Boolean => 3,
        DataType::Date32 => 4,
        DataType::Timestamp(TimeUnit::Microsecond, None) => 5,
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => 6,
        DataType::Utf8 => 7,
        _ => return None,
    })
}

/// The digest of one column, fed its arrays in row order.
pub struct ColumnDigest {
    sha: Sha256,
    data_type: DataType,
    buffer: Vec<u8>,
}

/// A column of a type a normalized table cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a normalized table has no column of type {0}")]
pub struct UnhashableType(pub String);

impl ColumnDigest {
    pub fn new(data_type: &DataType) -> Result<Self, UnhashableType> {
        let tag = storage_tag(data_type).ok_or_else(|| UnhashableType(data_type.to_string()))?;
        let mut sha = Sha256::new();
        sha.update([tag]);
        Ok(Self { sha, data_type: data_type.clone(), buffer: Vec::new() })
    }

    /// Adds the cells of `column` (of the digest's type), in order.
    pub fn update(&mut self, column: &ArrayRef) -> Result<(), UnhashableType> {
        if column.data_type() != &self.data_type {
            return Err(UnhashableType(column.data_type().to_string()));
        }
        let out = &mut self.buffer;
        out.clear();
        let valid = |row: usize| column.is_valid(row);
        match &self.data_type {
            DataType::Int64 => {
                fixed(out, column.len(), valid, |row| column.as_primitive::<Int64Type>().value(row).to_le_bytes())
            }
            DataType::Float64 => fixed(out, column.len(), valid, |row| {
                column.as_primitive::<Float64Type>().value(row).to_bits().to_le_bytes()
            }),
            DataType::Boolean => fixed(out, column.len(), valid, |row| [u8::from(column.as_boolean().value(row))]),
            DataType::Date32 => {
                fixed(out, column.len(), valid, |row| column.as_primitive::<Date32Type>().value(row).to_le_bytes())
            }
            DataType::Timestamp(..) => fixed(out, column.len(), valid, |row| {
                column.as_primitive::<TimestampMicrosecondType>().value(row).to_le_bytes()
            }),
            _ => {
                let text = column.as_string::<i32>();
                out.reserve(column.len() * 9 + text.value_data().len());
                for row in 0..column.len() {
                    if text.is_valid(row) {
                        let value = text.value(row).as_bytes();
                        out.push(1);
                        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
                        out.extend_from_slice(value);
                    } else {
                        out.push(0);
                    }
                }
            }
        }
        self.sha.update(&self.buffer);
        Ok(())
    }

    pub fn finish(self) -> [u8; 32] {
        self.sha.finalize().into()
    }
}

/// Appends each row's cell of a fixed-width type: 0x00 and zeros when missing, 0x01 and the
/// value's bytes when present.
fn fixed<const N: usize>(
    out: &mut Vec<u8>,
    rows: usize,
    valid: impl Fn(usize) -> bool,
    bytes: impl Fn(usize) -> [u8; N],
) {
    out.reserve(rows * (N + 1));
    for row in 0..rows {
        if valid(row) {
            out.push(1);
            out.extend_from_slice(&bytes(row));
        } else {
            out.push(0);
            out.extend_from_slice(&[0; N]);
        }
    }
}

/// The content hash of a table of `rows` rows whose columns, in order, are `columns` with the
/// `digests` of their cells.
pub fn content_hash(rows: u64, columns: &[ColumnSchema], digests: &[[u8; 32]]) -> String {
    let mut sha = Sha256::new();
    sha.update(PREFIX);
    sha.update(rows.to_le_bytes());
    sha.update((columns.len() as u64).to_le_bytes());
    for (column, digest) in columns.iter().zip(digests) {
        let (name, dtype) = (column.name.as_bytes(), column.dtype.as_str().as_bytes());
        sha.update((name.len() as u64).to_le_bytes());
        sha.update(name);
        sha.update((dtype.len() as u64).to_le_bytes());
        sha.update(dtype);
        sha.update(digest);
    }
    format!("sha256:{}", hex::encode(sha.finalize()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BooleanArray, Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray};

    use super::*;
    use crate::domain::dtype::DType;

    fn digest(column: ArrayRef) -> [u8; 32] {
        let mut d = ColumnDigest::new(column.data_type()).unwrap();
        d.update(&column).unwrap();
        d.finish()
    }

    /// The serialization of the module doc, written out byte by byte (independently of the
    /// code above) for a small table.
    #[test]
    fn the_hash_is_the_documented_serialization() {
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(-2), None]));
        let texts: ArrayRef = Arc::new(StringArray::from(vec![None, Some("é")]));
        let mut expected_ints = vec![1u8];
        expected_ints.extend([1u8]);
        expected_ints.extend((-2i64).to_le_bytes());
        expected_ints.extend([0u8; 9]);
        let mut expected_texts = vec![7u8, 0, 1];
        expected_texts.extend(2u64.to_le_bytes());
        expected_texts.extend("é".as_bytes());
        let (di, dt) = (digest(ints), digest(texts));
        assert_eq!(di.as_slice(), Sha256::digest(&expected_ints).as_slice());
        assert_eq!(dt.as_slice(), Sha256::digest(&expected_texts).as_slice());

        let columns = [
            ColumnSchema { name: "n".into(), dtype: DType::Int64 },
            ColumnSchema { name: "s".into(), dtype: DType::Object },
        ];
        let mut table = b"datasets-api/table/v1\n".to_vec();
        table.extend(2u64.to_le_bytes());
        table.extend(2u64.to_le_bytes());
        for (name, dtype, d) in [("n", "int64", di), ("s", "object", dt)] {
            table.extend((name.len() as u64).to_le_bytes());
            table.extend(name.as_bytes());
            table.extend((dtype.len() as u64).to_le_bytes());
            table.extend(dtype.as_bytes());
            table.extend(d);
        }
        assert_eq!(content_hash(2, &columns, &[di, dt]), format!("sha256:{}", hex::encode(Sha256::digest(&table))));
    }

    #[test]
    fn a_column_hashes_the_same_whatever_its_batches() {
        let values: Vec<Option<f64>> = (0..100).map(|i| (i % 7 != 0).then_some(i as f64 / 3.0)).collect();
        let whole: ArrayRef = Arc::new(Float64Array::from(values.clone()));
        let mut parts = ColumnDigest::new(&DataType::Float64).unwrap();
        for chunk in values.chunks(13) {
            parts.update(&(Arc::new(Float64Array::from(chunk.to_vec())) as ArrayRef)).unwrap();
        }
        assert_eq!(parts.finish(), digest(whole));
    }

    #[test]
    fn any_change_of_a_value_a_name_a_dtype_or_the_order_changes_the_hash() {
        let column = |name: &str, dtype| ColumnSchema { name: name.into(), dtype };
        let d = |v: Vec<i64>| digest(Arc::new(Int64Array::from(v)));
        let base = content_hash(2, &[column("a", DType::Int64)], &[d(vec![1, 2])]);
        assert_ne!(base, content_hash(2, &[column("a", DType::Int64)], &[d(vec![1, 3])]), "a value");
        assert_ne!(base, content_hash(2, &[column("a", DType::Int64)], &[d(vec![2, 1])]), "the order");
        assert_ne!(base, content_hash(2, &[column("b", DType::Int64)], &[d(vec![1, 2])]), "a name");
        let texts = |v: Vec<&str>| digest(Arc::new(StringArray::from(v)));
        assert_ne!(
            content_hash(2, &[column("a", DType::Object)], &[texts(vec!["x", "y"])]),
            content_hash(2, &[column("a", DType::Category)], &[texts(vec!["x", "y"])]),
            "a dtype"
        );
        assert_ne!(texts(vec!["ab", "c"]), texts(vec!["a", "bc"]), "text boundaries are part of the cells");
        assert_ne!(digest(Arc::new(Float64Array::from(vec![0.0]))), digest(Arc::new(Float64Array::from(vec![-0.0]))));
        let date: ArrayRef = Arc::new(Date32Array::from(vec![1]));
        let naive: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![86_400_000_000]));
        let utc: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![86_400_000_000]).with_timezone("UTC"));
        assert_ne!(digest(date), digest(Arc::clone(&naive)));
        assert_ne!(digest(naive), digest(utc));
        assert!(ColumnDigest::new(&DataType::Int32).is_err());
        let flags: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), None]));
        assert_eq!(digest(Arc::clone(&flags)), digest(flags));
    }
}
