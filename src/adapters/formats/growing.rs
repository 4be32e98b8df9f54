//! Text files read while another thread may still be writing them (a compressed upload being
//! decompressed into the spool), so that parsing can begin before the writing ends.
//!
//! The writer appends to the file, then says how long it is with [`Growth::grew`]; it ends with
//! [`Growth::finish`], giving the final length or why it stopped. A reader of a byte not yet
//! written waits for it; past the final length it reads nothing (the end of the text), and
//! after a failed writing it gets an error. A reader of a complete file reads it as a file.
//! Either way, every reader sees exactly the bytes of the finished file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// How far a file being written has come.
#[derive(Debug, Default)]
pub struct Growth {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    written: u64,
    /// Set once: the final length, or why the writing stopped.
    end: Option<Result<u64, String>>,
}

impl Growth {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The writer: the file's first `written` bytes are in it.
    pub fn grew(&self, written: u64) {
        let mut state = self.state();
        state.written = state.written.max(written);
        self.changed.notify_all();
    }

    /// The writer: it wrote its last byte (`Ok(final length)`) or stopped (`Err(why)`).
    pub fn finish(&self, end: Result<u64, String>) {
        let mut state = self.state();
        if let Ok(length) = end {
            state.written = length;
        }
        state.end.get_or_insert(end);
        self.changed.notify_all();
    }

    /// Waits until the byte at `offset` is written or the writing ended, and says how many
    /// bytes from `offset` on can be read now: 0 only at the end of the finished text.
    pub fn readable_from(&self, offset: u64) -> std::io::Result<u64> {
        let mut state = self.state();
        loop {
            if state.written > offset {
                return Ok(state.written - offset);
            }
            match &state.end {
                Some(Ok(_)) => return Ok(0),
                Some(Err(why)) => return Err(stopped(why)),
                None => state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    /// Waits for the writing to end: the final length.
    pub fn final_length(&self) -> std::io::Result<u64> {
        let mut state = self.state();
        loop {
            match &state.end {
                Some(Ok(length)) => return Ok(*length),
                Some(Err(why)) => return Err(stopped(why)),
                None => state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }
}

fn stopped(why: &str) -> std::io::Error {
    std::io::Error::other(format!("the text stopped being written: {why}"))
}

/// A text file: complete, or still being written.
#[derive(Debug, Clone)]
pub struct TextFile {
    pub path: PathBuf,
    growth: Option<Arc<Growth>>,
}

impl TextFile {
    pub fn complete(path: &Path) -> Self {
        Self { path: path.to_path_buf(), growth: None }
    }

    pub fn growing(path: &Path, growth: Arc<Growth>) -> Self {
        Self { path: path.to_path_buf(), growth: Some(growth) }
    }

    /// A reader from `offset` on.
    pub fn open_at(&self, offset: u64) -> std::io::Result<TextReader> {
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(TextReader { file, position: offset, growth: self.growth.clone() })
    }

    /// The length of the text (waiting for its end if it is being written).
    pub fn len(&self) -> std::io::Result<u64> {
        match &self.growth {
            Some(growth) => growth.final_length(),
            None => Ok(std::fs::metadata(&self.path)?.len()),
        }
    }
}

/// Reads a [`TextFile`], waiting for bytes not yet written.
#[derive(Debug)]
pub struct TextReader {
    file: File,
    /// The offset the next `read` reads from.
    position: u64,
    growth: Option<Arc<Growth>>,
}

impl TextReader {
    /// Reads at `offset` (not moving the reader), waiting for the byte there; 0 at the end.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        if offset > i64::MAX as u64 {
            // Past any file's end (and past what the system can seek to).
            return Ok(0);
        }
        let want = match &self.growth {
            Some(growth) => (buf.len() as u64).min(growth.readable_from(offset)?) as usize,
            None => buf.len(),
        };
        self.file.read_at(&mut buf[..want], offset)
    }

    /// Reads exactly `buf.len()` bytes at `offset`.
    pub fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset)? {
                0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                n => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }
}

impl Read for TextReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.read_at(buf, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_reader_waits_for_bytes_being_written_and_reads_them_all_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("text");
        let mut out = File::create(&path).unwrap();
        let growth = Arc::new(Growth::new());
        let text = TextFile::growing(&path, Arc::clone(&growth));
        let expected: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut read = Vec::new();
                text.open_at(0).unwrap().read_to_end(&mut read).unwrap();
                read
            });
            let mut written = 0;
            for chunk in expected.chunks(7_919) {
                out.write_all(chunk).unwrap();
                written += chunk.len() as u64;
                growth.grew(written);
            }
            growth.finish(Ok(written));
            assert_eq!(reader.join().unwrap(), expected);
        });
        assert_eq!(text.len().unwrap(), expected.len() as u64);
    }

    #[test]
    fn a_reader_waiting_when_the_writing_fails_gets_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("text");
        std::fs::write(&path, b"abc").unwrap();
        let growth = Arc::new(Growth::new());
        growth.grew(3);
        let text = TextFile::growing(&path, Arc::clone(&growth));
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut read = Vec::new();
                text.open_at(1).unwrap().read_to_end(&mut read)
            });
            growth.finish(Err("the gzip stream is damaged".into()));
            let err = reader.join().unwrap().unwrap_err();
            assert!(err.to_string().contains("the gzip stream is damaged"), "{err}");
        });
        assert!(text.len().is_err());
    }

    #[test]
    fn a_complete_file_reads_as_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("text");
        std::fs::write(&path, b"hello, world").unwrap();
        let text = TextFile::complete(&path);
        let reader = text.open_at(7).unwrap();
        let mut buf = [0u8; 5];
        reader.read_exact_at(&mut buf, 7).unwrap();
        assert_eq!(&buf, b"world");
        assert_eq!(reader.read_at(&mut buf, 12).unwrap(), 0);
        assert_eq!(reader.read_at(&mut buf, u64::MAX).unwrap(), 0, "past any file's end");
        assert_eq!(text.len().unwrap(), 12);
    }
}
