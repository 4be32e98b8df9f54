//! Spreadsheets (`.xlsx`, `.xlsm`, `.xlsb`, legacy `.xls` and OpenDocument `.ods`, read with
//! `calamine`) → canonical typed table.
//!
//! 1. A legacy `.xls` is rewritten first (`xls_guard`): calamine reads the rewritten copy,
//!    which holds the chosen sheet only. The zip container of the others is checked before
//!    the workbook is opened ([`check_container`]): every entry is decompressed and counted (declared sizes are not trusted), within
//!    `MAX_DECOMPRESSED_BYTES` and the ratio guard of compressed uploads; the shared strings,
//!    which the reader holds in memory, within [`MAX_SHARED_STRINGS_BYTES`]. calamine reads a
//!    `.ods` whole, with its repeated cells and rows expanded: what that takes is counted from
//!    `content.xml` first and held within `MAX_ODS_MEMORY_BYTES` (`ods_guard`).
//! 2. The sheet (the first, or the one the `sheet` hint names) is read cell by cell, twice:
//!    once for its extent and the kinds of cell in each column, once writing its cells as CSV
//!    into the spool. An `.xlsx`/`.xlsb` sheet is streamed, never held whole; a `.ods` or `.xls`
//!    sheet is the grid calamine built. Columns run from the leftmost to the rightmost used cell;
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

use calamine::{Data, DataRef, Ods, Range, Reader, Xls, XlsOptions, Xlsb, Xlsx};

use super::csv_ingest::{CsvReading, refused_cell};
use super::sniff::Dialect;
use crate::domain::inference::{ForcedType, MissingMarkers, is_missing};
use crate::domain::records::TableFormat;
use crate::ports::tables::{IngestError, IngestLimits};

/// A zip archive begins with these bytes.
pub const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";
/// A legacy Office file (`.xls`) is a compound file beginning with these bytes.
pub(super) const CFB_MAGIC: &[u8; 8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// Most entries a workbook's archive may have.
const MAX_ENTRIES: usize = 10_000;
/// Largest decompressed shared strings part (`xl/sharedStrings.xml` or `.bin`): the reader
/// holds every shared string in memory (at worst about 2.5 times this, for tiny strings).
pub const MAX_SHARED_STRINGS_BYTES: u64 = 128 << 20;
/// Largest `META-INF/manifest.xml` of a `.ods` (calamine holds it whole; real ones take a few
/// kilobytes).
const MAX_MANIFEST_BYTES: u64 = 16 << 20;
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

/// Whether the file begins as a zip archive or an Office compound file (then [`detect`] tells
/// which spreadsheet, or refuses it).
pub fn is_container(head: &[u8]) -> bool {
    head.starts_with(CFB_MAGIC) || head.starts_with(ZIP_MAGIC)
}

/// What a file that begins with `head` is, if it is a spreadsheet this server may read.

pub fn detect(head: &[u8], upload: &Path) -> Result<Option<TableFormat>, IngestError> {
    if head.starts_with(CFB_MAGIC) {
        // An Office compound file: `xls_guard::rewrite` tells a workbook from other documents.
        return Ok(Some(TableFormat::Xls));
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
        if opendocument_type(archive)?.as_deref() == Some(ODS_MIMETYPE) {
            Ok(Some(TableFormat::Ods))
        } else {
            Err(IngestError::Invalid(
                "the file is an OpenDocument file that is not a spreadsheet (its mimetype is not application/vnd.oasis.opendocument.spreadsheet)".into(),
            ))
        }
    } else {
        Err(IngestError::Invalid(
            "the file is a zip archive that is not a spreadsheet: upload the table itself (compressed with gzip, zstd, bzip2 or xz if you like)".into(),
        ))
    }
}

/// The media type an OpenDocument spreadsheet names in its `mimetype` entry.
const ODS_MIMETYPE: &str = "application/vnd.oasis.opendocument.spreadsheet";

/// The `mimetype` entry of an OpenDocument archive (its first 100 bytes).
fn opendocument_type(mut archive: zip::ZipArchive<File>) -> Result<Option<String>, IngestError> {
    let entry = archive.by_name("mimetype").map_err(|e| invalid(format!("the mimetype entry cannot be read: {e}")))?;
    let mut text = String::new();
    // Not UTF-8: not a media type this server reads.
    if entry.take(100).read_to_string(&mut text).is_err() {
        return Ok(None);
    }
    Ok(Some(text.trim().to_string()))
}

/// Checks the archive (see the module's documentation) by decompressing every entry, and, for
/// a `.ods`, what reading it whole would take.
pub fn check_container(upload: &Path, format: TableFormat, limits: &IngestLimits) -> Result<(), IngestError> {
    check_archive(upload, limits)?;
    if format == TableFormat::Ods {
        let mut archive = zip::ZipArchive::new(File::open(upload).map_err(io)?)
            .map_err(|e| invalid(format!("the zip archive is damaged: {e}")))?;
        let content =
            archive.by_name("content.xml").map_err(|e| invalid(format!("content.xml cannot be read: {e}")))?;
        let footprint = super::ods_guard::check_content(content)?;
        tracing::debug!(cells = footprint.cells, text_bytes = footprint.text_bytes, "ods footprint");
        // calamine reads the manifest (to refuse encrypted files) into one buffer.
        if let Ok(manifest) = archive.by_name("META-INF/manifest.xml") {
            let read = std::io::copy(&mut manifest.take(MAX_MANIFEST_BYTES + 1), &mut std::io::sink())
                .map_err(|e| invalid(format!("META-INF/manifest.xml cannot be decompressed: {e}")))?;
            if read > MAX_MANIFEST_BYTES {
                return Err(invalid(format!("its manifest takes more than {} MiB", MAX_MANIFEST_BYTES >> 20)));
            }
        }
    }
    Ok(())
}

/// Decompresses every entry of the archive, within the size, ratio and entry limits.
fn check_archive(upload: &Path, limits: &IngestLimits) -> Result<(), IngestError> {
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
    /// calamine has read every sheet; the grid of the sheet read last is kept for the second
    /// pass.
    Ods(Box<Ods<BufReader<File>>>, Option<(String, Range<Data>)>),
    /// A legacy workbook as `xls_guard` rewrote it (one sheet): calamine has read it whole;
    /// its sheet's grid is kept and the rest dropped.
    Xls(String, Range<Data>),
}

impl Book {
    fn open(path: &Path, format: TableFormat) -> Result<Self, IngestError> {
        let reader = BufReader::new(File::open(path).map_err(io)?);
        match format {
            TableFormat::Xlsb => Xlsb::new(reader).map(Book::Xlsb).map_err(invalid),
            TableFormat::Ods => Ods::new(reader).map(|b| Book::Ods(Box::new(b), None)).map_err(invalid),
            TableFormat::Xls => {
                // Its texts are UTF-16 (`xls_guard` wrote them so), whatever code page it names.
                let mut options = XlsOptions::default();
                options.force_codepage = Some(1200);
                let mut book = Xls::new_with_options(reader, options).map_err(invalid)?;
                let name = book.sheet_names().first().cloned().ok_or_else(|| invalid("the workbook has no sheet"))?;
                let grid = book.worksheet_range(&name).map_err(invalid)?;
                Ok(Book::Xls(name, grid))
            }
            _ => Xlsx::new(reader).map(Book::Xlsx).map_err(invalid),
        }
    }

    fn sheet_names(&self) -> Vec<String> {
        match self {
            Book::Xlsx(b) => b.sheet_names(),
            Book::Xlsb(b) => b.sheet_names(),
            Book::Ods(b, _) => b.sheet_names(),
            Book::Xls(name, _) => vec![name.clone()],
        }
    }

    /// Hands every stored cell of `sheet` to `each`, row by row.
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
            Book::Ods(b, kept) => {
                if kept.as_ref().is_none_or(|(name, _)| name != sheet) {
                    *kept = None;
                    *kept = Some((sheet.to_string(), b.worksheet_range(sheet).map_err(invalid)?));
                }
                let Some((_, grid)) = kept.as_ref() else { return Ok(()) };
                each_in_grid(grid, each)?;
            }
            Book::Xls(name, grid) => {
                if name == sheet {
                    each_in_grid(grid, each)?;
                }
            }
        }
        Ok(())
    }
}

/// Hands every used cell of a sheet's grid to `each`, row by row.
fn each_in_grid(
    grid: &Range<Data>,
    mut each: impl FnMut(u32, u32, &DataRef<'_>) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let (top, left) = grid.start().unwrap_or((0, 0));
    for (row, column, cell) in grid.used_cells() {
        each(top + row as u32, left + column as u32, &data_ref(cell))?;
    }
    Ok(())
}

/// A cell of a grid as the streamed readers hand cells over.
fn data_ref(cell: &Data) -> DataRef<'_> {
    match cell {
        Data::Int(v) => DataRef::Int(*v),
        Data::Float(x) => DataRef::Float(*x),
        Data::String(s) => DataRef::SharedString(s),
        Data::Bool(b) => DataRef::Bool(*b),
        Data::DateTime(d) => DataRef::DateTime(*d),
        Data::DateTimeIso(s) => DataRef::DateTimeIso(s.clone()),
        Data::DurationIso(s) => DataRef::DurationIso(s.clone()),
        Data::Error(e) => DataRef::Error(e.clone()),
        Data::Empty => DataRef::Empty,
    }
}

/// What kinds of non-missing cell a column's data rows hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct CellKinds {
    pub(super) numbers: bool,
    /// A number that is not whole, or outside int64.
    pub(super) fractions: bool,
    pub(super) bools: bool,
    pub(super) dates: bool,
    /// A date with a time of day other than midnight.
    pub(super) times: bool,
    pub(super) text: bool,
}

impl CellKinds {
    /// The column's type (see the module's documentation); `None` for a column of missing
    /// values only (typed as CSV types it).
    pub(super) fn column_type(self) -> Option<ForcedType> {
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
pub(super) fn is_whole(x: f64) -> bool {
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
            kinds.times |= iso_time_of_day(s).is_some();
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
        if let Some(reason) = text_of(cell).and_then(|text| refused_cell(text, limits)) {
            return Err(IngestError::Invalid(format!(
                "the cell {} of the sheet {sheet:?} {reason}",
                cell_name(row, column)
            )));
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

/// The time of day of an ISO date-time (`2024-01-02T09:30:00`), `None` for a date alone or
/// midnight (`T00:00:00`, as LibreOffice and pandas write dates).
fn iso_time_of_day(s: &str) -> Option<&str> {
    let (_, time) = s.split_once('T')?;
    time.bytes().any(|b| b.is_ascii_digit() && b != b'0').then_some(time)
}

/// The text of a text cell.
fn text_of<'a>(cell: &'a DataRef<'_>) -> Option<&'a str> {
    match cell {
        DataRef::String(s) => Some(s),
        DataRef::SharedString(s) => Some(s),
        _ => None,
    }
}

/// A cell's name as Excel shows it (`B3`), from 0-based row and column numbers.
pub(super) fn cell_name(row: u32, column: u32) -> String {
    let mut letters = Vec::new();
    let mut n = u64::from(column) + 1;
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8_lossy(&letters), u64::from(row) + 1)
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
        DataRef::DateTimeIso(s) if with_time => Some(quoted(s)),
        DataRef::DateTimeIso(s) => Some(quoted(s.split_once('T').map_or(s.as_str(), |(day, _)| day))),
        DataRef::DurationIso(s) => Some(quoted(s)),
        DataRef::String(s) => Some(quoted(s)),
        DataRef::SharedString(s) => Some(quoted(s)),
        DataRef::Error(_) | DataRef::Empty => None,
    }
}
