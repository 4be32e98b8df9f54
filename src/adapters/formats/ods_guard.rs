//! How much memory an OpenDocument spreadsheet (`.ods`) takes once `calamine` has read it,
//! found before it reads it.
//!
//! calamine reads a `.ods` whole: every sheet of `content.xml` becomes a dense grid of cells at
//! once, with `table:number-columns-repeated` and `table:number-rows-repeated` expanded (a cell
//! repeated 16,384 times becomes 16,384 copies of its value) and `<text:s text:c="n"/>` expanded
//! to `n` spaces. A few kilobytes can therefore ask for terabytes. [`check_content`] walks
//! `content.xml` as calamine walks it (the same elements, attributes and repeats), adds up the
//! cells and text bytes calamine would hold — the cells as read, the grid rebuilt from them,
//! the formulas beside them and the copy of the chosen sheet — and refuses the file when that
//! passes [`MAX_ODS_MEMORY_BYTES`]. Sizes are counted from the raw XML (an escaped text is never
//! shorter than its value), so the count is an upper estimate, never an underestimate.
//!
//! No single XML item (a text run or a tag with its attributes) may exceed
//! [`MAX_XML_ITEM_BYTES`]: the XML reader holds one item at a time, whole.

use std::io::{BufRead, BufReader, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;

use crate::ports::tables::IngestError;

/// Most memory calamine may need to hold a `.ods` workbook (estimated as the module says).
pub const MAX_ODS_MEMORY_BYTES: u64 = 256 << 20;
/// Largest single XML item (text between tags, or a tag) read from `content.xml`.
pub const MAX_XML_ITEM_BYTES: usize = 16 << 20;

/// Bytes of one cell of calamine's grid (`calamine::Data`) and of one formula (`String`).
const CELL_BYTES: u64 = std::mem::size_of::<calamine::Data>() as u64;
const FORMULA_BYTES: u64 = std::mem::size_of::<String>() as u64;

fn invalid(reason: impl std::fmt::Display) -> IngestError {
    IngestError::Invalid(format!("invalid spreadsheet: {reason}"))
}

/// What calamine would hold for the whole workbook, counted so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Cells held: as read, in the rebuilt grids, and the largest sheet's copy.
    pub cells: u64,
    /// Bytes of text held in those cells and their formulas.
    pub text_bytes: u64,
}

impl Footprint {
    /// The memory this footprint takes (each cell beside its formula).
    pub fn bytes(self) -> u64 {
        self.cells.saturating_mul(CELL_BYTES + FORMULA_BYTES).saturating_add(self.text_bytes)
    }
}

/// One table (sheet) as calamine reads it.
#[derive(Debug, Default)]
struct Table {
    /// Cells pushed while reading rows (a row's trailing empty cells are not).
    pushed: u64,
    pushed_text: u64,
    /// Rows from the first row with a value, through the last so far (repeats counted), and
    /// the rows seen since the last row with a value.
    rows_spanned: u64,
    rows_pending: u64,
    /// The widest row with a value (cells up to its last value).
    width: u64,
    /// Text of rows with a value, times their repeats (the rebuilt grid copies it).
    grid_text: u64,
}

impl Table {
    fn row(&mut self, repeats: u64, row: Row) {
        self.pushed = self.pushed.saturating_add(row.pushed);
        self.pushed_text = self.pushed_text.saturating_add(row.text);
        if row.has_value {
            self.rows_spanned = self.rows_spanned.saturating_add(self.rows_pending).saturating_add(repeats);
            self.rows_pending = 0;
            self.width = self.width.max(row.pushed);
            self.grid_text = self.grid_text.saturating_add(repeats.saturating_mul(row.text));
        } else if self.rows_spanned > 0 {
            self.rows_pending = self.rows_pending.saturating_add(repeats);
        }
    }

    /// Cells and text the table holds: as read, and as the rebuilt grid.
    fn footprint(&self) -> (u64, u64, u64) {
        let grid = self.rows_spanned.saturating_mul(self.width);
        (self.pushed.saturating_add(grid), self.pushed_text.saturating_add(self.grid_text), grid)
    }
}

/// One row's cells as calamine pushes them.
#[derive(Debug, Default, Clone, Copy)]
struct Row {
    pushed: u64,
    text: u64,
    has_value: bool,
}

/// Walks `content.xml` and refuses the workbook when calamine would hold more than
/// [`MAX_ODS_MEMORY_BYTES`] reading it (see the module's documentation).
pub fn check_content(content: impl Read) -> Result<Footprint, IngestError> {
    let mut reader = Reader::from_reader(BufReader::new(ItemBound::new(content)));
    let config = reader.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    let mut buf = Vec::new();
    let mut total = Footprint::default();
    let mut largest_sheet = Footprint::default();
    let mut table: Option<Table> = None;
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf).map_err(xml_error)? {
            Event::Start(e) if e.name() == QName(b"table:table") => table = Some(Table::default()),
            Event::End(e) if e.name() == QName(b"table:table") => {
                if let Some(done) = table.take() {
                    let (cells, text, grid) = done.footprint();
                    total.cells = total.cells.saturating_add(cells);
                    total.text_bytes = total.text_bytes.saturating_add(text);
                    let sheet = Footprint { cells: grid, text_bytes: done.grid_text };
                    if sheet.bytes() > largest_sheet.bytes() {
                        largest_sheet = sheet;
                    }
                }
            }
            Event::Start(e) if e.name() == QName(b"table:table-row") => {
                let Some(current) = table.as_mut() else { continue };
                let repeats = count_attribute(&e, b"table:number-rows-repeated")?;
                let row = read_row(&mut reader)?;
                current.row(repeats, row);
                let (cells, text, _) = current.footprint();
                let so_far = Footprint {
                    cells: total.cells.saturating_add(cells),
                    text_bytes: total.text_bytes.saturating_add(text),
                };
                refuse_past_limit(so_far)?;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let whole = Footprint {
        cells: total.cells.saturating_add(largest_sheet.cells),
        text_bytes: total.text_bytes.saturating_add(largest_sheet.text_bytes),
    };
    refuse_past_limit(whole)?;
    Ok(whole)
}

fn refuse_past_limit(footprint: Footprint) -> Result<(), IngestError> {
    if footprint.bytes() > MAX_ODS_MEMORY_BYTES {
        return Err(IngestError::TooLarge(format!(
            "the OpenDocument spreadsheet expands to {} cells and {} bytes of text once its repeated cells and rows are counted; a .ods file is read whole and may take at most {} MiB that way: save it as .xlsx or CSV",
            footprint.cells,
            footprint.text_bytes,
            MAX_ODS_MEMORY_BYTES >> 20
        )));
    }
    Ok(())
}

fn xml_error(e: quick_xml::Error) -> IngestError {
    match e {
        quick_xml::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => invalid(io),
        other => invalid(format!("content.xml cannot be read: {other}")),
    }
}

/// A repeat count (1 when the attribute is absent), as calamine parses it.
fn count_attribute(e: &BytesStart<'_>, name: &[u8]) -> Result<u64, IngestError> {
    match e.try_get_attribute(name).map_err(|err| invalid(format!("content.xml: {err}")))? {
        None => Ok(1),
        Some(a) => std::str::from_utf8(&a.value)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| invalid(format!("content.xml: {} is not a count", String::from_utf8_lossy(name)))),
    }
}

/// Reads one row's cells up to its end, counting what calamine pushes for them.
fn read_row<R: BufRead>(reader: &mut Reader<R>) -> Result<Row, IngestError> {
    let mut row = Row::default();
    let mut pending_empty = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf).map_err(xml_error)? {
            Event::Start(e)
                if e.name() == QName(b"table:table-cell") || e.name() == QName(b"table:covered-table-cell") =>
            {
                let repeats = count_attribute(&e, b"table:number-columns-repeated")?;
                let cell = read_cell(reader, &e)?;
                row.pushed = row.pushed.saturating_add(pending_empty);
                pending_empty = 0;
                if cell.has_value {
                    row.pushed = row.pushed.saturating_add(repeats);
                    row.text = row.text.saturating_add(repeats.saturating_mul(cell.text));
                    row.has_value = true;
                } else {
                    pending_empty = repeats;
                }
            }
            Event::End(e) if e.name() == QName(b"table:table-row") => return Ok(row),
            Event::Eof => return Err(invalid("content.xml ends inside a row")),
            // calamine refuses anything else inside a row; counting on is harmless.
            _ => {}
        }
    }
}

/// A cell: whether calamine keeps a value for it, and the bytes of its value and formula.
struct Cell {
    has_value: bool,
    text: u64,
}

/// Reads a cell from its start tag through its end, as calamine's `get_datatype` does.
fn read_cell<R: BufRead>(reader: &mut Reader<R>, start: &BytesStart<'_>) -> Result<Cell, IngestError> {
    let mut value_set = false;
    let mut is_string = false;
    let mut text = 0u64;
    let mut formula = 0u64;
    for attribute in start.attributes() {
        let a = attribute.map_err(|e| invalid(format!("content.xml: {e}")))?;
        match a.key {
            QName(b"office:value" | b"office:boolean-value") if !value_set => value_set = true,
            QName(b"office:string-value" | b"office:date-value" | b"office:time-value") if !value_set => {
                value_set = true;
                text = a.value.len() as u64;
            }
            QName(b"office:value-type") if !value_set => is_string = &*a.value == b"string",
            QName(b"table:formula") => formula = a.value.len() as u64,
            _ => {}
        }
    }
    let mut buf = Vec::new();
    if value_set || !is_string {
        // calamine skips to the cell's end.
        reader.read_to_end_into(start.name(), &mut buf).map_err(xml_error)?;
    } else {
        // The value is the cell's text: paragraphs joined by newlines, `text:s` as spaces,
        // annotations left out; it ends at the first cell end.
        let mut first_paragraph = true;
        loop {
            buf.clear();
            match reader.read_event_into(&mut buf).map_err(xml_error)? {
                Event::End(e)
                    if e.name() == QName(b"table:table-cell") || e.name() == QName(b"table:covered-table-cell") =>
                {
                    break;
                }
                Event::Start(e) if e.name() == QName(b"office:annotation") => {
                    reader.read_to_end_into(QName(b"office:annotation"), &mut Vec::new()).map_err(xml_error)?;
                }
                // Paragraphs after the first begin with a newline.
                Event::Start(e) if e.name() == QName(b"text:p") => {
                    text = text.saturating_add(u64::from(!std::mem::take(&mut first_paragraph)));
                }
                Event::Start(e) if e.name() == QName(b"text:s") => {
                    text = text.saturating_add(count_attribute(&e, b"text:c")?);
                }
                Event::Text(t) => text = text.saturating_add(t.len() as u64),
                // An entity or character reference: at most four bytes of UTF-8.
                Event::GeneralRef(r) => text = text.saturating_add((r.len() as u64).max(4)),
                Event::Eof => return Err(invalid("content.xml ends inside a cell")),
                _ => {}
            }
        }
    }
    let has_value = value_set || is_string || formula > 0;
    Ok(Cell { has_value, text: text.saturating_add(formula) })
}

/// A reader that fails when more than [`MAX_XML_ITEM_BYTES`] pass without a `<` or `>`: the
/// longest text run or tag the XML reader would have to hold at once.
struct ItemBound<R> {
    inner: R,
    run: usize,
}

impl<R> ItemBound<R> {
    fn new(inner: R) -> Self {
        ItemBound { inner, run: 0 }
    }
}

impl<R: Read> Read for ItemBound<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        let read = &out[..n];
        // Runs that begin and end within one read are shorter than the read (the XML reader
        // reads through an 8 KiB buffer); only runs across reads need counting.
        self.run = match (memchr::memchr2(b'<', b'>', read), memchr::memrchr2(b'<', b'>', read)) {
            (Some(first), Some(last)) => {
                if self.run + first > MAX_XML_ITEM_BYTES {
                    return Err(item_too_large());
                }
                n - last - 1
            }
            _ => self.run + n,
        };
        if self.run > MAX_XML_ITEM_BYTES {
            return Err(item_too_large());
        }
        Ok(n)
    }
}

fn item_too_large() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("content.xml holds a text or tag longer than {} MiB", MAX_XML_ITEM_BYTES >> 20),
    )
}
