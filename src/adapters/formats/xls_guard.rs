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
//!    [`MAX_FORMAT_BRACKETS`] `[` is left out (its cells keep the general format); the built-in
//!    date formats of East Asian and Thai Excel (27–36, 50–58, 71–81) become the built-in date
//!    format.
//!
//! Memory: what calamine will hold reading the rewritten workbook is counted while it is written
//! ([`Footprint`]) and kept within [`MAX_XLS_MEMORY_BYTES`] (`413` past it): the file and its
//! stream read whole, the cells as read, the grid they make (from the first to the last row and
//! column holding a cell) and our copy of it, and every text twice. The shared strings are held
//! while the sheet is read: at most `MAX_SHARED_STRINGS_BYTES` of text.

use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::excel_ingest::MAX_SHARED_STRINGS_BYTES;
use crate::ports::tables::{IngestError, IngestLimits};

/// Most memory calamine may need to hold the rewritten workbook (counted as the module says).
pub const MAX_XLS_MEMORY_BYTES: u64 = 256 << 20;
/// A number format with more `[` than this is left out (calamine counts them in a byte).
pub const MAX_FORMAT_BRACKETS: usize = 200;
/// Most `XF` (cell format) and `FORMAT` records read: cells name their format with 16 bits.
const MAX_FORMATS: usize = 1 << 16;
/// Most sheets a workbook may list (Excel's own limit is memory).
const MAX_SHEETS: usize = 1 << 16;
/// A number format longer than this (Excel's limit) is left out.
const MAX_FORMAT_CHARS: usize = 255;
/// Sheet names an error message lists.
const NAMES_LISTED: usize = 50;
/// calamine reads number formats of these indexes only (`parse_format`): the rewritten
/// workbook numbers the formats its cell formats use from 164 on.
const FIRST_CUSTOM_FORMAT: u16 = 164;
const LAST_CUSTOM_FORMAT: u16 = 382;
/// The longest text a `LABEL` record of the rewritten workbook holds, in UTF-16 code units
/// (a record holds at most 65,535 bytes: 9 of position, format and length, 2 a unit).
const MAX_WIDE_TEXT_UNITS: usize = (u16::MAX as usize - 9) / 2;

/// BIFF8 record types read or written (MS-XLS 2.3).
mod record {
    pub const FORMULA: u16 = 0x0006;
    pub const EOF: u16 = 0x000A;
    pub const DATE1904: u16 = 0x0022;
    pub const FILEPASS: u16 = 0x002F;
    pub const CONTINUE: u16 = 0x003C;
    pub const BOUNDSHEET: u16 = 0x0085;
    pub const MULRK: u16 = 0x00BD;
    pub const XF: u16 = 0x00E0;
    pub const SST: u16 = 0x00FC;
    pub const LABELSST: u16 = 0x00FD;
    pub const NUMBER: u16 = 0x0203;
    pub const LABEL: u16 = 0x0204;
    pub const BOOLERR: u16 = 0x0205;
    pub const STRING: u16 = 0x0207;
    pub const RK: u16 = 0x027E;
    pub const FORMAT: u16 = 0x041E;
    pub const BOF: u16 = 0x0809;
}

/// `BOF` versions and substream kinds.
const BIFF8: u16 = 0x0600;
const GLOBALS: u16 = 0x0005;
const WORKSHEET: u16 = 0x0010;
/// The `dt` of a `BOUNDSHEET` naming a worksheet.
const WORKSHEET_SHEET: u8 = 0;
/// Error codes a `BOOLERR` cell may hold (MS-XLS 2.5.10); others are written as `#N/A`.
const ERROR_CODES: [u8; 8] = [0x00, 0x07, 0x0F, 0x17, 0x1D, 0x24, 0x2A, 0x2B];
const NOT_AVAILABLE: u8 = 0x2A;
/// The built-in number format `m/d/yy` (a date for calamine).
const BUILT_IN_DATE: u16 = 14;

fn damaged(reason: impl std::fmt::Display) -> IngestError {
    IngestError::Invalid(format!("the .xls workbook is damaged: {reason}"))
}

fn io(e: std::io::Error) -> IngestError {
    IngestError::Io(e.to_string())
}

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

/// The records of a BIFF8 stream, read one at a time; the current record's fields are read
/// with a cursor that never passes its end.
struct Records<R> {
    input: R,
    len: u64,
    /// Offset of the next record's header.
    next_at: u64,
    /// The next record's type and size, once read.
    peeked: Option<(u16, u16)>,
    typ: u16,
    data: Vec<u8>,
    pos: usize,
}

impl<R: Read + Seek> Records<R> {
    fn new(input: R, len: u64) -> Self {
        Self { input, len, next_at: 0, peeked: None, typ: 0, data: Vec::new(), pos: 0 }
    }

    /// Goes to the record at `at` (an offset in the stream).
    fn seek(&mut self, at: u64) -> Result<(), IngestError> {
        if at >= self.len {
            return Err(damaged(format!("a sheet is said to start at byte {at}, past the workbook's end")));
        }
        self.input.seek(SeekFrom::Start(at)).map_err(io)?;
        self.next_at = at;
        self.peeked = None;
        Ok(())
    }

    fn peek(&mut self) -> Result<Option<(u16, u16)>, IngestError> {
        if self.peeked.is_none() && self.next_at < self.len {
            if self.len - self.next_at < 4 {
                return Err(damaged("a record header runs past the end of the stream"));
            }
            let mut header = [0u8; 4];
            self.input.read_exact(&mut header).map_err(|e| damaged(format!("reading a record: {e}")))?;
            let (typ, size) = (u16::from_le_bytes([header[0], header[1]]), u16::from_le_bytes([header[2], header[3]]));
            if self.next_at + 4 + u64::from(size) > self.len {
                return Err(damaged(format!("a record (type 0x{typ:04X}) runs past the end of the stream")));
            }
            self.peeked = Some((typ, size));
        }
        Ok(self.peeked)
    }

    /// Reads the next record; `None` at the end of the stream.
    fn next(&mut self) -> Result<Option<u16>, IngestError> {
        let Some((typ, size)) = self.peek()? else { return Ok(None) };
        self.peeked = None;
        self.data.resize(usize::from(size), 0);
        self.input.read_exact(&mut self.data).map_err(|e| damaged(format!("reading a record: {e}")))?;
        self.next_at += 4 + u64::from(size);
        self.typ = typ;
        self.pos = 0;
        Ok(Some(typ))
    }

    /// Moves into the `CONTINUE` record that follows, if one does.
    fn continue_record(&mut self) -> Result<bool, IngestError> {
        if self.peek()?.is_some_and(|(typ, _)| typ == record::CONTINUE) {
            self.next()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], IngestError> {
        if self.remaining() < n {
            return Err(damaged(format!("a record (type 0x{:04X}) is shorter than its fields", self.typ)));
        }
        self.pos += n;
        Ok(&self.data[self.pos - n..self.pos])
    }

    fn u8(&mut self) -> Result<u8, IngestError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, IngestError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, IngestError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Skips `n` bytes, into `CONTINUE` records if need be.
    fn skip(&mut self, mut n: usize) -> Result<(), IngestError> {
        loop {
            let here = n.min(self.remaining());
            self.pos += here;
            n -= here;
            if n == 0 {
                return Ok(());
            }
            if !self.continue_record()? {
                return Err(damaged(format!("a record (type 0x{:04X}) is shorter than its fields", self.typ)));
            }
        }
    }

    /// `count` characters of a BIFF8 text, one byte each (`wide` false: the code points
    /// U+0000–U+00FF) or two (UTF-16LE), appended to `out`. When the record ends first, the
    /// text goes on in the next `CONTINUE` record, which begins with its own flags byte (its bit
    /// 0 says whether the rest is wide).
    fn chars(&mut self, count: usize, mut wide: bool, out: &mut String) -> Result<(), IngestError> {
        let mut units: Vec<u16> = Vec::with_capacity(count.min(self.remaining() + 1));
        let mut left = count;
        loop {
            let width = if wide { 2 } else { 1 };
            let here = left.min(self.remaining() / width);
            let bytes = self.take(here * width)?;
            if wide {
                units.extend(bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])));
            } else {
                units.extend(bytes.iter().map(|&b| u16::from(b)));
            }
            left -= here;
            if left == 0 {
                break;
            }
            if !self.continue_record()? {
                return Err(damaged(format!("a text (in a record of type 0x{:04X}) runs past its record", self.typ)));
            }
            wide = self.u8()? & 1 != 0;
        }
        out.extend(char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)));
        Ok(())
    }

    /// An `XLUnicodeString` (MS-XLS 2.5.294): a 16-bit character count, flags, characters.
    fn unicode_string(&mut self, out: &mut String) -> Result<(), IngestError> {
        let count = usize::from(self.u16()?);
        let wide = self.u8()? & 1 != 0;
        self.chars(count, wide, out)
    }
}

/// The shared string table, held as one text and where each string ends.
#[derive(Debug, Default)]
struct SharedStrings {
    text: String,
    ends: Vec<usize>,
}

impl SharedStrings {
    fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }

    /// Reads an `SST` record and its `CONTINUE`s (MS-XLS 2.4.265): after two counts, strings
    /// (`XLUnicodeRichExtendedString`, 2.5.293) until the records end. A string's header lies
    /// within one record; its characters may go on in the next (see [`Records::chars`]), as
    /// may its formatting runs and phonetic data, which are skipped.
    fn read<R: Read + Seek>(records: &mut Records<R>) -> Result<Self, IngestError> {
        let mut table = SharedStrings::default();
        records.take(8)?;
        loop {
            if records.remaining() == 0 {
                if records.continue_record()? {
                    continue;
                }
                return Ok(table);
            }
            let count = usize::from(records.u16()?);
            let flags = records.u8()?;
            let runs = if flags & 0x08 != 0 { usize::from(records.u16()?) } else { 0 };
            let phonetic = if flags & 0x04 != 0 { records.u32()? as usize } else { 0 };
            records.chars(count, flags & 1 != 0, &mut table.text)?;
            records.skip(4 * runs)?;
            records.skip(phonetic)?;
            table.ends.push(table.text.len());
            let held = table.text.capacity() + table.ends.capacity() * std::mem::size_of::<usize>();
            if held as u64 > MAX_SHARED_STRINGS_BYTES {
                return Err(IngestError::TooLarge(format!(
                    "the workbook's shared strings take more than {} MiB",
                    MAX_SHARED_STRINGS_BYTES >> 20
                )));
            }
        }
    }
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
struct Globals {
    date1904: bool,
    /// Number formats: their index and text.
    formats: Vec<(u16, String)>,
    /// Each cell format's number format index, in order.
    xfs: Vec<u16>,
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

/// What calamine holds reading a rewritten workbook (see the module's documentation).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Bytes of the rewritten `Workbook` stream.
    pub stream_bytes: u64,
    pub cells: u64,
    /// Rows and columns from the first to the last holding a cell.
    pub rows: (u16, u16),
    pub columns: (u16, u16),
    /// Bytes of the texts held (each at least at the capacity its record declares).
    pub text_bytes: u64,
}

/// Bytes of a cell as calamine reads it, and of one in its grid.
const CELL_BYTES: u64 = std::mem::size_of::<calamine::Cell<calamine::Data>>() as u64;
const GRID_BYTES: u64 = std::mem::size_of::<calamine::Data>() as u64;

impl Footprint {
    fn grid_cells(&self) -> u64 {
        if self.cells == 0 {
            return 0;
        }
        (u64::from(self.rows.1 - self.rows.0) + 1) * (u64::from(self.columns.1 - self.columns.0) + 1)
    }

    /// The memory counted: the file and its stream read whole (with the spare capacity of a
    /// growing buffer: three times the stream), the cells as read (twice: a growing vector),
    /// the grid and its copy, and every text twice (the grid's and the copy's).
    pub fn bytes(&self) -> u64 {
        3 * self.stream_bytes + 2 * CELL_BYTES * self.cells + 2 * GRID_BYTES * self.grid_cells() + 2 * self.text_bytes
    }
}

/// Writes the rewritten `Workbook` stream, counting its [`Footprint`].
struct Writer<'a, W: Write> {
    out: W,
    footprint: Footprint,
    limits: &'a IngestLimits,
    /// A text's bytes as written (reused).
    scratch: Vec<u8>,
}

impl<W: Write> Writer<'_, W> {
    fn record(&mut self, typ: u16, body: &[&[u8]]) -> Result<(), IngestError> {
        let size: usize = body.iter().map(|b| b.len()).sum();
        let size = u16::try_from(size).expect("records written are shorter than 64 KiB");
        self.out.write_all(&typ.to_le_bytes()).map_err(io)?;
        self.out.write_all(&size.to_le_bytes()).map_err(io)?;
        for part in body {
            self.out.write_all(part).map_err(io)?;
        }
        self.footprint.stream_bytes += 4 + u64::from(size);
        Ok(())
    }

    fn bof(&mut self, kind: u16) -> Result<(), IngestError> {
        let mut body = [0u8; 16];
        body[..2].copy_from_slice(&BIFF8.to_le_bytes());
        body[2..4].copy_from_slice(&kind.to_le_bytes());
        self.record(record::BOF, &[&body])
    }

    /// The globals substream, whose `BOUNDSHEET` names `sheet`, which starts right after it.
    fn globals(&mut self, globals: &Globals, sheet: &str) -> Result<(), IngestError> {
        self.bof(GLOBALS)?;
        if globals.date1904 {
            self.record(record::DATE1904, &[&1u16.to_le_bytes()])?;
        }
        // The number formats cell formats use, renumbered from 164 (the first wins when two
        // have one index); past 382, the rest are left out.
        let used: std::collections::HashSet<u16> = globals.xfs.iter().copied().collect();
        let mut renumbered = std::collections::HashMap::new();
        let mut text = Vec::new();
        for (index, format) in &globals.formats {
            let number = FIRST_CUSTOM_FORMAT + renumbered.len() as u16;
            if !used.contains(index)
                || renumbered.contains_key(index)
                || number > LAST_CUSTOM_FORMAT
                || format.matches('[').count() > MAX_FORMAT_BRACKETS
            {
                continue;
            }
            let Some((count, wide)) = encode(format, &mut text) else { continue };
            self.record(record::FORMAT, &[&number.to_le_bytes(), &count.to_le_bytes(), &[u8::from(wide)], &text])?;
            renumbered.insert(*index, number);
        }
        for format in &globals.xfs {
            let format = match renumbered.get(format) {
                Some(&number) => number,
                // The built-in date formats of East Asian and Thai Excel (as xlrd reads them),
                // which calamine does not know: its built-in date format.
                None if matches!(format, 27..=36 | 50..=58 | 71..=81) => BUILT_IN_DATE,
                // A custom format without its FORMAT record (or left out): general.
                None if *format >= FIRST_CUSTOM_FORMAT => 0,
                None => *format,
            };
            let mut body = [0u8; 20];
            body[2..4].copy_from_slice(&format.to_le_bytes());
            self.record(record::XF, &[&body])?;
        }
        let Some((count, wide)) = encode(sheet, &mut text) else {
            unreachable!("a sheet name read from a BOUNDSHEET record has at most 255 UTF-16 units")
        };
        let count = u8::try_from(count).expect("a sheet name has at most 255 characters");
        // The sheet's BOF follows this record and the EOF.
        let at = self.footprint.stream_bytes + 4 + 8 + text.len() as u64 + 4;
        let at = u32::try_from(at).map_err(|_| damaged("it has too many formats"))?;
        self.record(record::BOUNDSHEET, &[&at.to_le_bytes(), &[0, WORKSHEET_SHEET, count, u8::from(wide)], &text])?;
        self.record(record::EOF, &[])?;
        self.check()
    }

    fn sheet_start(&mut self) -> Result<(), IngestError> {
        self.bof(WORKSHEET)
    }

    fn sheet_end(&mut self) -> Result<(), IngestError> {
        self.record(record::EOF, &[])?;
        self.check()?;
        self.out.flush().map_err(io)
    }

    /// Counts a cell at `row`, `column` holding `text_bytes` of text.
    fn cell(&mut self, row: u16, column: u16, text_bytes: u64) -> Result<(), IngestError> {
        let f = &mut self.footprint;
        if f.cells == 0 {
            f.rows = (row, row);
            f.columns = (column, column);
        }
        f.cells += 1;
        f.rows = (f.rows.0.min(row), f.rows.1.max(row));
        f.columns = (f.columns.0.min(column), f.columns.1.max(column));
        f.text_bytes += text_bytes;
        let width = usize::from(f.columns.1 - f.columns.0) + 1;
        if width > self.limits.max_columns {
            return Err(IngestError::TooManyColumns { found: width, max: self.limits.max_columns });
        }
        self.check()
    }

    fn check(&self) -> Result<(), IngestError> {
        if self.footprint.bytes() > MAX_XLS_MEMORY_BYTES {
            return Err(IngestError::TooLarge(format!(
                "the .xls sheet would take more than {} MiB of memory to read (its cells span {} rows and {} columns): save it as .xlsx or CSV",
                MAX_XLS_MEMORY_BYTES >> 20,
                u32::from(self.footprint.rows.1 - self.footprint.rows.0) + 1,
                u32::from(self.footprint.columns.1 - self.footprint.columns.0) + 1,
            )));
        }
        Ok(())
    }

    fn number(&mut self, [row, column, format]: [u16; 3], value: [u8; 8]) -> Result<(), IngestError> {
        self.cell(row, column, 0)?;
        self.record(record::NUMBER, &[&row.to_le_bytes(), &column.to_le_bytes(), &format.to_le_bytes(), &value])
    }

    fn rk(&mut self, [row, column, format]: [u16; 3], rk: u32) -> Result<(), IngestError> {
        self.cell(row, column, 0)?;
        self.record(record::RK, &[&row.to_le_bytes(), &column.to_le_bytes(), &format.to_le_bytes(), &rk.to_le_bytes()])
    }

    fn bool_err(&mut self, [row, column, format]: [u16; 3], value: u8, is_error: u8) -> Result<(), IngestError> {
        self.cell(row, column, 0)?;
        self.record(
            record::BOOLERR,
            &[&row.to_le_bytes(), &column.to_le_bytes(), &format.to_le_bytes(), &[value, is_error]],
        )
    }

    /// A text cell (none for an empty text, as calamine reads an empty shared string).
    fn label(&mut self, [row, column, format]: [u16; 3], value: &str) -> Result<(), IngestError> {
        if value.is_empty() {
            return Ok(());
        }
        let mut text = std::mem::take(&mut self.scratch);
        let Some((count, wide)) = encode(value, &mut text) else {
            return Err(IngestError::Invalid(format!(
                "a cell (row {}, column {}) holds a text too long to read from an .xls (more than {MAX_WIDE_TEXT_UNITS} characters, when any is beyond Latin-1)",
                u32::from(row) + 1,
                u32::from(column) + 1
            )));
        };
        // calamine reserves the character count, then appends the decoded text (a text longer
        // than that doubles the reservation, at least).
        let (chars, bytes) = (u64::from(count), value.len() as u64);
        self.cell(row, column, if bytes > chars { bytes.max(2 * chars) } else { chars })?;
        self.record(
            record::LABEL,
            &[
                &row.to_le_bytes(),
                &column.to_le_bytes(),
                &format.to_le_bytes(),
                &count.to_le_bytes(),
                &[u8::from(wide)],
                &text,
            ],
        )?;
        self.scratch = text;
        Ok(())
    }
}

/// `text` as BIFF8 characters into `out`: one byte each when every character is below U+0100,
/// else UTF-16LE. Returns the character count and whether the text is wide; `None` when it does
/// not fit a record.
fn encode(text: &str, out: &mut Vec<u8>) -> Option<(u16, bool)> {
    out.clear();
    if text.chars().all(|c| u32::from(c) < 0x100) {
        out.extend(text.chars().map(|c| u32::from(c) as u8));
        let count = u16::try_from(out.len()).ok().filter(|&n| usize::from(n) <= u16::MAX as usize - 9)?;
        return Some((count, false));
    }
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let units = out.len() / 2;
    (units <= MAX_WIDE_TEXT_UNITS).then_some((units as u16, true))
}
