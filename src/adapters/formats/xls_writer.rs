//! The workbook `xls_guard` writes for calamine, and what calamine will hold reading it
//! ([`Footprint`]).

use std::io::Write;

use super::xls_guard::Globals;
use super::xls_records::{BIFF8, GLOBALS, WORKSHEET, WORKSHEET_SHEET, damaged, io, record};
use crate::ports::tables::{IngestError, IngestLimits};

/// Most memory calamine may need to hold the rewritten workbook (counted as the module says).
pub const MAX_XLS_MEMORY_BYTES: u64 = 256 << 20;
/// A number format with more `[` than this is left out (calamine counts them in a byte).
pub const MAX_FORMAT_BRACKETS: usize = 200;
/// calamine reads number formats of these indexes only (`parse_format`): the rewritten
/// workbook numbers the formats its cell formats use from 164 on.
const FIRST_CUSTOM_FORMAT: u16 = 164;
const LAST_CUSTOM_FORMAT: u16 = 382;
/// The longest text a `LABEL` record of the rewritten workbook holds, in UTF-16 code units
/// (a record holds at most 65,535 bytes: 9 of position, format and length, 2 a unit).
const MAX_WIDE_TEXT_UNITS: usize = (u16::MAX as usize - 9) / 2;
/// The built-in number format `m/d/yy` (a date for calamine).
pub(super) const BUILT_IN_DATE: u16 = 14;

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
pub(super) const CELL_BYTES: u64 = std::mem::size_of::<calamine::Cell<calamine::Data>>() as u64;
pub(super) const GRID_BYTES: u64 = std::mem::size_of::<calamine::Data>() as u64;

impl Footprint {
    pub(super) fn grid_cells(&self) -> u64 {
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
pub(super) struct Writer<'a, W: Write> {
    pub(super) out: W,
    pub(super) footprint: Footprint,
    pub(super) limits: &'a IngestLimits,
    /// A text's bytes as written (reused).
    pub(super) scratch: Vec<u8>,
}

impl<W: Write> Writer<'_, W> {
    pub(super) fn record(&mut self, typ: u16, body: &[&[u8]]) -> Result<(), IngestError> {
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

    pub(super) fn bof(&mut self, kind: u16) -> Result<(), IngestError> {
        let mut body = [0u8; 16];
        body[..2].copy_from_slice(&BIFF8.to_le_bytes());
        body[2..4].copy_from_slice(&kind.to_le_bytes());
        self.record(record::BOF, &[&body])
    }

    /// The globals substream, whose `BOUNDSHEET` names `sheet`, which starts right after it.
    pub(super) fn globals(&mut self, globals: &Globals, sheet: &str) -> Result<(), IngestError> {
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

    pub(super) fn sheet_start(&mut self) -> Result<(), IngestError> {
        self.bof(WORKSHEET)
    }

    pub(super) fn sheet_end(&mut self) -> Result<(), IngestError> {
        self.record(record::EOF, &[])?;
        self.check()?;
        self.out.flush().map_err(io)
    }

    /// Counts a cell at `row`, `column` holding `text_bytes` of text.
    pub(super) fn cell(&mut self, row: u16, column: u16, text_bytes: u64) -> Result<(), IngestError> {
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

    pub(super) fn check(&self) -> Result<(), IngestError> {
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

    pub(super) fn number(&mut self, [row, column, format]: [u16; 3], value: [u8; 8]) -> Result<(), IngestError> {
        self.cell(row, column, 0)?;
        self.record(record::NUMBER, &[&row.to_le_bytes(), &column.to_le_bytes(), &format.to_le_bytes(), &value])
    }

    pub(super) fn rk(&mut self, [row, column, format]: [u16; 3], rk: u32) -> Result<(), IngestError> {
        self.cell(row, column, 0)?;
        self.record(record::RK, &[&row.to_le_bytes(), &column.to_le_bytes(), &format.to_le_bytes(), &rk.to_le_bytes()])
    }

    pub(super) fn bool_err(
        &mut self,
        [row, column, format]: [u16; 3],
        value: u8,
        is_error: u8,
    ) -> Result<(), IngestError> {
        self.cell(row, column, 0)?;
        self.record(
            record::BOOLERR,
            &[&row.to_le_bytes(), &column.to_le_bytes(), &format.to_le_bytes(), &[value, is_error]],
        )
    }

    /// A text cell (none for an empty text, as calamine reads an empty shared string).
    pub(super) fn label(&mut self, [row, column, format]: [u16; 3], value: &str) -> Result<(), IngestError> {
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
pub(super) fn encode(text: &str, out: &mut Vec<u8>) -> Option<(u16, bool)> {
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
