//! The records of a CSV text, read from a byte offset: the parser behind every block's parse.
//!
//! Most lines of a CSV file hold no quote character and no carriage return but their
//! terminator's. Such a line is split at the delimiter where it lies in the read buffer (no
//! copy, eight bytes at a time); any other record is handed to csv-core, the csv crate's own
//! parser, with the csv crate's reader settings (the dialect's delimiter, `"` quotes with
//! doubled-quote escapes, CR, LF or CRLF terminators, blank lines skipped, any number of
//! fields). So every record and field is the one the csv crate's reader gives, and every
//! position too, up to the terminators before it (see below); a property test compares the
//! two on random texts. One difference: csv-core
//! drops a UTF-8 byte-order mark at the very start of its input, which here is not the start
//! of the file (the file's own mark is skipped before the first record), so it is kept as data.
//!
//! Positions are byte offsets from where reading began: a record's position is where the read
//! that returned it started, before any blank line it skipped (as with the csv crate, whose
//! position may also be the `\n` of the CRLF that ended the record before; `line_at` skips
//! such terminators).

use std::io::Read;
#[cfg(test)]
use std::path::Path;

use csv_core::{ReadRecordResult, ReaderBuilder};

use super::growing::{TextFile, TextReader};

/// Bytes read from the file at a time (the buffer grows for a longer record).
const READ_BYTES: usize = 1 << 20;

/// Bounds on one record, checked while it is read, so that a hostile line (hundreds of
/// megabytes of delimiters, or of text without a line break) is refused before the reader
/// holds more than about these.
#[derive(Debug, Clone, Copy)]
pub struct RecordLimits {
    pub max_fields: usize,
    /// Bytes of one record's text (its line, or its fields after unquoting).
    pub max_bytes: usize,
}

/// Why a record could not be read. `byte` is where the record's read began, from where
/// reading began.
#[derive(Debug)]
pub enum RecordError {
    NotUtf8 { byte: u64 },
    TooManyFields { byte: u64, max: usize },
    TooLong { byte: u64, max: usize },
    Io(std::io::Error),
}

/// One record: its fields, borrowed from the reader until the next read.
pub struct Record<'a> {
    position: u64,
    text: &'a str,
    /// Each field's byte range in `text`.
    bounds: &'a [(usize, usize)],
}

impl<'a> Record<'a> {
    /// Bytes from where reading began to where this record's read began.
    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn len(&self) -> usize {
        self.bounds.len()
    }

    /// The bytes the fields are cut from: the line itself (delimiters included) or, for a
    /// record with quotes, the fields without quotes and escapes, one after the other.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        let text = self.text;
        self.bounds.iter().map(move |&(from, to)| &text[from..to])
    }
}

/// Reads the records of a text file from an offset to the end of the file.
pub struct Records {
    file: TextReader,
    delimiter: u8,
    limits: RecordLimits,
    /// Offset from the reading start of `buf[0]`.
    base: u64,
    buf: Vec<u8>,
    /// Bytes of `buf` read from the file.
    filled: usize,
    /// The next unparsed byte of `buf`.
    pos: usize,
    eof: bool,
    read_bytes: usize,
    core: csv_core::Reader,
    /// Fields of a record parsed by csv-core, and where each ends.
    out: Vec<u8>,
    ends: Vec<usize>,
    bounds: Vec<(usize, usize)>,
}

impl Records {
    #[cfg(test)]
    pub fn open(path: &Path, offset: u64, delimiter: u8, limits: RecordLimits) -> std::io::Result<Self> {
        Self::open_with(path, offset, delimiter, limits, READ_BYTES)
    }

    /// The records of `text` (complete or still being written) from `offset` on.
    pub fn of_text(text: &TextFile, offset: u64, delimiter: u8, limits: RecordLimits) -> std::io::Result<Self> {
        Self::reading(text.open_at(offset)?, delimiter, limits, READ_BYTES)
    }

    /// As [`Records::open`], reading `read_bytes` at a time (small values exercise refills in tests).
    #[cfg(test)]
    pub fn open_with(
        path: &Path,
        offset: u64,
        delimiter: u8,
        limits: RecordLimits,
        read_bytes: usize,
    ) -> std::io::Result<Self> {
        Self::reading(TextFile::complete(path).open_at(offset)?, delimiter, limits, read_bytes)
    }

    fn reading(file: TextReader, delimiter: u8, limits: RecordLimits, read_bytes: usize) -> std::io::Result<Self> {
        let mut core = ReaderBuilder::new().delimiter(delimiter).double_quote(true).build();
        // A first (blank) line marks the input as started, so that csv-core does not take a
        // byte-order mark off the first record it is given.
        let _ = core.read_record(b"\n", &mut [], &mut []);
        Ok(Self {
            file,
            delimiter,
            limits,
            base: 0,
            buf: vec![0; read_bytes.max(1)],
            filled: 0,
            pos: 0,
            eof: false,
            read_bytes: read_bytes.max(1),
            core,
            out: vec![0; 1024],
            ends: vec![0; 64],
            bounds: Vec::new(),
        })
    }

    /// Bytes from where reading began to the first byte not yet parsed (just after the last
    /// record's terminator, or inside it after a lone CR).
    pub fn consumed(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The next record, or `None` at the end of the text.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, RecordError> {
        let position = self.base + self.pos as u64;
        // Bytes of buf from here on have not been searched for a line's end.
        let mut search = self.pos;
        loop {
            // A line's end, or the first byte that needs csv-core: a quote or a lone CR.
            let hit = memchr::memchr3(b'\n', b'"', b'\r', &self.buf[search..self.filled]).map(|i| search + i);
            let (line_end, next) = match hit {
                None if !self.eof => {
                    if self.filled - self.pos > self.limits.max_bytes {
                        return Err(RecordError::TooLong { byte: position, max: self.limits.max_bytes });
                    }
                    search = self.searched_after_refill(self.filled)?;
                    continue;
                }
                None if self.pos == self.filled => return Ok(None),
                None => (self.filled, self.filled),
                Some(i) if self.buf[i] == b'\n' => (i, i + 1),
                Some(i) if self.buf[i] == b'\r' && i + 1 == self.filled && !self.eof => {
                    search = self.searched_after_refill(i)?;
                    continue;
                }
                Some(i) if self.buf[i] == b'\r' && self.buf.get(i + 1) == Some(&b'\n') && i + 1 < self.filled => {
                    (i, i + 2)
                }
                Some(_) => return self.parse_with_core(position),
            };
            let line_start = self.pos;
            self.pos = next;
            search = next;
            if line_end == line_start {
                continue; // a blank line
            }
            let line = &self.buf[line_start..line_end];
            if line.len() > self.limits.max_bytes {
                return Err(RecordError::TooLong { byte: position, max: self.limits.max_bytes });
            }
            self.bounds.clear();
            if !split_fields(line, self.delimiter, self.limits.max_fields, &mut self.bounds) {
                return Err(RecordError::TooManyFields { byte: position, max: self.limits.max_fields });
            }
            let text = simdutf8::basic::from_utf8(line).map_err(|_| RecordError::NotUtf8 { byte: position })?;
            return Ok(Some(Record { position, text, bounds: &self.bounds }));
        }
    }

    /// Refills the buffer; returns where searching resumes, given that `buf[pos..search]` was
    /// searched before (the refill moves the unparsed bytes to the front).
    fn searched_after_refill(&mut self, search: usize) -> Result<usize, RecordError> {
        let searched = search - self.pos;
        self.refill()?;
        Ok(searched)
    }

    /// Parses the record at `pos` with csv-core (quoted fields, lone carriage returns).
    fn parse_with_core(&mut self, position: u64) -> Result<Option<Record<'_>>, RecordError> {
        let (mut consumed, mut written, mut ended) = (0usize, 0usize, 0usize);
        loop {
            let start = self.pos + consumed;
            if start == self.filled && !self.eof {
                // csv-core has taken what it read: only the rest needs keeping.
                self.pos = start;
                consumed = 0;
                self.refill()?;
                continue;
            }
            let input = &self.buf[start..self.filled];
            let (result, read, out, ends) =
                self.core.read_record(input, &mut self.out[written..], &mut self.ends[ended..]);
            consumed += read;
            written += out;
            ended += ends;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    if written >= self.limits.max_bytes {
                        return Err(RecordError::TooLong { byte: position, max: self.limits.max_bytes });
                    }
                    let len = self.out.len();
                    self.out.resize(len * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    if ended >= self.limits.max_fields {
                        return Err(RecordError::TooManyFields { byte: position, max: self.limits.max_fields });
                    }
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                ReadRecordResult::Record => {
                    self.pos += consumed;
                    if ended > self.limits.max_fields {
                        return Err(RecordError::TooManyFields { byte: position, max: self.limits.max_fields });
                    }
                    if written > self.limits.max_bytes {
                        return Err(RecordError::TooLong { byte: position, max: self.limits.max_bytes });
                    }
                    // Each field must be UTF-8 on its own (the fields joined could be valid
                    // where one of them is not, cut inside a character).
                    let not_utf8 = || RecordError::NotUtf8 { byte: position };
                    let text = simdutf8::basic::from_utf8(&self.out[..written]).map_err(|_| not_utf8())?;
                    self.bounds.clear();
                    let mut from = 0;
                    for &to in &self.ends[..ended] {
                        if !text.is_char_boundary(to) {
                            return Err(not_utf8());
                        }
                        self.bounds.push((from, to));
                        from = to;
                    }
                    return Ok(Some(Record { position, text, bounds: &self.bounds }));
                }
                ReadRecordResult::End => {
                    self.pos += consumed;
                    return Ok(None);
                }
            }
        }
    }

    /// Moves the unparsed bytes to the front of the buffer and reads more after them (the
    /// buffer doubles when it is full of one unfinished record).
    fn refill(&mut self) -> Result<(), RecordError> {
        self.buf.copy_within(self.pos..self.filled, 0);
        self.base += self.pos as u64;
        self.filled -= self.pos;
        self.pos = 0;
        if self.buf.len() - self.filled < self.read_bytes {
            // Doubling, but not far past the longest record accepted.
            let cap = self.limits.max_bytes.saturating_add(2 * self.read_bytes);
            let grown = (self.buf.len() * 2).min(cap).max(self.filled + self.read_bytes);
            self.buf.resize(grown, 0);
        }
        let want = self.filled + self.read_bytes;
        let n = loop {
            match self.file.read(&mut self.buf[self.filled..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(RecordError::Io(e)),
            }
        };
        self.filled += n;
        self.eof = n == 0;
        Ok(())
    }
}

/// Appends the byte range of every field of `line` (split at `delimiter`) to `bounds`; false
/// (stopping early) when there are more than `max_fields`.
///
/// Eight bytes at a time: the delimiter's positions in a word are the high bits of a mask
/// computed without carries between bytes, so no byte's result depends on another's. (On the
/// benchmark's lines this took 83 ms per 200 MB against 108 ms for `memchr_iter`, 137 ms for
/// a byte loop, and 164-186 ms for a variant writing eight positions per word without
/// branches.)
fn split_fields(line: &[u8], delimiter: u8, max_fields: usize, bounds: &mut Vec<(usize, usize)>) -> bool {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let pattern = u64::from_ne_bytes([delimiter; 8]);
    let mut from = 0;
    let mut chunks = line.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of eight bytes"));
        let x = word ^ pattern; // zero bytes where the delimiter is
        let mut found = !(((x & LOW) + LOW) | x | LOW);
        while found != 0 {
            let at = offset + (found.trailing_zeros() / 8) as usize;
            bounds.push((from, at));
            from = at + 1;
            found &= found - 1;
        }
        // At most eight fields past the limit are kept before this check.
        if bounds.len() >= max_fields {
            return false;
        }
        offset += 8;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        if b == delimiter {
            bounds.push((from, offset + i));
            from = offset + i + 1;
        }
    }
    bounds.push((from, line.len()));
    bounds.len() <= max_fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    use proptest::prelude::*;

    const UNLIMITED: RecordLimits = RecordLimits { max_fields: usize::MAX, max_bytes: usize::MAX };

    fn text_file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        f
    }

    /// Every record as (position with the terminators after it skipped, fields), read by ours.
    fn ours(path: &Path, offset: u64, delimiter: u8, read_bytes: usize, content: &[u8]) -> Vec<(u64, Vec<String>)> {
        let mut records = Records::open_with(path, offset, delimiter, UNLIMITED, read_bytes).unwrap();
        let mut out = Vec::new();
        while let Some(r) = records.next_record().unwrap() {
            out.push((content_start(content, offset + r.position()), r.iter().map(str::to_string).collect()));
        }
        out
    }

    /// The same, read by the csv crate's reader as the ingest built it.
    fn theirs(content: &[u8], offset: usize, delimiter: u8) -> Vec<(u64, Vec<String>)> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .double_quote(true)
            .from_reader(&content[offset..]);
        let mut record = csv::StringRecord::new();
        let mut out = Vec::new();
        while reader.read_record(&mut record).unwrap() {
            let at = offset as u64 + record.position().unwrap().byte();
            out.push((content_start(content, at), record.iter().map(str::to_string).collect()));
        }
        out
    }

    /// The first offset at or after `at` that is not a line terminator.
    fn content_start(content: &[u8], at: u64) -> u64 {
        at + content[at as usize..].iter().take_while(|&&b| b == b'\r' || b == b'\n').count() as u64
    }

    #[test]
    fn fields_are_split_at_every_delimiter_of_long_and_short_lines() {
        let mut bounds = Vec::new();
        for line in [
            "",
            "a",
            ",",
            "a,b",
            ",,,,,,,,,,,,,,,,,",
            "abcdefgh,ijklmnop,",
            "12345678,",
            "é,ü,ß|x",
            &",|".repeat(40),
            &"ab,".repeat(50),
        ] {
            for delimiter in [b',', b'|'] {
                bounds.clear();
                assert!(split_fields(line.as_bytes(), delimiter, usize::MAX, &mut bounds));
                let fields: Vec<&str> = bounds.iter().map(|&(a, b)| &line[a..b]).collect();
                assert_eq!(fields, line.split(delimiter as char).collect::<Vec<_>>(), "{line:?}");
            }
        }
    }

    #[test]
    fn quoted_fields_crlf_blank_lines_and_a_missing_final_terminator_read_as_the_csv_crate_reads_them() {
        let content = "id,text\r\n1,\"a, \"\"quoted\"\"\r\nvalue\"\r\n\r\n\n2,plain\r3,last";
        let f = text_file(content.as_bytes());
        for read_bytes in [1, 2, 3, 7, 64, 1 << 20] {
            assert_eq!(
                ours(f.path(), 0, b',', read_bytes, content.as_bytes()),
                theirs(content.as_bytes(), 0, b','),
                "{read_bytes}"
            );
        }
        let records = ours(f.path(), 0, b',', 1 << 20, content.as_bytes());
        assert_eq!(records[1].1, vec!["1", "a, \"quoted\"\r\nvalue"]);
        assert_eq!(records[3].1, vec!["3", "last"]);
    }

    #[test]
    fn a_byte_order_mark_inside_the_text_is_data() {
        let content = "a\n\u{feff}b,c\n".as_bytes();
        let f = text_file(content);
        assert_eq!(ours(f.path(), 2, b',', 64, content)[0].1, vec!["\u{feff}b", "c"]);
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_with_the_record_position() {
        let content = b"a,b\nc,\xff\n";
        let f = text_file(content);
        let mut records = Records::open(f.path(), 0, b',', UNLIMITED).unwrap();
        assert!(records.next_record().unwrap().is_some());
        match records.next_record() {
            Err(RecordError::NotUtf8 { byte }) => assert_eq!(byte, 4),
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    /// The first error of reading every record of `content` with `limits`.
    fn first_error(content: &[u8], limits: RecordLimits, read_bytes: usize) -> Option<RecordError> {
        let f = text_file(content);
        let mut records = Records::open_with(f.path(), 0, b',', limits, read_bytes).unwrap();
        loop {
            match records.next_record() {
                Ok(Some(_)) => {}
                Ok(None) => return None,
                Err(e) => return Some(e),
            }
        }
    }

    #[test]
    fn a_record_with_more_fields_than_the_limit_is_refused_where_it_begins() {
        let limits = RecordLimits { max_fields: 4, max_bytes: 1 << 20 };
        for content in
            ["a,b\n1,2,3,4\n1,2,3,4,5\n", "a,b\n1,2,3,4\n\"1\",2,3,4,5\n", "a,b\n1,2,3,4\n,,,,,,,,,,,,,,,,,,,,,,\n"]
        {
            match first_error(content.as_bytes(), limits, 64) {
                Some(RecordError::TooManyFields { byte, max: 4 }) => assert_eq!(byte, 12, "{content:?}"),
                other => panic!("{content:?}: {other:?}"),
            }
        }
        assert!(first_error(b"1,2,3,4\n\"1\",2,3,4\n", limits, 64).is_none(), "four fields are allowed");
    }

    #[test]
    fn a_record_longer_than_the_limit_is_refused_before_it_is_read_whole() {
        let limits = RecordLimits { max_fields: 100, max_bytes: 1_000 };
        let long_line = format!("a,b\n{}\n", "x".repeat(100_000));
        let long_quoted = format!("a,b\n\"{}\"\n", "x\n".repeat(50_000));
        for content in [long_line, long_quoted] {
            let f = text_file(content.as_bytes());
            let mut records = Records::open_with(f.path(), 0, b',', limits, 256).unwrap();
            assert!(records.next_record().unwrap().is_some());
            match records.next_record() {
                Err(RecordError::TooLong { byte: 4, max: 1_000 }) => {}
                other => panic!("{:?}", other.map(|r| r.map(|r| r.len()))),
            }
            assert!(records.buf.len() < 4_000, "the buffer held {} bytes", records.buf.len());
        }
    }

    #[test]
    fn a_quoted_record_whose_fields_are_not_utf8_one_by_one_is_refused() {
        // Joined without the delimiter and quotes, the two fields would read as "é\"".
        assert!(matches!(
            first_error(b"\xC3,\xA9\"\"\"\n", RecordLimits { max_fields: 10, max_bytes: 100 }, 64),
            Some(RecordError::NotUtf8 { byte: 0 })
        ));
    }

    proptest! {
        #[test]
        fn records_and_positions_equal_the_csv_crates_on_random_texts(
            pieces in prop::collection::vec(prop::sample::select(vec!["a", "bc", ",", ";", "\"", "\r", "\n", "\r\n", " ", "é", "12345678", ""]), 0..120),
            delimiter in prop::sample::select(vec![b',', b';']),
            read_bytes in 1usize..40,
            offset_choice in 0usize..4,
        ) {
            let content = pieces.concat();
            let bytes = content.as_bytes();
            // Start at the text's start or just after one of its first line feeds, as blocks do.
            let offset = std::iter::once(0)
                .chain(bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
                .nth(offset_choice)
                .unwrap_or(0);
            let f = text_file(bytes);
            prop_assert_eq!(ours(f.path(), offset as u64, delimiter, read_bytes, bytes), theirs(bytes, offset, delimiter));
        }
    }
}
