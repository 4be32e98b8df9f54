//! Checks of an uploaded Parquet file's own claims that parquet-rs trusts, made on the raw
//! bytes before it acts on them:
//!
//! - Before the footer is parsed ([`check_raw_footer`]): the schema's nesting depth (parquet-rs
//!   builds the schema tree recursively, so a footer of a few KB with a thousand nested groups
//!   overflows the stack, which aborts the process), the number of schema elements and of
//!   column chunks (each takes some hundred bytes once parsed, about 20 times its size in the
//!   file).
//! - Before any page is decoded ([`check_pages`]): each page header's uncompressed size, which
//!   the reader allocates before decompressing (a Snappy page is zero-filled to that size). A
//!   page may not claim more than its codec can produce from its compressed bytes, and the
//!   pages one row group holds at once (per column, its largest dictionary and data page) may
//!   not claim more than [`MAX_ROW_GROUP_PAGE_BYTES`]. A dictionary page may not claim more
//!   values than its bytes can hold (the reader allocates room for that many values).
//!
//! The footer and page headers are Thrift (compact protocol); this reads only what it checks.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use parquet::basic::{Compression, Type as PhysicalType};
use parquet::file::metadata::ParquetMetaData;

use crate::ports::tables::{IngestError, IngestLimits};

/// Most levels of nested groups below the root.
pub const MAX_SCHEMA_DEPTH: usize = 64;
/// Most column chunks (row groups × columns) a footer may describe.
pub const MAX_COLUMN_CHUNKS: u64 = 200_000;
/// Most bytes the pages that one row group holds at once may claim to decode to.
pub const MAX_ROW_GROUP_PAGE_BYTES: u64 = 512 << 20;
/// Snappy cannot expand its input more than about 21 times (a 64-byte copy in 3 bytes).
const SNAPPY_MAX_RATIO: u64 = 32;
/// Nor zstd more than 32,768 times (a 128 KiB block from a 4-byte RLE block).
const ZSTD_MAX_RATIO: u64 = 32 * 1024;
/// Thrift structures nested deeper than this are refused (Parquet's nest a few levels).
const MAX_THRIFT_DEPTH: u8 = 32;

fn invalid(reason: impl Into<String>) -> IngestError {
    IngestError::Invalid(format!("invalid Parquet file: {}", reason.into()))
}

/// A reader of the Thrift compact protocol that can skip anything it does not need.
struct Compact<R> {
    input: R,
}

const STOP: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;

fn truncated(_: std::io::Error) -> IngestError {
    invalid("a footer or page header is truncated or malformed")
}

impl<R: Read> Compact<R> {
    fn byte(&mut self) -> Result<u8, IngestError> {
        let mut b = [0u8; 1];
        self.input.read_exact(&mut b).map_err(truncated)?;
        Ok(b[0])
    }

    fn varint(&mut self) -> Result<u64, IngestError> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(invalid("a footer or page header holds an overlong integer"))
    }

    fn int(&mut self) -> Result<i64, IngestError> {
        let n = self.varint()?;
        Ok((n >> 1) as i64 ^ -((n & 1) as i64))
    }

    /// The next field's id and type, `None` at the end of the struct.
    fn field(&mut self, last_id: &mut i16) -> Result<Option<(i16, u8)>, IngestError> {
        let head = self.byte()?;
        let kind = head & 0x0f;
        if kind == STOP {
            return Ok(None);
        }
        let delta = head >> 4;
        let id = if delta == 0 { self.int()? as i16 } else { last_id.wrapping_add(i16::from(delta)) };
        *last_id = id;
        Ok(Some((id, kind)))
    }

    /// The size and element type of a list or set.
    fn list_header(&mut self) -> Result<(u64, u8), IngestError> {
        let head = self.byte()?;
        let size = if head >> 4 == 15 { self.varint()? } else { u64::from(head >> 4) };
        Ok((size, head & 0x0f))
    }

    fn skip_bytes(&mut self, n: u64) -> Result<(), IngestError> {
        let copied = std::io::copy(&mut (&mut self.input).take(n), &mut std::io::sink()).map_err(truncated)?;
        if copied == n { Ok(()) } else { Err(invalid("a footer or page header is truncated")) }
    }

    /// Skips a value of type `kind` (field context: booleans carry no byte).
    fn skip(&mut self, kind: u8, depth: u8) -> Result<(), IngestError> {
        self.skip_value(kind, depth, false)
    }

    fn skip_value(&mut self, kind: u8, depth: u8, in_container: bool) -> Result<(), IngestError> {
        if depth == 0 {
            return Err(invalid("a footer or page header is nested too deeply"));
        }
        match kind {
            TRUE | FALSE if !in_container => Ok(()),
            TRUE | FALSE | BYTE => self.byte().map(drop),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.skip_bytes(8),
            BINARY => {
                let n = self.varint()?;
                self.skip_bytes(n)
            }
            LIST | SET => {
                let (size, element) = self.list_header()?;
                for _ in 0..size {
                    self.skip_value(element, depth - 1, true)?;
                }
                Ok(())
            }
            MAP => {
                let size = self.varint()?;
                if size > 0 {
                    let kinds = self.byte()?;
                    for _ in 0..size {
                        self.skip_value(kinds >> 4, depth - 1, true)?;
                        self.skip_value(kinds & 0x0f, depth - 1, true)?;
                    }
                }
                Ok(())
            }
            STRUCT => {
                let mut last = 0;
                while let Some((_, kind)) = self.field(&mut last)? {
                    self.skip(kind, depth - 1)?;
                }
                Ok(())
            }
            _ => Err(invalid(format!("a footer or page header holds an unknown Thrift type {kind}"))),
        }
    }

    fn expect_list_of_structs(&mut self, kind: u8) -> Result<u64, IngestError> {
        if kind != LIST {
            return Err(invalid("the footer is malformed"));
        }
        let (size, element) = self.list_header()?;
        if element != STRUCT && size > 0 {
            return Err(invalid("the footer is malformed"));
        }
        Ok(size)
    }
}

/// Checks the raw footer (FileMetaData) before parquet-rs parses it: schema depth and size,
/// number of column chunks. A footer too damaged to be located is left to parquet-rs, which
/// refuses it.
pub fn check_raw_footer(file: &File, file_size: u64, limits: &IngestLimits) -> Result<(), IngestError> {
    let mut reader = BufReader::new(file);
    if file_size < 12 {
        return Ok(());
    }
    let mut tail = [0u8; 8];
    reader.seek(SeekFrom::Start(file_size - 8)).map_err(|e| IngestError::Io(e.to_string()))?;
    reader.read_exact(&mut tail).map_err(|e| IngestError::Io(e.to_string()))?;
    let footer_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if &tail[4..] != b"PAR1" || footer_len + 8 + 4 > file_size {
        return Ok(());
    }
    reader.seek(SeekFrom::Start(file_size - 8 - footer_len)).map_err(|e| IngestError::Io(e.to_string()))?;
    let mut t = Compact { input: reader.take(footer_len) };
    let mut last = 0;
    while let Some((id, kind)) = t.field(&mut last)? {
        match id {
            2 => check_schema(&mut t, kind, limits)?,
            4 => check_row_groups(&mut t, kind)?,
            _ => t.skip(kind, MAX_THRIFT_DEPTH)?,
        }
    }
    Ok(())
}

/// The flat, depth-first list of SchemaElements: each group says how many children follow.
fn check_schema<R: Read>(t: &mut Compact<R>, kind: u8, limits: &IngestLimits) -> Result<(), IngestError> {
    let elements = t.expect_list_of_structs(kind)?;
    // A group has at least one child, so a valid tree of L leaves and depth D has fewer than
    // L * (D + 1) elements.
    let max_elements = (limits.max_columns as u64 + 1) * (MAX_SCHEMA_DEPTH as u64 + 1);
    if elements > max_elements {
        return Err(invalid(format!("the schema has {elements} elements, more than {max_elements}")));
    }
    // Children still expected by each open group, innermost last.
    let mut open: Vec<i64> = Vec::new();
    let mut leaves = 0usize;
    for _ in 0..elements {
        let mut children = 0i64;
        let mut last = 0;
        while let Some((id, kind)) = t.field(&mut last)? {
            if id == 5 && kind == I32 {
                children = t.int()?;
            } else {
                t.skip(kind, MAX_THRIFT_DEPTH)?;
            }
        }
        if let Some(remaining) = open.last_mut() {
            *remaining -= 1;
        }
        if children > 0 {
            open.push(children);
            // The root is not a level of nesting.
            if open.len() > MAX_SCHEMA_DEPTH + 1 {
                return Err(invalid(format!("the schema nests groups more than {MAX_SCHEMA_DEPTH} levels deep")));
            }
        } else {
            leaves += 1;
            if leaves > limits.max_columns {
                return Err(IngestError::TooManyColumns { found: leaves, max: limits.max_columns });
            }
        }
        while open.last() == Some(&0) {
            open.pop();
        }
    }
    Ok(())
}

fn check_row_groups<R: Read>(t: &mut Compact<R>, kind: u8) -> Result<(), IngestError> {
    let groups = t.expect_list_of_structs(kind)?;
    let mut chunks = 0u64;
    for _ in 0..groups {
        let mut last = 0;
        while let Some((id, kind)) = t.field(&mut last)? {
            if id == 1 && kind == LIST {
                let (size, element) = t.list_header()?;
                chunks = chunks.saturating_add(size);
                if chunks > MAX_COLUMN_CHUNKS {
                    return Err(invalid(format!(
                        "the footer describes more than {MAX_COLUMN_CHUNKS} column chunks (row groups × columns)"
                    )));
                }
                for _ in 0..size {
                    t.skip_value(element, MAX_THRIFT_DEPTH, true)?;
                }
            } else {
                t.skip(kind, MAX_THRIFT_DEPTH)?;
            }
        }
    }
    Ok(())
}

/// What a page header says about its size.
struct PageSizes {
    dictionary: bool,
    uncompressed: i64,
    compressed: i64,
    /// A dictionary page's number of values.
    dictionary_values: i64,
}

fn read_page_header<R: Read>(t: &mut Compact<R>) -> Result<PageSizes, IngestError> {
    let (mut kind_of_page, mut uncompressed, mut compressed) = (None, None, None);
    let mut dictionary_values = 0;
    let mut last = 0;
    while let Some((id, kind)) = t.field(&mut last)? {
        match (id, kind) {
            (1, I32) => kind_of_page = Some(t.int()?),
            (2, I32) => uncompressed = Some(t.int()?),
            (3, I32) => compressed = Some(t.int()?),
            (7, STRUCT) => {
                // DictionaryPageHeader: 1: num_values.
                let mut last = 0;
                while let Some((id, kind)) = t.field(&mut last)? {
                    if (id, kind) == (1, I32) {
                        dictionary_values = t.int()?;
                    } else {
                        t.skip(kind, MAX_THRIFT_DEPTH)?;
                    }
                }
            }
            _ => t.skip(kind, MAX_THRIFT_DEPTH)?,
        }
    }
    match (kind_of_page, uncompressed, compressed) {
        (Some(page), Some(uncompressed), Some(compressed)) => {
            // PageType::DICTIONARY_PAGE is 2.
            Ok(PageSizes { dictionary: page == 2, uncompressed, compressed, dictionary_values })
        }
        _ => Err(invalid("a page header lacks its type or sizes")),
    }
}

/// Most values `bytes` bytes of a PLAIN-encoded page (as dictionaries are) can hold.
fn most_plain_values(physical: PhysicalType, type_length: i32, bytes: u64) -> u64 {
    match physical {
        PhysicalType::BOOLEAN => bytes.saturating_mul(8),
        PhysicalType::INT32 | PhysicalType::FLOAT => bytes / 4,
        PhysicalType::INT64 | PhysicalType::DOUBLE => bytes / 8,
        PhysicalType::INT96 => bytes / 12,
        // Each value is preceded by its 4-byte length.
        PhysicalType::BYTE_ARRAY => bytes / 4,
        PhysicalType::FIXED_LEN_BYTE_ARRAY => bytes / (type_length.max(1) as u64),
    }
}

/// Walks every page header of every column chunk (the chunks are already known to lie inside
/// the file) and checks the sizes they claim.
pub fn check_pages(file: &File, metadata: &ParquetMetaData) -> Result<(), IngestError> {
    let mut reader = BufReader::new(file);
    for group in metadata.row_groups() {
        let mut held = 0u64;
        for chunk in group.columns() {
            let ratio = match chunk.compression() {
                Compression::SNAPPY => Some(SNAPPY_MAX_RATIO),
                Compression::ZSTD(_) => Some(ZSTD_MAX_RATIO),
                _ => None,
            };
            let start = chunk.dictionary_page_offset().unwrap_or(chunk.data_page_offset()) as u64;
            let end = start + chunk.compressed_size() as u64;
            let (mut largest_dictionary, mut largest_data) = (0u64, 0u64);
            let mut pos = start;
            reader.seek(SeekFrom::Start(start)).map_err(|e| IngestError::Io(e.to_string()))?;
            while pos < end {
                let mut t = Compact { input: (&mut reader).take(end - pos) };
                let page = read_page_header(&mut t)?;
                let header_len = (end - pos) - t.input.limit();
                if page.compressed < 0 || page.uncompressed < 0 {
                    return Err(invalid("a page header claims a negative size"));
                }
                let (compressed, uncompressed) = (page.compressed as u64, page.uncompressed as u64);
                if compressed > end - pos - header_len {
                    return Err(invalid("a page extends past its column chunk"));
                }
                if let Some(ratio) = ratio
                    && uncompressed > compressed.saturating_mul(ratio).saturating_add(64)
                {
                    return Err(invalid(format!(
                        "a page of {compressed} compressed bytes claims to decompress to {uncompressed} bytes, \
                         more than its codec can produce"
                    )));
                }
                if page.dictionary {
                    let most = most_plain_values(chunk.column_type(), chunk.column_descr().type_length(), uncompressed);
                    if page.dictionary_values < 0 || page.dictionary_values as u64 > most {
                        return Err(invalid(format!(
                            "a dictionary page claims {} values; its {uncompressed} bytes hold at most {most}",
                            page.dictionary_values
                        )));
                    }
                    largest_dictionary = largest_dictionary.max(uncompressed);
                } else {
                    largest_data = largest_data.max(uncompressed);
                }
                pos += header_len + compressed;
                reader.seek_relative(compressed as i64).map_err(|e| IngestError::Io(e.to_string()))?;
            }
            held = held.saturating_add(largest_dictionary).saturating_add(largest_data);
            if held > MAX_ROW_GROUP_PAGE_BYTES {
                return Err(invalid(format!(
                    "a row group's pages would take more than {} MiB of memory to decode at once; \
                     write the file with smaller pages or fewer columns per row group",
                    MAX_ROW_GROUP_PAGE_BYTES >> 20
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, ListArray, StringArray, StructArray};
    use arrow::datatypes::{DataType, Field, Fields, Int64Type};
    use arrow::record_batch::RecordBatch;
    use parquet::arrow::ArrowWriter;
    use parquet::file::metadata::ParquetMetaDataReader;
    use parquet::file::properties::WriterProperties;

    use super::*;

    fn write(batch: &RecordBatch, compression: Compression) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let props = WriterProperties::builder().set_compression(compression).set_data_page_size_limit(1024).build();
        let mut writer = ArrowWriter::try_new(file.as_file_mut(), batch.schema(), Some(props)).unwrap();
        writer.write(batch).unwrap();
        writer.close().unwrap();
        file
    }

    fn check(file: &File) -> Result<(), IngestError> {
        let size = file.metadata().unwrap().len();
        check_raw_footer(file, size, &IngestLimits::default())?;
        let metadata = ParquetMetaDataReader::new().parse_and_finish(file).unwrap();
        check_pages(file, &metadata)
    }

    #[test]
    fn files_written_by_parquet_rs_pass() {
        let n = 5000;
        let ints: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
        let text: ArrayRef = Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("value {}", i % 300))));
        let inner = Fields::from(vec![Field::new("a", DataType::Int64, true), Field::new("b", DataType::Utf8, true)]);
        let structs: ArrayRef = Arc::new(StructArray::new(inner, vec![Arc::clone(&ints), Arc::clone(&text)], None));
        let lists: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
            (0..n).map(|i| Some(vec![Some(i), None, Some(i * 2)])),
        ));
        let batch = RecordBatch::try_from_iter([("i", ints), ("t", text), ("s", structs), ("l", lists)]).unwrap();
        for compression in [Compression::UNCOMPRESSED, Compression::SNAPPY, Compression::ZSTD(Default::default())] {
            let file = write(&batch, compression);
            check(file.as_file()).unwrap_or_else(|e| panic!("{compression:?}: {e}"));
        }
    }

    /// The compact-protocol bytes of a FileMetaData with `depth` nested groups.
    fn deep_footer(depth: usize) -> Vec<u8> {
        let mut out = vec![0x15, 0x02]; // field 1 (version), i32 1
        out.push(0x19); // field 2 (schema), list
        let elements = depth + 2;
        out.push(0xfc);
        let mut n = elements as u64;
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        for i in 0..elements {
            if i + 1 < elements {
                out.extend([0x48, 0x01, b'g', 0x15, 0x02, 0x00]); // name "g", num_children 1
            } else {
                out.extend([0x15, 0x04, 0x25, 0x00, 0x18, 0x01, b'x', 0x00]); // INT64 leaf "x"
            }
        }
        out.push(0x00);
        out
    }

    fn file_with_footer(footer: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"PAR1").unwrap();
        file.write_all(footer).unwrap();
        file.write_all(&(footer.len() as u32).to_le_bytes()).unwrap();
        file.write_all(b"PAR1").unwrap();
        file
    }

    #[test]
    fn deep_schemas_are_refused_before_parsing() {
        let limits = IngestLimits::default();
        let ok = file_with_footer(&deep_footer(MAX_SCHEMA_DEPTH));
        let size = ok.as_file().metadata().unwrap().len();
        check_raw_footer(ok.as_file(), size, &limits).unwrap();
        let deep = file_with_footer(&deep_footer(100_000));
        let size = deep.as_file().metadata().unwrap().len();
        let err = check_raw_footer(deep.as_file(), size, &limits).unwrap_err();
        assert!(err.to_string().contains("nests groups more than 64 levels"), "{err}");
    }
}
