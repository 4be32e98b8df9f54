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

use std::io::Read;
use std::sync::Mutex;

use super::growing::{TextFile, TextReader};

/// A byte range `[start, end)` of the text file that (once proven) starts at a record start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub start: u64,
    pub end: u64,
    /// Where the run of line terminators just before `end` begins (`end` for the last block):
    /// a record that begins at or after it belongs to the next block.
    pub next_from: u64,
    /// The text ends at `end`.
    pub last: bool,
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

/// Cuts a text into blocks of about `block_bytes`, each starting just after a line feed (a
/// guess; see the module documentation), one after the other as its bytes become available
/// (the text may still be being written: see [`growing`](super::growing)). There is always a
/// first block, the last when the text is small or has no line feed past it.
pub struct Cutter {
    text: TextFile,
    reader: TextReader,
    block_bytes: u64,
    /// Where the next block starts.
    start: u64,
    /// The last boundary found (a boundary may be dropped, so it can be past `start`).
    boundary: u64,
    ended: bool,
    probe: Vec<u8>,
}

impl Cutter {
    /// Cuts `text` from `from` on.
    pub fn new(text: &TextFile, from: u64, block_bytes: u64) -> std::io::Result<Self> {
        let reader = text.open_at(from)?;
        let block_bytes = block_bytes.max(1);
        Ok(Self {
            text: text.clone(),
            reader,
            block_bytes,
            start: from,
            boundary: from,
            ended: false,
            probe: vec![0; PROBE],
        })
    }

    /// The next block, or `None` after the last.
    pub fn next_block(&mut self) -> std::io::Result<Option<Block>> {
        if self.ended {
            return Ok(None);
        }
        loop {
            let target = self.boundary.saturating_add(self.block_bytes);
            let Some(end) = self.next_line_start(target)? else {
                self.ended = true;
                let end = self.text.len()?;
                return Ok(Some(Block { start: self.start, end, next_from: end, last: true }));
            };
            self.boundary = end;
            // A boundary after a run of blank lines longer than the probe is dropped (the
            // block goes on to the next one): where the run begins is not known.
            if let Some(next_from) = self.terminator_run_start(self.start, end)? {
                let block = Block { start: self.start, end, next_from, last: false };
                self.start = end;
                return Ok(Some(block));
            }
        }
    }

    /// The offset just after the first line feed at or after `at`, if a byte of the text
    /// follows it.
    fn next_line_start(&mut self, mut at: u64) -> std::io::Result<Option<u64>> {
        loop {
            let n = self.reader.read_at(&mut self.probe, at)?;
            if n == 0 {
                return Ok(None);
            }
            if let Some(i) = memchr::memchr(b'\n', &self.probe[..n]) {
                let start = at + i as u64 + 1;
                return Ok((self.reader.read_at(&mut [0u8], start)? == 1).then_some(start));
            }
            at += n as u64;
        }
    }

    /// The start of the run of `\r`/`\n` bytes that ends at `end`, or `None` when the run
    /// reaches back to `floor` or further than the probe.
    fn terminator_run_start(&mut self, floor: u64, end: u64) -> std::io::Result<Option<u64>> {
        let from = end.saturating_sub(PROBE as u64).max(floor);
        let buf = &mut self.probe[..(end - from) as usize];
        self.reader.read_exact_at(buf, from)?;
        let run = buf.iter().rev().take_while(|&&b| b == b'\r' || b == b'\n').count();
        Ok((run < buf.len()).then(|| end - run as u64))
    }
}

/// The blocks of a text, cut once as its bytes become available and kept for a pass that is
/// run again. Shared by the workers of a pass: block `k` is cut (waiting for the text to reach
/// it) by the first thread asking for it.
pub struct BlockList {
    cutter: Mutex<Option<Cutter>>,
    cut: Mutex<Vec<Block>>,
}

impl BlockList {
    /// The blocks of `text` from `from` on, of about `block_bytes`.
    pub fn cut(text: &TextFile, from: u64, block_bytes: u64) -> std::io::Result<Self> {
        let cutter = Cutter::new(text, from, block_bytes)?;
        Ok(Self { cutter: Mutex::new(Some(cutter)), cut: Mutex::new(Vec::new()) })
    }

    /// One block (the whole text).
    pub fn single(block: Block) -> Self {
        Self { cutter: Mutex::new(None), cut: Mutex::new(vec![block]) }
    }

    /// Block `k` (from 0), or `None` past the last.
    pub fn get(&self, k: usize) -> std::io::Result<Option<Block>> {
        if let Some(block) = lock(&self.cut).get(k) {
            return Ok(Some(*block));
        }
        let mut cutter = lock(&self.cutter);
        loop {
            if let Some(block) = lock(&self.cut).get(k) {
                return Ok(Some(*block));
            }
            let Some(next) = cutter.as_mut() else { return Ok(None) };
            match next.next_block()? {
                Some(block) => lock(&self.cut).push(block),
                None => *cutter = None,
            }
        }
    }

    /// How many blocks there are, once all are cut.
    pub fn known_len(&self) -> Option<usize> {
        let cutter = lock(&self.cutter);
        cutter.is_none().then(|| lock(&self.cut).len())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every block of a complete text from `from` on (see [`Cutter`]).
#[cfg(test)]
pub fn split(text: &TextFile, from: u64, block_bytes: u64) -> std::io::Result<Vec<Block>> {
    let mut cutter = Cutter::new(text, from, block_bytes)?;
    let mut blocks = Vec::new();
    while let Some(block) = cutter.next_block()? {
        blocks.push(block);
    }
    Ok(blocks)
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

/// The number of line feeds in `[from, to)` of the text (to turn a line number within a
/// block into one within the file; only on the error path).
pub fn line_feeds(text: &TextFile, from: u64, to: u64) -> std::io::Result<u64> {
    let mut rest = text.open_at(from)?.take(to.saturating_sub(from));
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
pub fn line_at(text: &TextFile, from: u64, at: u64) -> std::io::Result<u64> {
    let reader = text.open_at(at)?;
    let mut content = at;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = reader.read_at(&mut buf, content)?;
        let run = buf[..n].iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
        content += run as u64;
        if n == 0 || run < n {
            break;
        }
    }
    Ok(1 + line_feeds(text, from, content)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn complete(f: &tempfile::NamedTempFile) -> TextFile {
        TextFile::complete(f.path())
    }

    fn text_file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        f
    }

    #[test]
    fn blocks_cover_the_text_and_start_after_line_feeds() {
        let content = b"a,b\n1,2\n3,4\n5,6\n7,8\n";
        let f = text_file(content);
        let blocks = split(&complete(&f), 4, 5).unwrap();
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
        let blocks = split(&complete(&f), 0, 2).unwrap();
        assert_eq!(blocks[0], Block { start: 0, end: 5, next_from: 3, last: false });
        assert_eq!(crossing(&blocks[0], 2), None);
        assert_eq!(crossing(&blocks[0], 4), Some(BlockEnd::Proven));
        assert_eq!(crossing(&blocks[0], 6), Some(BlockEnd::Unproven));
    }

    #[test]
    fn a_boundary_inside_a_run_of_blank_lines_reaching_the_block_start_is_dropped() {
        let content = b"\n\n\n\n\n\n1,2\n";
        let f = text_file(content);
        let blocks = split(&complete(&f), 0, 2).unwrap();
        assert_eq!(blocks, vec![Block { start: 0, end: 10, next_from: 10, last: true }]);
    }

    #[test]
    fn a_text_without_line_feeds_is_one_block() {
        let content = b"1,2\r3,4\r5,6";
        let f = text_file(content);
        let blocks = split(&complete(&f), 0, 2).unwrap();
        assert_eq!(blocks, vec![Block { start: 0, end: 11, next_from: 11, last: true }]);
    }

    #[test]
    fn a_record_after_a_crlf_begins_on_the_line_after_it() {
        let content = b"a,b\r\n1,2\r\n\r\n3,4\r\n";
        let f = text_file(content);
        // A reader stops after the \r: the next record's position is the \n before it.
        assert_eq!(line_at(&complete(&f), 0, 4).unwrap(), 2);
        assert_eq!(line_at(&complete(&f), 0, 9).unwrap(), 4);
        assert_eq!(line_at(&complete(&f), 0, 0).unwrap(), 1);
    }

    #[test]
    fn line_feeds_are_counted_in_a_range() {
        let content = b"a\nb\n\"c\nd\"\ne";
        let f = text_file(content);
        assert_eq!(line_feeds(&complete(&f), 0, content.len() as u64).unwrap(), 4);
        assert_eq!(line_feeds(&complete(&f), 2, 4).unwrap(), 1);
    }

    #[test]
    fn a_text_being_written_is_cut_into_the_blocks_of_the_finished_text() {
        let mut content = Vec::new();
        for i in 0..5_000 {
            content.extend_from_slice(format!("{i},\"a\nb\",x\r\n").as_bytes());
            if i % 97 == 0 {
                content.extend_from_slice(b"\n\n\r\n");
            }
        }
        let f = text_file(&content);
        for block_bytes in [1, 7, 100, 4_096, 1 << 20] {
            let expected = split(&complete(&f), 3, block_bytes).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("growing");
            let mut out = std::fs::File::create(&path).unwrap();
            let growth = std::sync::Arc::new(super::super::growing::Growth::new());
            let text = TextFile::growing(&path, std::sync::Arc::clone(&growth));
            std::thread::scope(|scope| {
                let cut = scope.spawn(|| split(&text, 3, block_bytes).unwrap());
                let mut written = 0;
                for chunk in content.chunks(1_000) {
                    out.write_all(chunk).unwrap();
                    written += chunk.len() as u64;
                    growth.grew(written);
                }
                growth.finish(Ok(written));
                assert_eq!(cut.join().unwrap(), expected, "blocks of {block_bytes} bytes");
            });
            assert!(expected.last().unwrap().last && expected.iter().filter(|b| b.last).count() == 1);
        }
    }
}
