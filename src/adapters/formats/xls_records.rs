//! The records of a BIFF8 stream (MS-XLS 2.3) as `xls_guard` reads them: their types, a reader
//! whose every field is checked against its record (texts go on into `CONTINUE` records), and
//! the shared string table.

use std::io::{Read, Seek, SeekFrom};

use super::excel_ingest::MAX_SHARED_STRINGS_BYTES;
use crate::ports::tables::IngestError;

/// BIFF8 record types read or written (MS-XLS 2.3).
pub(super) mod record {
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
pub(super) const BIFF8: u16 = 0x0600;
pub(super) const GLOBALS: u16 = 0x0005;
pub(super) const WORKSHEET: u16 = 0x0010;
/// The `dt` of a `BOUNDSHEET` naming a worksheet.
pub(super) const WORKSHEET_SHEET: u8 = 0;

pub(super) fn damaged(reason: impl std::fmt::Display) -> IngestError {
    IngestError::Invalid(format!("the .xls workbook is damaged: {reason}"))
}

pub(super) fn io(e: std::io::Error) -> IngestError {
    IngestError::Io(e.to_string())
}

/// The records of a BIFF8 stream, read one at a time; the current record's fields are read
/// with a cursor that never passes its end.
pub(super) struct Records<R> {
    input: R,
    len: u64,
    /// Offset of the next record's header.
    next_at: u64,
    /// The next record's type and size, once read.
    peeked: Option<(u16, u16)>,
    typ: u16,
    pub(super) data: Vec<u8>,
    pos: usize,
}

impl<R: Read + Seek> Records<R> {
    pub(super) fn new(input: R, len: u64) -> Self {
        Self { input, len, next_at: 0, peeked: None, typ: 0, data: Vec::new(), pos: 0 }
    }

    /// Goes to the record at `at` (an offset in the stream).
    pub(super) fn seek(&mut self, at: u64) -> Result<(), IngestError> {
        if at >= self.len {
            return Err(damaged(format!("a sheet is said to start at byte {at}, past the workbook's end")));
        }
        self.input.seek(SeekFrom::Start(at)).map_err(io)?;
        self.next_at = at;
        self.peeked = None;
        Ok(())
    }

    pub(super) fn peek(&mut self) -> Result<Option<(u16, u16)>, IngestError> {
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
    pub(super) fn next(&mut self) -> Result<Option<u16>, IngestError> {
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
    pub(super) fn continue_record(&mut self) -> Result<bool, IngestError> {
        if self.peek()?.is_some_and(|(typ, _)| typ == record::CONTINUE) {
            self.next()?;
            return Ok(true);
        }
        Ok(false)
    }

    pub(super) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&[u8], IngestError> {
        if self.remaining() < n {
            return Err(damaged(format!("a record (type 0x{:04X}) is shorter than its fields", self.typ)));
        }
        self.pos += n;
        Ok(&self.data[self.pos - n..self.pos])
    }

    pub(super) fn u8(&mut self) -> Result<u8, IngestError> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, IngestError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub(super) fn u32(&mut self) -> Result<u32, IngestError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Skips `n` bytes, into `CONTINUE` records if need be.
    pub(super) fn skip(&mut self, mut n: usize) -> Result<(), IngestError> {
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
    pub(super) fn chars(&mut self, count: usize, mut wide: bool, out: &mut String) -> Result<(), IngestError> {
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
    pub(super) fn unicode_string(&mut self, out: &mut String) -> Result<(), IngestError> {
        let count = usize::from(self.u16()?);
        let wide = self.u8()? & 1 != 0;
        self.chars(count, wide, out)
    }
}

/// The shared string table, held as one text and where each string ends.
#[derive(Debug, Default)]
pub(super) struct SharedStrings {
    pub(super) text: String,
    pub(super) ends: Vec<usize>,
}

impl SharedStrings {
    pub(super) fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }

    /// Reads an `SST` record and its `CONTINUE`s (MS-XLS 2.4.265): after two counts, strings
    /// (`XLUnicodeRichExtendedString`, 2.5.293) until the records end. A string's header lies
    /// within one record; its characters may go on in the next (see [`Records::chars`]), as
    /// may its formatting runs and phonetic data, which are skipped.
    pub(super) fn read<R: Read + Seek>(records: &mut Records<R>) -> Result<Self, IngestError> {
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
