//! A legacy Excel workbook (`.xls`: BIFF8 records in an Office compound file) rewritten as the
//! small, well-formed workbook `calamine` then reads, so that calamine never sees the upload.
//!
//! calamine's `.xls` reader trusts the records it reads: it indexes into records shorter than
//! their type's layout (a panic), reserves what a `DIMENSIONS` record declares, keeps strings
//! at the capacity a record declares whatever follows, parses every sheet and every formula up
//! front, and builds each sheet as a dense grid between its outermost cells (two cells, at A1
//! and IV65536, ask for 16.7 million). So [`rewrite`] reads the upload itself:
//!
//! 1. The compound file's sector table is checked to list each sector once
//!    ([`check_sector_table`]), then the file is opened with the `cfb` crate (which checks the
//!    container's sector chains) and its `Workbook` stream read record by record, each length checked before its
//!    fields are read. Refused: a workbook that is password-protected (`FILEPASS`), one older
//!    than Excel 97 (BIFF5 and before: a `Book` stream or a `BOF` version other than `0x0600`),
//!    a compound file with no workbook (a Word document, say), and a damaged one (a record that
//!    runs past its stream, a text that runs past its record, a shared string index past the
//!    table), all `422`.
//! 2. The sheet read is the first worksheet (chart and macro sheets are skipped), or the one
//!    the `sheet` hint names. Only its records are read (an embedded chart's records inside it
//!    are skipped); other sheets are never parsed.
//! 3. A new workbook is written, holding only what calamine needs for that sheet: `BOF`,
//!    `DATE1904`, `FORMAT`, `XF`, one `BOUNDSHEET` and `EOF`, then the sheet's `BOF`, its cells
//!    as `NUMBER`, `RK`, `LABEL` and `BOOLERR` records, and `EOF`, in a fresh compound file
//!    (version 3) whose only stream is `Workbook`. Shared strings are written into their cells
//!    (`LABELSST` → `LABEL`), a `MULRK` as one `RK` a cell, and a formula as its cached value
//!    (`NUMBER`, `BOOLERR`, or `LABEL` from its `STRING` record) with the formula's cell format,
//!    so that a formula giving a date is a date (as `xlrd`, pandas' `.xls` reader, reads it).
//!    Texts are written as UTF-16 (calamine is told so: code page 1200), which BIFF8 texts are.
//!    An empty text is no cell. The number formats the cell formats use are renumbered from
//!    164 (calamine reads no others); one longer than 255 characters or with more than
//!    [`MAX_FORMAT_BRACKETS`](super::xls_writer::MAX_FORMAT_BRACKETS) `[` is left out (its cells keep the general format); the built-in
//!    date formats of East Asian and Thai Excel (27–36, 50–58, 71–81) become the built-in date
//!    format.
//!
//! Memory: what calamine will hold reading the rewritten workbook is counted while it is written
//! ([`Footprint`]) and kept within [`MAX_XLS_MEMORY_BYTES`](super::xls_writer::MAX_XLS_MEMORY_BYTES) (`413` past it): the file and its
//! stream read whole, the cells as read, the grid they make (from the first to the last row and
//! column holding a cell) and our copy of it, and every text twice. The shared strings are held
//! while the sheet is read: at most `MAX_SHARED_STRINGS_BYTES` of text.
//!
//! The records are read with `xls_records`; the copy is written, and counted, by `xls_writer`.

use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::xls_records::{BIFF8, GLOBALS, Records, SharedStrings, WORKSHEET, WORKSHEET_SHEET, damaged, io, record};
pub use super::xls_writer::Footprint;
use super::xls_writer::Writer;
use crate::ports::tables::{IngestError, IngestLimits};

/// Most `XF` (cell format) and `FORMAT` records read: cells name their format with 16 bits.
const MAX_FORMATS: usize = 1 << 16;
/// Most sheets a workbook may list (Excel's own limit is memory).
const MAX_SHEETS: usize = 1 << 16;
/// A number format longer than this (Excel's limit) is left out.
const MAX_FORMAT_CHARS: usize = 255;
/// Sheet names an error message lists.
const NAMES_LISTED: usize = 50;
/// Error codes a `BOOLERR` cell may hold (MS-XLS 2.5.10); others are written as `#N/A`.
const ERROR_CODES: [u8; 8] = [0x00, 0x07, 0x0F, 0x17, 0x1D, 0x24, 0x2A, 0x2B];
const NOT_AVAILABLE: u8 = 0x2A;

/// What [`rewrite`] wrote.
#[derive(Debug)]
pub struct Rewritten {
    /// The sheet read (its name as calamine reports it).
    pub sheet: String,
    /// What calamine will hold, counted.
    pub footprint: Footprint,
}

/// Reads the `.xls` at `upload` and writes its sheet (the first worksheet, or `sheet`) to `out`
/// as the module's documentation says.
pub fn rewrite(
    upload: &Path,
    sheet: Option<&str>,
    out: &mut std::fs::File,
    limits: &IngestLimits,
) -> Result<Rewritten, IngestError> {
    let mut file = std::fs::File::open(upload).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    check_sector_table(&mut file, size)?;
    let mut compound = cfb::CompoundFile::open(file)
        .map_err(|e| IngestError::Invalid(format!("the file is a damaged Office compound file: {e}")))?;
    let stream_len = match compound.entry("/Workbook") {
        Ok(entry) if entry.is_stream() => entry.len(),
        _ if compound.is_stream("/Book") => {
            return Err(IngestError::Invalid(
                "the file is an Excel 5.0/95 workbook (BIFF5), which is not read: save it as .xlsx".into(),
            ));
        }
        _ => {
            return Err(IngestError::Invalid(
                "the file is an Office compound file that is not an Excel workbook (it has no Workbook stream)".into(),
            ));
        }
    };
    if stream_len > size {
        return Err(damaged("its Workbook stream is longer than the file"));
    }
    let stream = compound.open_stream("/Workbook").map_err(|e| damaged(format!("the Workbook stream: {e}")))?;
    let mut records = Records::new(BufReader::with_capacity(64 * 1024, stream), stream_len);
    let globals = Globals::read(&mut records)?;
    let chosen = globals.choose(sheet)?;

    let mut book = cfb::CompoundFile::create_with_version(cfb::Version::V3, &mut *out).map_err(io)?;
    let stream = book.create_stream("/Workbook").map_err(io)?;
    let mut writer =
        Writer { out: std::io::BufWriter::new(stream), footprint: Footprint::default(), limits, scratch: Vec::new() };
    writer.globals(&globals, &chosen.name)?;
    copy_sheet(&mut records, chosen.at, &globals.shared, &mut writer)?;
    let Writer { out: stream, footprint, .. } = writer;
    drop(stream.into_inner().map_err(|e| io(e.into_error()))?);
    book.flush().map_err(io)?;
    Ok(Rewritten { sheet: chosen.name, footprint })
}

/// Refuses a compound file whose sector table (FAT) would be read more than once: the `cfb`
/// crate reads one FAT sector for every entry of the header's and the DIFAT sectors' lists
/// before it checks them, so a few kilobytes listing one sector a thousand times would take
/// gigabytes. The lists are read as `cfb` 0.16 reads them (`open_internal`: the header's 109
/// entries up to the first free one, then each DIFAT sector's, trailing zero and free entries
/// dropped as it drops them), and must name each sector once. Anything else wrong is left to
/// `cfb` to refuse, before it reads a FAT sector.
fn check_sector_table(file: &mut std::fs::File, size: u64) -> Result<(), IngestError> {
    const FREE: u32 = 0xFFFF_FFFF;
    const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
    const MAX_REGULAR: u32 = 0xFFFF_FFFA;
    const HEADER_ENTRIES: usize = 109;
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let mut header = [0u8; 512];
    if size < 512 || file.read_exact(&mut header).is_err() {
        return Ok(());
    }
    let sector_len: u64 = match u16::from_le_bytes([header[0x1A], header[0x1B]]) {
        3 => 512,
        4 => 4096,
        _ => return Ok(()),
    };
    let num_fat_sectors = u32_at(&header, 0x2C) as usize;
    let mut next = u32_at(&header, 0x44);
    let mut listed: Vec<u32> =
        (0..HEADER_ENTRIES).map(|k| u32_at(&header, 0x4C + 4 * k)).take_while(|&e| e != FREE).collect();
    let mut sector = vec![0u8; sector_len as usize];
    let mut seen_difat = std::collections::HashSet::new();
    if next == FREE {
        next = END_OF_CHAIN;
    }
    while next != END_OF_CHAIN && next != FREE {
        let at = (u64::from(next) + 1) * sector_len;
        if next > MAX_REGULAR || at + sector_len > size || !seen_difat.insert(next) {
            return Ok(());
        }
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        file.read_exact(&mut sector).map_err(io)?;
        let entries = sector.len() / 4;
        listed.extend((0..entries - 1).map(|k| u32_at(&sector, 4 * k)));
        next = u32_at(&sector, 4 * (entries - 1));
    }
    while listed.len() > HEADER_ENTRIES && listed.len() > num_fat_sectors && listed.last() == Some(&0) {
        listed.pop();
    }
    while listed.last() == Some(&FREE) {
        listed.pop();
    }
    let mut distinct = std::collections::HashSet::with_capacity(listed.len());
    if let Some(twice) = listed.iter().find(|&&s| !distinct.insert(s)) {
        return Err(IngestError::Invalid(format!(
            "the file is a damaged Office compound file: its sector table lists sector {twice} twice"
        )));
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    Ok(())
}

/// A sheet the workbook lists (`BOUNDSHEET`).
#[derive(Debug, Clone)]
struct SheetEntry {
    name: String,
    /// Offset of its `BOF` record in the stream.
    at: u64,
    /// 0 a worksheet; 1 a macro sheet, 2 a chart sheet, 6 a VBA module.
    kind: u8,
}

/// What the workbook's global records say that the rewritten workbook keeps.
#[derive(Debug, Default)]
pub(super) struct Globals {
    pub(super) date1904: bool,
    /// Number formats: their index and text.
    pub(super) formats: Vec<(u16, String)>,
    /// Each cell format's number format index, in order.
    pub(super) xfs: Vec<u16>,
    sheets: Vec<SheetEntry>,
    shared: SharedStrings,
}

impl Globals {
    /// Reads the globals substream, from the stream's first record to its `EOF`.
    fn read<R: Read + Seek>(records: &mut Records<R>) -> Result<Self, IngestError> {
        if records.next()? != Some(record::BOF) {
            return Err(damaged("its Workbook stream does not begin with a BOF record"));
        }
        let (version, kind) = (records.u16()?, records.u16()?);
        if version != BIFF8 {
            return Err(IngestError::Invalid(format!(
                "the file is an Excel workbook older than Excel 97 (BIFF version 0x{version:04X}), which is not read: save it as .xlsx"
            )));
        }
        if kind != GLOBALS {
            return Err(damaged("its first substream is not the workbook globals"));
        }
        let mut globals = Globals::default();
        loop {
            match records.next()? {
                None => return Err(damaged("its global records have no end (EOF)")),
                Some(record::EOF) => return Ok(globals),
                Some(record::FILEPASS) => {
                    return Err(IngestError::Invalid(
                        "the workbook is password-protected (encrypted): save it without a password".into(),
                    ));
                }
                Some(record::DATE1904) => globals.date1904 = records.u16()? == 1,
                Some(record::FORMAT) => {
                    let index = records.u16()?;
                    let count = usize::from(records.u16()?);
                    let wide = records.u8()? & 1 != 0;
                    if count > MAX_FORMAT_CHARS {
                        continue;
                    }
                    let mut text = String::new();
                    records.chars(count, wide, &mut text)?;
                    globals.formats.push((index, text));
                    if globals.formats.len() > MAX_FORMATS {
                        return Err(damaged(format!("it has more than {MAX_FORMATS} number formats")));
                    }
                }
                Some(record::XF) => {
                    records.take(2)?;
                    let format = records.u16()?;
                    globals.xfs.push(format);
                    if globals.xfs.len() > MAX_FORMATS {
                        return Err(damaged(format!("it has more than {MAX_FORMATS} cell formats")));
                    }
                }
                Some(record::BOUNDSHEET) => {
                    let at = u64::from(records.u32()?);
                    let _visibility = records.u8()?;
                    let kind = records.u8()?;
                    let count = usize::from(records.u8()?);
                    let wide = records.u8()? & 1 != 0;
                    let mut name = String::new();
                    records.chars(count, wide, &mut name)?;
                    // calamine drops NUL characters from sheet names.
                    name.retain(|c| c != '\0');
                    globals.sheets.push(SheetEntry { name, at, kind });
                    if globals.sheets.len() > MAX_SHEETS {
                        return Err(damaged(format!("it lists more than {MAX_SHEETS} sheets")));
                    }
                }
                Some(record::SST) => globals.shared = SharedStrings::read(records)?,
                Some(record::BOF) => return Err(damaged("its global records have no end (EOF)")),
                Some(_) => {}
            }
        }
    }

    /// The sheet to read: the one named `wanted`, or the first worksheet.
    fn choose(&self, wanted: Option<&str>) -> Result<SheetEntry, IngestError> {
        let names = || {
            let listed = self.sheets.iter().take(NAMES_LISTED).map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
            match self.sheets.len() {
                n if n > NAMES_LISTED => format!("{listed}, … ({n} in all)"),
                _ => listed,
            }
        };
        let sheet = match wanted {
            Some(wanted) => self.sheets.iter().find(|s| s.name == wanted).ok_or_else(|| {
                IngestError::Invalid(format!("the workbook has no sheet named {wanted:?}; its sheets: {}", names()))
            })?,
            None => self
                .sheets
                .iter()
                .find(|s| s.kind == WORKSHEET_SHEET)
                .ok_or_else(|| IngestError::Invalid("invalid spreadsheet: the workbook has no worksheet".into()))?,
        };
        if sheet.kind != WORKSHEET_SHEET {
            return Err(IngestError::Invalid(format!(
                "the sheet {:?} is a chart or macro sheet, not a worksheet: name a worksheet ({})",
                sheet.name,
                names()
            )));
        }
        Ok(sheet.clone())
    }
}

/// Reads the sheet whose `BOF` is at `at`, writing its cells.
fn copy_sheet<R: Read + Seek, W: Write>(
    records: &mut Records<R>,
    at: u64,
    shared: &SharedStrings,
    writer: &mut Writer<'_, W>,
) -> Result<(), IngestError> {
    records.seek(at)?;
    if records.next()? != Some(record::BOF) {
        return Err(damaged("a sheet does not begin where the workbook says it does"));
    }
    let (version, kind) = (records.u16()?, records.u16()?);
    if version != BIFF8 || kind != WORKSHEET {
        return Err(damaged("the sheet's BOF record does not begin a BIFF8 worksheet"));
    }
    writer.sheet_start()?;
    // Substreams inside the sheet (an embedded chart's) are skipped.
    let mut depth = 1usize;
    // The cell of a formula whose text value follows in a STRING record.
    let mut pending_text: Option<[u16; 3]> = None;
    let mut text = String::new();
    loop {
        let Some(typ) = records.next()? else { return Err(damaged("a sheet has no end (EOF)")) };
        match typ {
            record::BOF => depth += 1,
            record::EOF => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ if depth > 1 => {}
            record::NUMBER => {
                let place = place(records)?;
                let value: [u8; 8] = records.take(8)?.try_into().expect("8 bytes");
                writer.number(place, value)?;
            }
            record::RK => {
                let place = place(records)?;
                let rk = records.u32()?;
                writer.rk(place, rk)?;
            }
            record::MULRK => {
                let size = records.remaining();
                let row = records.u16()?;
                let first = records.u16()?;
                if size < 6 || (size - 6) % 6 != 0 {
                    return Err(damaged("a MULRK record's length is not 6 + 6 a cell"));
                }
                let cells = (size - 6) / 6;
                let last = u16::from_le_bytes([records.data[size - 2], records.data[size - 1]]);
                if usize::from(last) + 1 != usize::from(first) + cells {
                    return Err(damaged("a MULRK record's columns do not match its cells"));
                }
                for k in 0..cells {
                    let format = records.u16()?;
                    let rk = records.u32()?;
                    writer.rk([row, first + k as u16, format], rk)?;
                }
            }
            record::LABELSST => {
                let place = place(records)?;
                let index = records.u32()? as usize;
                let value = shared.get(index).ok_or_else(|| {
                    damaged(format!("a cell names shared string {index}; the table has {}", shared.ends.len()))
                })?;
                writer.label(place, value)?;
            }
            record::LABEL => {
                let place = place(records)?;
                text.clear();
                records.unicode_string(&mut text)?;
                writer.label(place, &text)?;
            }
            record::BOOLERR => {
                let place = place(records)?;
                let (value, is_error) = (records.u8()?, records.u8()?);
                match is_error {
                    0 => writer.bool_err(place, u8::from(value != 0), 0)?,
                    1 => writer.bool_err(place, error_code(value), 1)?,
                    _ => return Err(damaged("a BOOLERR record is neither a boolean nor an error")),
                }
            }
            record::FORMULA => {
                let place = place(records)?;
                let value: [u8; 8] = records.take(8)?.try_into().expect("8 bytes");
                pending_text = None;
                if value[6..8] != [0xFF, 0xFF] {
                    writer.number(place, value)?;
                } else {
                    match value[0] {
                        0x00 => pending_text = Some(place),
                        0x01 => writer.bool_err(place, u8::from(value[2] != 0), 0)?,
                        0x02 => writer.bool_err(place, error_code(value[2]), 1)?,
                        // An empty text, or a value of an unknown kind: no cell.
                        _ => {}
                    }
                }
            }
            record::STRING => {
                if let Some(place) = pending_text.take() {
                    text.clear();
                    records.unicode_string(&mut text)?;
                    writer.label(place, &text)?;
                }
            }
            _ => {}
        }
    }
    writer.sheet_end()
}

/// A cell record's row, column and cell format index.
fn place<R: Read + Seek>(records: &mut Records<R>) -> Result<[u16; 3], IngestError> {
    Ok([records.u16()?, records.u16()?, records.u16()?])
}

fn error_code(code: u8) -> u8 {
    if ERROR_CODES.contains(&code) { code } else { NOT_AVAILABLE }
}
