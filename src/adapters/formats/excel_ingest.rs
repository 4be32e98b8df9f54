//! Spreadsheets (`.xlsx`, `.xlsm`, `.xlsb`, read with `calamine`) → canonical typed table.
//!
//! 1. The zip container is checked before the workbook is opened ([`check_container`]):
//!    every entry is decompressed and counted (declared sizes are not trusted), within
//!    `MAX_DECOMPRESSED_BYTES` and the ratio guard of compressed uploads; the shared strings,
//!    which the reader holds in memory, within [`MAX_SHARED_STRINGS_BYTES`].
//! 2. The sheet (the first, or the one the `sheet` hint names) is read cell by cell, twice,
//!    never whole: once for its extent and the kinds of cell in each column, once writing its
//!    cells as CSV into the spool. Columns run from the leftmost to the rightmost used cell;
//!    the first used row is the header (unless the `header` hint says there is none).
//! 3. That CSV is read with each column's type given by its cells, as `pandas.read_excel`
//!    types them ([`CellKinds::column_type`]): numbers all whole → `int64`, other numbers →
//!    `float64`, booleans → `bool`, dates and times → `datetime64`, anything else (text, or
//!    cells of several kinds) → text (`category` or `object` by the category rule). Empty cells,
//!    error cells (`#N/A`, `#DIV/0!`) and text equal to a missing marker are missing. The
//!    `dtypes` hint replaces a column's type.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

use calamine::{DataRef, Reader, Xlsb, Xlsx};

use super::csv_ingest::CsvReading;
use super::sniff::Dialect;
use crate::domain::inference::{ForcedType, MissingMarkers, is_missing};
use crate::domain::records::TableFormat;
use crate::ports::tables::{IngestError, IngestLimits};

/// A zip archive begins with these bytes.
pub const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";
/// A legacy Office file (`.xls`) is a compound file beginning with these bytes.
const CFB_MAGIC: &[u8; 8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// Most entries a workbook's archive may have.
const MAX_ENTRIES: usize = 10_000;
/// Largest decompressed shared strings part (`xl/sharedStrings.xml` or `.bin`): the reader
/// holds every shared string in memory (at worst about 2.5 times this, for tiny strings).
pub const MAX_SHARED_STRINGS_BYTES: u64 = 128 << 20;
/// The last row a sheet may have (0-based): Excel's 1,048,576 rows.
const LAST_SHEET_ROW: u32 = 1_048_575;
/// Decompressed bytes allowed before the ratio guard applies (as for compressed uploads).
const RATIO_GRACE_BYTES: u64 = 16 << 20;

fn io(e: std::io::Error) -> IngestError {
    IngestError::Io(e.to_string())
}

fn invalid(reason: impl std::fmt::Display) -> IngestError {
    IngestError::Invalid(format!("invalid spreadsheet: {reason}"))
}

/// What a file that begins with `head` is, if it is a spreadsheet this server may read.
pub fn detect(head: &[u8], upload: &Path) -> Result<Option<TableFormat>, IngestError> {
    if head.starts_with(CFB_MAGIC) {
        return Err(IngestError::Invalid(
            "the file is a legacy Excel workbook (.xls) or another Office compound file, which is not read: save it as .xlsx".into(),
        ));
    }
    if !head.starts_with(ZIP_MAGIC) {
        return Ok(None);
    }
    let archive = zip::ZipArchive::new(File::open(upload).map_err(io)?)
        .map_err(|e| IngestError::Invalid(format!("the file is a damaged zip archive: {e}")))?;
    let has = |name: &str| archive.index_for_name(name).is_some();
    if has("xl/workbook.xml") {
        Ok(Some(TableFormat::Xlsx))
    } else if has("xl/workbook.bin") {
        Ok(Some(TableFormat::Xlsb))
    } else if has("content.xml") && has("mimetype") {
        Err(IngestError::Invalid(
            "the file is an OpenDocument spreadsheet (.ods), which is not read: save it as .xlsx".into(),
        ))
    } else {
        Err(IngestError::Invalid(
            "the file is a zip archive that is not a spreadsheet: upload the table itself (compressed with gzip, zstd, bzip2 or xz if you like)".into(),
        ))
    }
}

/// Checks the archive (see the module's documentation) by decompressing every entry.
pub fn check_container(upload: &Path, limits: &IngestLimits) -> Result<(), IngestError> {
    let file = File::open(upload).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut archive = zip::ZipArchive::new(file).map_err(|e| invalid(format!("the zip archive is damaged: {e}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(invalid(format!("the archive has {} entries; at most {MAX_ENTRIES} are read", archive.len())));
    }
    let allowed =
        limits.max_decompressed_bytes.min(size.saturating_mul(limits.max_expansion_ratio).max(RATIO_GRACE_BYTES));
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| invalid(format!("entry {i} cannot be read: {e}")))?;
        let name = entry.name().map(|n| n.to_string()).unwrap_or_else(|_| format!("entry {i}"));
        // The reader finds parts by name in any letter case and with either slash.
        let shared_strings = name.replace('\\', "/").to_ascii_lowercase().starts_with("xl/sharedstrings.");
        let mut bytes = 0u64;
        loop {
            let n = entry.read(&mut buf).map_err(|e| invalid(format!("{name} cannot be decompressed: {e}")))?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
            total += n as u64;
            if total > allowed {
                return Err(IngestError::TooLarge(format!(
                    "the spreadsheet expands past {allowed} bytes (MAX_DECOMPRESSED_BYTES {}, or MAX_DECOMPRESSION_RATIO {} times its {size} bytes)",
                    limits.max_decompressed_bytes, limits.max_expansion_ratio
                )));
            }
            if shared_strings && bytes > MAX_SHARED_STRINGS_BYTES {
                return Err(IngestError::TooLarge(format!(
                    "the spreadsheet's shared strings take more than {} MiB",
                    MAX_SHARED_STRINGS_BYTES >> 20
                )));
            }
        }
    }
    Ok(())
}

/// An open workbook.
enum Book {
    Xlsx(Xlsx<BufReader<File>>),
    Xlsb(Xlsb<BufReader<File>>),
}

impl Book {
    fn open(path: &Path, format: TableFormat) -> Result<Self, IngestError> {
        let reader = BufReader::new(File::open(path).map_err(io)?);
        match format {
            TableFormat::Xlsb => Xlsb::new(reader).map(Book::Xlsb).map_err(invalid),
            _ => Xlsx::new(reader).map(Book::Xlsx).map_err(invalid),
        }
    }

    fn sheet_names(&self) -> Vec<String> {
        match self {
            Book::Xlsx(b) => b.sheet_names(),
            Book::Xlsb(b) => b.sheet_names(),
        }
    }

    /// Hands every stored cell of `sheet` to `each`, in the order stored (row by row).
    fn for_each_cell(
        &mut self,
        sheet: &str,
        mut each: impl FnMut(u32, u32, &DataRef<'_>) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        match self {
            Book::Xlsx(b) => {
                let mut cells = b.worksheet_cells_reader(sheet).map_err(invalid)?;
                while let Some(cell) = cells.next_cell().map_err(invalid)? {
                    let (row, column) = cell.get_position();
                    each(row, column, cell.get_value())?;
                }
            }
            Book::Xlsb(b) => {
                let mut cells = b.worksheet_cells_reader(sheet).map_err(invalid)?;
                while let Some(cell) = cells.next_cell().map_err(invalid)? {
                    let (row, column) = cell.get_position();
                    each(row, column, cell.get_value())?;
                }
            }
        }
        Ok(())
    }
}

/// What kinds of non-missing cell a column's data rows hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CellKinds {
    numbers: bool,
    /// A number that is not whole, or outside int64.
    fractions: bool,
    bools: bool,
    dates: bool,
    /// A date with a time of day other than midnight.
    times: bool,
    text: bool,
}

impl CellKinds {
    /// The column's type (see the module's documentation); `None` for a column of missing
    /// values only (typed as CSV types it).
    fn column_type(self) -> Option<ForcedType> {
        use crate::domain::dtype::DType;
        let kinds = [self.numbers, self.bools, self.dates, self.text].iter().filter(|&&k| k).count();
        match kinds {
            0 => None,
            1 if self.numbers && !self.fractions => Some(ForcedType::Dtype(DType::Int64)),
            1 if self.numbers => Some(ForcedType::Dtype(DType::Float64)),
            1 if self.bools => Some(ForcedType::Dtype(DType::Bool)),
            1 if self.dates => Some(ForcedType::Dtype(DType::Datetime64)),
            _ => Some(ForcedType::Text),
        }
    }
}

/// What an Excel date-time cell holds.
enum ExcelValue {
    DateTime(chrono::NaiveDateTime),
    /// A serial below 1: a time of day with no date (a column formatted `h:mm`), which pandas
    /// reads as a time, not a date: kept as text.
    TimeOfDay(chrono::NaiveTime),
}

/// A date-time cell's value, from its whole serial rounded to the millisecond (Excel's
/// precision); `None` outside the years 1900–9999 or below 0.
fn excel_datetime(d: &calamine::ExcelDateTime) -> Option<ExcelValue> {
    let serial = d.as_f64();
    if !(0.0..2_958_466.0).contains(&serial) {
        return None;
    }
    if serial < 1.0 {
        let ms = (serial * 86_400_000.0).round() as u32;
        let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(ms / 1000, (ms % 1000) * 1_000_000)?;
        return Some(ExcelValue::TimeOfDay(time));
    }
    d.as_datetime().filter(|at| chrono::Datelike::year(at) <= 9999).map(ExcelValue::DateTime)
}

/// True when `x` is a whole number that int64 holds.
fn is_whole(x: f64) -> bool {
    x.fract() == 0.0 && x.abs() < 9.2e18
}

/// A cell as its column's kinds see it (missing: none).
fn observe(kinds: &mut CellKinds, cell: &DataRef<'_>, missing: &dyn Fn(&str) -> bool) {
    match cell {
        DataRef::Int(_) => kinds.numbers = true,
        DataRef::Float(x) => {
            kinds.numbers = true;
            kinds.fractions |= !is_whole(*x);
        }
        DataRef::Bool(_) => kinds.bools = true,
        DataRef::DateTime(d) if d.is_datetime() => match excel_datetime(d) {
            Some(ExcelValue::DateTime(at)) => {
                kinds.dates = true;
                kinds.times |= at.time() != chrono::NaiveTime::MIN;
            }
            Some(ExcelValue::TimeOfDay(_)) | None => kinds.text = true,
        },
        DataRef::DateTimeIso(s) => {
            kinds.dates = true;
            kinds.times |= s.contains('T');
        }
        DataRef::String(s) if !missing(s) => kinds.text = true,
        DataRef::SharedString(s) if !missing(s) => kinds.text = true,
        DataRef::DateTime(_) | DataRef::DurationIso(_) => kinds.text = true,
        DataRef::String(_) | DataRef::SharedString(_) | DataRef::Error(_) | DataRef::Empty => {}
    }
}

/// The extent of a sheet's stored cells and the kinds of each column's data cells.
#[derive(Debug, Default)]
struct Extent {
    first_row: Option<u32>,
    last_row: u32,
    first_column: u32,
    last_column: u32,
    kinds: BTreeMap<u32, CellKinds>,
}

/// Transcodes the sheet of the spreadsheet `upload` to CSV in `out`, and says how to read it.
pub fn transcode_to_csv(
    upload: &Path,
    format: TableFormat,
    sheet: Option<&str>,
    header: bool,
    markers: Option<&Arc<MissingMarkers>>,
    out: &mut File,
    limits: &IngestLimits,
) -> Result<CsvReading, IngestError> {
    let upload_size = std::fs::metadata(upload).map_err(io)?.len();
    let mut book = Book::open(upload, format)?;
    let names = book.sheet_names();
    let sheet = match sheet {
        Some(wanted) => names.iter().find(|n| *n == wanted).cloned().ok_or_else(|| {
            IngestError::Invalid(format!(
                "the workbook has no sheet named {wanted:?}; its sheets: {}",
                names.join(", ")
            ))
        })?,
        None => names.first().cloned().ok_or_else(|| invalid("the workbook has no sheet"))?,
    };
    let missing = |s: &str| markers.map_or_else(|| is_missing(s), |m| m.is_missing(s));
    let extent = scan(&mut book, &sheet, header, &missing, limits)?;
    let Some(first_row) = extent.first_row else { return Err(IngestError::Empty) };
    let width = (extent.last_column - extent.first_column + 1) as usize;
    let mut writer = CsvWriter {
        out: BufWriter::new(out),
        row: Vec::with_capacity(width),
        width,
        first_column: extent.first_column,
        written: 0,
        // As for compressed uploads: the size limit, and the ratio past the first 16 MiB.
        max_bytes: limits
            .max_decompressed_bytes
            .min(upload_size.saturating_mul(limits.max_expansion_ratio).max(RATIO_GRACE_BYTES)),
    };
    writer.start_row();
    let mut current = first_row;
    book.for_each_cell(&sheet, |row, column, cell| {
        // Empty cells (styled, with no value) may lie outside the extent.
        if matches!(cell, DataRef::Empty) || row > extent.last_row {
            return Ok(());
        }
        while current < row {
            writer.end_row()?;
            current += 1;
        }
        let kinds = extent.kinds.get(&column).copied().unwrap_or_default();
        writer.set(column, cell_text(cell, kinds.times));
        Ok(())
    })?;
    writer.end_row()?;
    writer.out.flush().map_err(io)?;
    let column_types = (extent.first_column..=extent.last_column)
        .map(|c| extent.kinds.get(&c).and_then(|k| k.column_type()))
        .collect();
    tracing::debug!(
        sheet,
        rows = u64::from(extent.last_row - first_row) + 1,
        columns = width,
        "spreadsheet transcoded"
    );
    Ok(CsvReading {
        dialect: Some(Dialect { delimiter: b',', has_header: header, row_names: false }),
        column_types,
        ..CsvReading::default()
    })
}

/// The first pass: the sheet's extent and each column's cell kinds (of its data rows).
fn scan(
    book: &mut Book,
    sheet: &str,
    header: bool,
    missing: &dyn Fn(&str) -> bool,
    limits: &IngestLimits,
) -> Result<Extent, IngestError> {
    let mut extent = Extent { first_column: u32::MAX, ..Extent::default() };
    book.for_each_cell(sheet, |row, column, cell| {
        if matches!(cell, DataRef::Empty) {
            return Ok(());
        }
        if row > LAST_SHEET_ROW {
            return Err(invalid(format!(
                "a cell lies in row {}, past Excel's last row (1,048,576)",
                u64::from(row) + 1
            )));
        }
        let first_row = *extent.first_row.get_or_insert(row);
        if row < extent.last_row {
            return Err(invalid("the sheet's rows are not stored in order"));
        }
        extent.last_row = row;
        extent.first_column = extent.first_column.min(column);
        extent.last_column = extent.last_column.max(column);
        let width = (extent.last_column - extent.first_column) as usize + 1;
        if width > limits.max_columns {
            return Err(IngestError::TooManyColumns { found: width, max: limits.max_columns });
        }
        if !(header && row == first_row) {
            observe(extent.kinds.entry(column).or_default(), cell, missing);
        }
        Ok(())
    })?;
    Ok(extent)
}

/// Writes a sheet's rows as CSV: every text quoted, numbers and dates as the CSV reader reads
/// them.
struct CsvWriter<W: Write> {
    out: W,
    row: Vec<Option<String>>,
    width: usize,
    first_column: u32,
    /// Bytes written, and the most that may be (as for compressed uploads).
    written: u64,
    max_bytes: u64,
}

impl<W: Write> CsvWriter<W> {
    fn start_row(&mut self) {
        self.row.clear();
        self.row.resize(self.width, None);
    }

    fn set(&mut self, column: u32, text: Option<String>) {
        // Columns left of the extent hold only empty cells (the first pass saw no other).
        if let Some(slot) = column.checked_sub(self.first_column).and_then(|c| self.row.get_mut(c as usize)) {
            *slot = text;
        }
    }

    fn end_row(&mut self) -> Result<(), IngestError> {
        if self.width == 1 && self.row[0].is_none() {
            // An empty line would be skipped as a blank line: a row of one missing value.
            self.written += 3;
            self.out.write_all(b"\"\"\n").map_err(io)?;
            return self.next_row();
        }
        for (k, cell) in self.row.iter().enumerate() {
            if k > 0 {
                self.out.write_all(b",").map_err(io)?;
            }
            if let Some(text) = cell {
                self.written += text.len() as u64;
                self.out.write_all(text.as_bytes()).map_err(io)?;
            }
        }
        self.written += self.width as u64;
        self.out.write_all(b"\n").map_err(io)?;
        self.next_row()
    }

    /// Starts the next row, within the size limit of the CSV written.
    fn next_row(&mut self) -> Result<(), IngestError> {
        if self.written > self.max_bytes {
            return Err(IngestError::TooLarge(format!(
                "the sheet takes more than {} bytes as CSV (MAX_DECOMPRESSED_BYTES, or MAX_DECOMPRESSION_RATIO times the file)",
                self.max_bytes
            )));
        }
        self.start_row();
        Ok(())
    }
}

/// A cell as CSV field text (`None`: empty). Dates are written with their time of day when
/// their column has one (`with_time`), so that a column has one date format.
fn cell_text(cell: &DataRef<'_>, with_time: bool) -> Option<String> {
    let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    match cell {
        DataRef::Int(v) => Some(v.to_string()),
        DataRef::Float(x) if is_whole(*x) => Some((*x as i64).to_string()),
        // Shortest text that reads back as the same float; an exponent for very large or
        // small magnitudes (the CSV reader reads both).
        DataRef::Float(x) if x.abs() >= 1e15 || x.abs() < 1e-5 => Some(format!("{x:e}")),
        DataRef::Float(x) => Some(x.to_string()),
        DataRef::Bool(b) => Some(b.to_string()),
        DataRef::DateTime(d) if d.is_datetime() => match excel_datetime(d) {
            Some(ExcelValue::DateTime(at)) if with_time => Some(at.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
            Some(ExcelValue::DateTime(at)) => Some(at.format("%Y-%m-%d").to_string()),
            Some(ExcelValue::TimeOfDay(time)) => Some(quoted(&time.format("%H:%M:%S%.f").to_string())),
            None => Some(quoted(&d.as_f64().to_string())),
        },
        // A duration: its length in days, as Excel stores it.
        DataRef::DateTime(d) => Some(quoted(&d.as_f64().to_string())),
        DataRef::DateTimeIso(s) => Some(quoted(s)),
        DataRef::DurationIso(s) => Some(quoted(s)),
        DataRef::String(s) => Some(quoted(s)),
        DataRef::SharedString(s) => Some(quoted(s)),
        DataRef::Error(_) | DataRef::Empty => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use arrow::array::{Array, RecordBatch};
    use arrow::util::display::ArrayFormatter;
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

    use super::*;
    use crate::adapters::formats::FileIngestor;
    use crate::domain::dtype::DType;
    use crate::domain::read_hints::ReadHints;
    use crate::ports::tables::{IngestedTable, TableIngestor};

    /// A workbook whose "Data" sheet has a typed column of each kind, and a second sheet.
    fn workbook() -> Vec<u8> {
        let mut book = Workbook::new();
        let day = Format::new().set_num_format("yyyy-mm-dd");
        let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm");
        let sheet = book.add_worksheet();
        sheet.set_name("Data").unwrap();
        let header = ["id", "amount", "ok", "day", "at", "zip", "mixed", "clock"];
        for (c, name) in header.iter().enumerate() {
            sheet.write_string(0, c as u16, *name).unwrap();
        }
        for r in 1..=4u32 {
            sheet.write_number(r, 0, f64::from(r)).unwrap();
            sheet.write_number(r, 1, f64::from(r) + 0.5).unwrap();
            sheet.write_boolean(r, 2, r % 2 == 0).unwrap();
            let date = ExcelDateTime::from_ymd(2024, 1, r as u8).unwrap();
            sheet.write_datetime_with_format(r, 3, &date, &day).unwrap();
            let time = ExcelDateTime::from_ymd(2024, 1, 1).unwrap().and_hms(r as u16, 30, 0).unwrap();
            if r == 1 {
                // A time of day alone (a serial below 1): text, as pandas reads it as a time.
                let clock = Format::new().set_num_format("hh:mm");
                sheet.write_datetime_with_format(r, 7, &ExcelDateTime::from_hms(9, 30, 0).unwrap(), &clock).unwrap();
            }
            sheet.write_datetime_with_format(r, 4, &time, &stamp).unwrap();
            sheet.write_string(r, 5, format!("0{r}100")).unwrap();
        }
        // A missing marker in the integer column; a number and a text in the mixed one.
        sheet.write_string(2, 0, "NA").unwrap();
        sheet.write_number(1, 6, 7.0).unwrap();
        sheet.write_string(2, 6, "seven").unwrap();
        let other = book.add_worksheet();
        other.set_name("Notes").unwrap();
        other.write_string(0, 0, "note").unwrap();
        other.write_string(1, 0, "hello").unwrap();
        book.save_to_buffer().unwrap()
    }

    fn ingest_with(
        bytes: &[u8],
        hints: &ReadHints,
        limits: &IngestLimits,
    ) -> Result<(IngestedTable, Vec<Vec<String>>), IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let upload = dir.path().join("book.xlsx");
        std::fs::File::create(&upload).unwrap().write_all(bytes).unwrap();
        let normalized = dir.path().join("normalized.parquet");
        let table = FileIngestor::new(dir.path().to_path_buf()).ingest(&upload, &normalized, limits, hints)?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            std::fs::File::open(&normalized).unwrap(),
            1024,
        )
        .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        let columns = (0..table.columns.len())
            .map(|c| {
                let mut values = Vec::new();
                for batch in &batches {
                    let column = batch.column(c);
                    let formatter = ArrayFormatter::try_new(column.as_ref(), &Default::default()).unwrap();
                    for i in 0..column.len() {
                        values.push(if column.is_null(i) { "null".into() } else { formatter.value(i).to_string() });
                    }
                }
                values
            })
            .collect();
        Ok((table, columns))
    }

    fn ingest(bytes: &[u8], hints: &ReadHints) -> Result<(IngestedTable, Vec<Vec<String>>), IngestError> {
        ingest_with(bytes, hints, &IngestLimits::default())
    }

    fn dtypes(table: &IngestedTable) -> Vec<(&str, DType)> {
        table.columns.iter().map(|c| (c.name.as_str(), c.dtype)).collect()
    }

    #[test]
    fn cells_keep_their_excel_types_as_pandas_reads_them() {
        let (table, values) = ingest(&workbook(), &ReadHints::default()).unwrap();
        assert_eq!(table.format.name(), "xlsx");
        assert_eq!(
            dtypes(&table),
            [
                ("id", DType::Int64),
                ("amount", DType::Float64),
                ("ok", DType::Bool),
                ("day", DType::Datetime64),
                ("at", DType::Datetime64),
                ("zip", DType::Object),
                ("mixed", DType::Object),
                ("clock", DType::Object),
            ]
        );
        assert_eq!(values[0], ["1", "null", "3", "4"]);
        assert_eq!(values[1], ["1.5", "2.5", "3.5", "4.5"]);
        assert_eq!(values[2], ["false", "true", "false", "true"]);
        assert_eq!(values[3], ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]);
        // Times that are no exact binary fraction of a day (02:30 is 0.1041666… of one) too.
        assert_eq!(
            values[4],
            ["2024-01-01T01:30:00", "2024-01-01T02:30:00", "2024-01-01T03:30:00", "2024-01-01T04:30:00"]
        );
        assert_eq!(values[5], ["01100", "02100", "03100", "04100"], "text stays text");
        assert_eq!(values[6], ["7", "seven", "null", "null"]);
        assert_eq!(values[7], ["09:30:00", "null", "null", "null"]);
    }

    #[test]
    fn the_sheet_hint_picks_a_sheet_by_name_and_an_unknown_name_lists_the_sheets() {
        let hints = ReadHints { sheet: Some("Notes".into()), ..Default::default() };
        let (table, values) = ingest(&workbook(), &hints).unwrap();
        assert_eq!(dtypes(&table), [("note", DType::Object)]);
        assert_eq!(values[0], ["hello"]);
        let hints = ReadHints { sheet: Some("Nope".into()), ..Default::default() };
        let err = ingest(&workbook(), &hints).unwrap_err();
        assert!(matches!(&err, IngestError::Invalid(m) if m.contains("Data, Notes")), "{err:?}");
    }

    #[test]
    fn without_a_header_the_first_row_is_data_and_dtypes_replace_cell_types() {
        let hints = ReadHints { header: Some(false), sheet: Some("Notes".into()), ..Default::default() };
        let (table, values) = ingest(&workbook(), &hints).unwrap();
        assert_eq!(dtypes(&table), [("column_1", DType::Object)]);
        assert_eq!(values[0], ["note", "hello"]);
        let hints = ReadHints { dtypes: [("id".to_string(), DType::Float64)].into(), ..Default::default() };
        let (table, _) = ingest(&workbook(), &hints).unwrap();
        assert_eq!(table.columns[0].dtype, DType::Float64);
        let hints = ReadHints { dtypes: [("mixed".to_string(), DType::Int64)].into(), ..Default::default() };
        let err = ingest(&workbook(), &hints).unwrap_err();
        assert!(matches!(&err, IngestError::InvalidAt { reason, .. } if reason.contains("\"seven\"")), "{err:?}");
    }

    #[test]
    fn a_sheet_wider_than_the_column_limit_is_refused_while_it_is_scanned() {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "a").unwrap();
        sheet.write_string(0, 16_383, "far").unwrap();
        sheet.write_number(1, 0, 1.0).unwrap();
        let err = ingest(&book.save_to_buffer().unwrap(), &ReadHints::default()).unwrap_err();
        assert_eq!(err, IngestError::TooManyColumns { found: 16_384, max: 10_000 });
    }

    #[test]
    fn an_empty_row_inside_a_one_column_sheet_is_a_row_of_a_missing_value() {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        for (r, v) in [(0, "name"), (1, "x"), (3, "y")] {
            sheet.write_string(r, 0, v).unwrap();
        }
        let (table, values) = ingest(&book.save_to_buffer().unwrap(), &ReadHints::default()).unwrap();
        assert_eq!(table.row_count, 3);
        assert_eq!(values[0], ["x", "null", "y"]);
    }

    #[test]
    fn a_tiny_sheet_that_would_expand_to_a_huge_csv_is_refused_by_the_ratio_guard() {
        let sheet = br#"<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="BDP1"><v>1</v></c></row><row r="1048576"><c r="A1048576"><v>2</v></c></row>"#;
        let err = ingest(&minimal_xlsx(sheet), &ReadHints::default()).unwrap_err();
        assert!(matches!(&err, IngestError::TooLarge(m) if m.contains("as CSV")), "{err:?}");
    }

    #[test]
    fn a_cell_past_excels_last_row_is_refused_before_anything_is_written() {
        let sheet = br#"<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row><row r="900000000"><c r="A900000000"><v>1</v></c></row>"#;
        let err = ingest(&minimal_xlsx(sheet), &ReadHints::default()).unwrap_err();
        assert!(matches!(&err, IngestError::Invalid(m) if m.contains("past Excel's last row")), "{err:?}");
    }

    /// A workbook of one sheet whose rows are `sheet_data`, written by hand (as a hostile
    /// writer could).
    fn minimal_xlsx(sheet_data: &[u8]) -> Vec<u8> {
        let mut worksheet =
            br#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#.to_vec();
        worksheet.extend_from_slice(sheet_data);
        worksheet.extend_from_slice(b"</sheetData></worksheet>");
        zip_of(&[
            ("[Content_Types].xml", br#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/></Types>"#),
            ("_rels/.rels", br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#),
            ("xl/workbook.xml", br#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#),
            ("xl/_rels/workbook.xml.rels", br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#),
            ("xl/worksheets/sheet1.xml", &worksheet),
        ])
    }

    /// A zip archive holding `entries` (name, bytes), deflated.
    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            out.start_file(*name, options).unwrap();
            out.write_all(bytes).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn an_archive_that_expands_past_the_limit_is_refused_before_the_workbook_is_opened() {
        let huge = vec![b'a'; 4 << 20];
        let bytes = zip_of(&[("xl/workbook.xml", b"<workbook/>"), ("xl/sharedStrings.xml", &huge)]);
        let limits = IngestLimits { max_decompressed_bytes: 1 << 20, ..IngestLimits::default() };
        let err = ingest_with(&bytes, &ReadHints::default(), &limits).unwrap_err();
        assert!(matches!(&err, IngestError::TooLarge(m) if m.contains("MAX_DECOMPRESSED_BYTES")), "{err:?}");
        // Shared strings are found by the reader in any letter case: so are they by the limit.
        let strings = vec![b' '; (MAX_SHARED_STRINGS_BYTES + 1) as usize];
        let bytes = zip_of(&[("xl/workbook.xml", b"<workbook/>"), ("XL\\SharedStrings.xml", &strings)]);
        let err = check_container_of(&bytes).unwrap_err();
        assert!(matches!(&err, IngestError::TooLarge(m) if m.contains("shared strings")), "{err:?}");
    }

    fn check_container_of(bytes: &[u8]) -> Result<(), IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("book.xlsx");
        std::fs::write(&path, bytes).unwrap();
        // No ratio guard: the limits on sizes alone.
        check_container(&path, &IngestLimits { max_expansion_ratio: 1 << 20, ..IngestLimits::default() })
    }

    #[test]
    fn other_zip_archives_legacy_workbooks_and_opendocument_are_refused_by_name() {
        let err = ingest(&zip_of(&[("data.csv", b"a\n1\n")]), &ReadHints::default()).unwrap_err();
        assert!(matches!(&err, IngestError::Invalid(m) if m.contains("not a spreadsheet")), "{err:?}");
        let ods = zip_of(&[("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"), ("content.xml", b"<x/>")]);
        let err = ingest(&ods, &ReadHints::default()).unwrap_err();
        assert!(matches!(&err, IngestError::Invalid(m) if m.contains(".ods")), "{err:?}");
        let mut xls = CFB_MAGIC.to_vec();
        xls.extend([0u8; 504]);
        let err = ingest(&xls, &ReadHints::default()).unwrap_err();
        assert!(matches!(&err, IngestError::Invalid(m) if m.contains(".xls")), "{err:?}");
    }

    #[test]
    fn column_types_follow_the_kinds_of_their_cells() {
        let kinds = |f: fn(&mut CellKinds)| {
            let mut k = CellKinds::default();
            f(&mut k);
            k.column_type()
        };
        assert_eq!(kinds(|_| {}), None);
        assert_eq!(kinds(|k| k.numbers = true), Some(ForcedType::Dtype(DType::Int64)));
        assert_eq!(
            kinds(|k| {
                k.numbers = true;
                k.fractions = true
            }),
            Some(ForcedType::Dtype(DType::Float64))
        );
        assert_eq!(
            kinds(|k| {
                k.numbers = true;
                k.bools = true
            }),
            Some(ForcedType::Text)
        );
        assert_eq!(kinds(|k| k.dates = true), Some(ForcedType::Dtype(DType::Datetime64)));
        assert!(!is_whole(1e19) && is_whole(-3.0) && !is_whole(0.5));
    }
}
