//! Splitting a CSV text into blocks that can be parsed on several threads, and proving the
//! split right.
//!
//! A block boundary is placed just after a line feed near each multiple of the block size.
//! A line feed may sit inside a quoted field, so a boundary is only a guess until the parser
//! of the block before it, which started at a proven record start, reaches it: the boundary
//! is **proven** when that parser's next record begins at it (after nothing but line
//! terminators, which the parser skips as empty lines). The first block starts at a proven
//! record start, so when every boundary is proven, every block was parsed exactly as one
//! sequential parse would have parsed it. A reader that cannot prove a boundary falls back to
//! one sequential parse; nothing a parallel parse produced is used.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A byte range `[start, end)` of the text file that (once proven) starts at a record start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub start: u64,
    pub end: u64,
    /// Where the run of line terminators just before `end` begins (`end` for the last block):
    /// a record that begins at or after it belongs to the next block.
    pub next_from: u64,
}

impl Block {
    pub fn is_last(&self, text_end: u64) -> bool {
        self.end == text_end
    }
}

/// How the block's parse ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockEnd {
    /// The next record begins at the block's end (or the text ended with the last block).
    Proven,
    /// The parse ran past the guessed boundary (it was inside a quoted field) or the text
    /// ended inside the block: the split cannot be used.
    Unproven,
}

/// Bytes read around a guessed boundary to find the next line feed.
const PROBE: usize = 64 * 1024;

/// Splits `[from, to)` into blocks of about `block_bytes`, each starting just after a line
/// feed (a guess; see the module documentation). One block when the text is small or has no
/// line feed past the first block.
pub fn split(path: &Path, from: u64, to: u64, block_bytes: u64) -> std::io::Result<Vec<Block>> {
    let file = File::open(path)?;
    let mut starts = vec![from];
    let mut target = from.saturating_add(block_bytes.max(1));
    while target < to {
        match next_line_start(&file, target, to)? {
            Some(start) if start < to => {
                starts.push(start);
                target = start.saturating_add(block_bytes.max(1));
            }
            _ => break,
        }
    }
    starts.push(to);
    let mut blocks: Vec<Block> = Vec::with_capacity(starts.len());
    let mut start = from;
    for &end in &starts[1..] {
        if end == to {
            blocks.push(Block { start, end, next_from: to });
            break;
        }
        // A boundary after a run of blank lines longer than the probe is dropped (the block
        // goes on to the next one): where the run begins is not known.
        if let Some(next_from) = terminator_run_start(&file, start, end)? {
            blocks.push(Block { start, end, next_from });
            start = end;
        }
    }
    Ok(blocks)
}

/// The offset just after the first line feed at or after `at`, if any before `to`.
fn next_line_start(file: &File, mut at: u64, to: u64) -> std::io::Result<Option<u64>> {
    let mut buf = vec![0u8; PROBE];
    while at < to {
        let want = PROBE.min((to - at) as usize);
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(Some(at + i as u64 + 1));
        }
        at += n as u64;
    }
    Ok(None)
}

/// The start of the run of `\r`/`\n` bytes that ends at `end`, or `None` when the run
/// reaches back to `floor` or further than the probe.
fn terminator_run_start(file: &File, floor: u64, end: u64) -> std::io::Result<Option<u64>> {
    let from = end.saturating_sub(PROBE as u64).max(floor);
    let mut buf = vec![0u8; (end - from) as usize];
    file.read_exact_at(&mut buf, from)?;
    let run = buf.iter().rev().take_while(|&&b| b == b'\r' || b == b'\n').count();
    Ok((run < buf.len()).then(|| end - run as u64))
}

/// Whether a record that begins at `record_start` (absolute offset) ends the block: `None`
/// while it is still the block's own record, `Some(end)` when it belongs to the next block.
pub fn crossing(block: &Block, record_start: u64) -> Option<BlockEnd> {
    if record_start < block.next_from {
        None
    } else if record_start <= block.end {
        Some(BlockEnd::Proven)
    } else {
        Some(BlockEnd::Unproven)
    }
}

const READ_BUFFER: usize = 1 << 20;

/// The number of line feeds in `[from, to)` of the file (to turn a line number within a
/// block into one within the file; only on the error path).
pub fn line_feeds(path: &Path, from: u64, to: u64) -> std::io::Result<u64> {
    let mut reader = BufReader::with_capacity(READ_BUFFER, File::open(path)?);
    reader.seek(SeekFrom::Start(from))?;
    let mut rest = reader.take(to.saturating_sub(from));
    let mut buf = vec![0u8; READ_BUFFER];
    let mut count = 0u64;
    loop {
        let n = rest.read(&mut buf)?;
        if n == 0 {
            return Ok(count);
        }
        count += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

/// The line (from 1) on which the record at byte `at` begins its text: line feeds are counted
/// from `from` to the first byte at or after `at` that is not a line terminator (a reader
/// leaves the `\n` of a CRLF, and blank lines, for the next record to skip). Only on the
/// error path.
pub fn line_at(path: &Path, from: u64, at: u64) -> std::io::Result<u64> {
    let file = File::open(path)?;
    let mut content = at;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = file.read_at(&mut buf, content)?;
        let run = buf[..n].iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
        content += run as u64;
        if n == 0 || run < n {
            break;
        }
    }
    Ok(1 + line_feeds(path, from, content)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn text_file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        f
    }

    #[test]
    fn blocks_cover_the_text_and_start_after_line_feeds() {
        let content = b"a,b\n1,2\n3,4\n5,6\n7,8\n";
        let f = text_file(content);
        let blocks = split(f.path(), 4, content.len() as u64, 5).unwrap();
        assert_eq!(blocks.first().unwrap().start, 4);
        assert_eq!(blocks.last().unwrap().end, content.len() as u64);
        for pair in blocks.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(content[pair[1].start as usize - 1], b'\n');
            assert_eq!(pair[0].next_from, pair[0].end - 1);
        }
        assert_eq!(blocks.len(), 2, "{blocks:?}");
    }

    #[test]
    fn the_run_of_crlf_terminators_before_a_boundary_is_skipped() {
        let content = b"1,2\r\n3,4\r\n";
        let f = text_file(content);
        let blocks = split(f.path(), 0, content.len() as u64, 2).unwrap();
        assert_eq!(blocks[0], Block { start: 0, end: 5, next_from: 3 });
        assert_eq!(crossing(&blocks[0], 2), None);
        assert_eq!(crossing(&blocks[0], 4), Some(BlockEnd::Proven));
        assert_eq!(crossing(&blocks[0], 6), Some(BlockEnd::Unproven));
    }

    #[test]
    fn a_boundary_inside_a_run_of_blank_lines_reaching_the_block_start_is_dropped() {
        let content = b"\n\n\n\n\n\n1,2\n";
        let f = text_file(content);
        let blocks = split(f.path(), 0, content.len() as u64, 2).unwrap();
        assert_eq!(blocks, vec![Block { start: 0, end: 10, next_from: 10 }]);
    }

    #[test]
    fn a_text_without_line_feeds_is_one_block() {
        let content = b"1,2\r3,4\r5,6";
        let f = text_file(content);
        let blocks = split(f.path(), 0, content.len() as u64, 2).unwrap();
        assert_eq!(blocks, vec![Block { start: 0, end: 11, next_from: 11 }]);
    }

    #[test]
    fn a_record_after_a_crlf_begins_on_the_line_after_it() {
        let content = b"a,b\r\n1,2\r\n\r\n3,4\r\n";
        let f = text_file(content);
        // A reader stops after the \r: the next record's position is the \n before it.
        assert_eq!(line_at(f.path(), 0, 4).unwrap(), 2);
        assert_eq!(line_at(f.path(), 0, 9).unwrap(), 4);
        assert_eq!(line_at(f.path(), 0, 0).unwrap(), 1);
    }

    #[test]
    fn line_feeds_are_counted_in_a_range() {
        let content = b"a\nb\n\"c\nd\"\ne";
        let f = text_file(content);
        assert_eq!(line_feeds(f.path(), 0, content.len() as u64).unwrap(), 4);
        assert_eq!(line_feeds(f.path(), 2, 4).unwrap(), 1);
    }
}
