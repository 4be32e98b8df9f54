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

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, Schema, TimeUnit, TimestampMicrosecondType};
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
        let (rows, nulls) = (column.len(), column.nulls());
        let valid = |row: usize| nulls.is_none_or(|n| n.is_valid(row));
        match &self.data_type {
            DataType::Int64 => {
                let values = column.as_primitive::<Int64Type>().values();
                fixed(out, rows, valid, |row| values[row].to_le_bytes())
            }
            DataType::Float64 => {
                let values = column.as_primitive::<Float64Type>().values();
                fixed(out, rows, valid, |row| values[row].to_bits().to_le_bytes())
            }
            DataType::Boolean => {
                let values = column.as_boolean().values();
                fixed(out, rows, valid, |row| [u8::from(values.value(row))])
            }
            DataType::Date32 => {
                let values = column.as_primitive::<Date32Type>().values();
                fixed(out, rows, valid, |row| values[row].to_le_bytes())
            }
            DataType::Timestamp(..) => {
                let values = column.as_primitive::<TimestampMicrosecondType>().values();
                fixed(out, rows, valid, |row| values[row].to_le_bytes())
            }
            _ => {
                let text = column.as_string::<i32>();
                let (offsets, bytes) = (text.value_offsets(), text.value_data());
                out.reserve(rows * 9 + bytes.len());
                for row in 0..rows {
                    if valid(row) {
                        let value = &bytes[offsets[row] as usize..offsets[row + 1] as usize];
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

/// The digests of every column of a table, fed its batches in row order.
pub struct TableDigests(Vec<ColumnDigest>);

impl TableDigests {
    /// One digest per column of `schema` (canonical column types).
    pub fn new(schema: &Schema) -> Result<Self, UnhashableType> {
        schema.fields().iter().map(|f| ColumnDigest::new(f.data_type())).collect::<Result<_, _>>().map(Self)
    }

    /// Adds the rows of `batch` (of the schema's columns), in order.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<(), UnhashableType> {
        self.0.iter_mut().zip(batch.columns()).try_for_each(|(digest, column)| digest.update(column))
    }

    /// Every column's digest, in column order.
    pub fn finish(self) -> Vec<[u8; 32]> {
        self.0.into_iter().map(ColumnDigest::finish).collect()
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
    // Written in place: the zeros a missing cell needs are already there.
    let start = out.len();
    out.resize(start + rows * (N + 1), 0);
    for (row, cell) in out[start..].chunks_exact_mut(N + 1).enumerate() {
        if valid(row) {
            cell[0] = 1;
            cell[1..].copy_from_slice(&bytes(row));
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

    /// Each fixed-width type's cells written out by hand: `0x01` and the little-endian value,
    /// or `0x00` and the type's width in zeros; also over a slice (an array that starts at an
    /// offset of its buffers, as a batch cut from a larger one does).
    #[test]
    fn every_type_with_missing_cells_hashes_its_documented_serialization() {
        let cell = |value: Option<Vec<u8>>, width: usize| match value {
            Some(bytes) => [vec![1u8], bytes].concat(),
            None => vec![0u8; width + 1],
        };
        let expected = |tag: u8, cells: Vec<Vec<u8>>| Sha256::digest([vec![tag], cells.concat()].concat()).to_vec();
        let ints = [Some(7i64), None, Some(-1)];
        let floats = [None, Some(-0.0f64), Some(2.5)];
        let flags = [Some(false), None, Some(true)];
        let days = [Some(-3i32), Some(0), None];
        let micros = [None, Some(1i64 << 40), Some(-5)];
        let cases: Vec<(ArrayRef, Vec<u8>)> = vec![
            (
                Arc::new(Int64Array::from(ints.to_vec())),
                expected(1, ints.iter().map(|v| cell(v.map(|v| v.to_le_bytes().to_vec()), 8)).collect()),
            ),
            (
                Arc::new(Float64Array::from(floats.to_vec())),
                expected(2, floats.iter().map(|v| cell(v.map(|v| v.to_bits().to_le_bytes().to_vec()), 8)).collect()),
            ),
            (
                Arc::new(BooleanArray::from(flags.to_vec())),
                expected(3, flags.iter().map(|v| cell(v.map(|v| vec![u8::from(v)]), 1)).collect()),
            ),
            (
                Arc::new(Date32Array::from(days.to_vec())),
                expected(4, days.iter().map(|v| cell(v.map(|v| v.to_le_bytes().to_vec()), 4)).collect()),
            ),
            (
                Arc::new(TimestampMicrosecondArray::from(micros.to_vec())),
                expected(5, micros.iter().map(|v| cell(v.map(|v| v.to_le_bytes().to_vec()), 8)).collect()),
            ),
        ];
        for (column, want) in cases {
            assert_eq!(digest(Arc::clone(&column)).to_vec(), want, "{}", column.data_type());
            // The same cells behind a leading cell that is sliced off.
            let padded = arrow::compute::concat(&[column.slice(2, 1).as_ref(), column.as_ref()]).unwrap();
            assert_eq!(digest(padded.slice(1, 3)).to_vec(), want, "{} sliced", column.data_type());
        }
        let texts: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), Some("ab"), None, Some("")]));
        let mut want = vec![7u8];
        for v in [Some("ab"), None, Some("")] {
            match v {
                Some(v) => {
                    want.extend([vec![1u8], (v.len() as u64).to_le_bytes().to_vec(), v.as_bytes().to_vec()].concat())
                }
                None => want.push(0),
            }
        }
        assert_eq!(digest(texts.slice(1, 3)).to_vec(), Sha256::digest(&want).to_vec(), "text sliced");
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
