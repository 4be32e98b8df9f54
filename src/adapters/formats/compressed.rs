//! Compressed uploads: gzip, zstd, bzip2 and xz, recognized by their magic bytes (never by the
//! file name), decompressed while streaming into a spool file that is read as any upload (a
//! compressed CSV is a CSV, a compressed Parquet file a Parquet file). The decompression runs
//! on a thread of its own, so that a CSV text can be parsed while it is being written.
//!
//! Limits, so that a small file cannot fill the disk or the memory: the decompressed size is
//! at most [`IngestLimits::max_decompressed_bytes`], and once past
//! [`RATIO_CHECKED_AFTER`] bytes it may not exceed [`IngestLimits::max_expansion_ratio`] times
//! the compressed bytes read so far (a bomb is stopped within its first megabytes, not after
//! gigabytes). zstd frames that need a window larger than 2^[`ZSTD_WINDOW_LOG_MAX`] bytes are
//! refused (memory). Concatenated members (`cat a.gz b.gz`) decompress to the concatenation, as
//! `gzip -d` does.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::encoding::Utf8Check;
use super::growing::Growth;
use crate::domain::records::Compression;
use crate::ports::tables::{IngestError, IngestLimits};

/// The expansion ratio is checked once this many bytes came out (small files may expand a
/// lot, harmlessly).
pub const RATIO_CHECKED_AFTER: u64 = 16 << 20;
/// The largest zstd window accepted: 2^27 bytes (128 MiB), zstd's own default limit.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 27;
/// Bytes copied at a time.
const CHUNK: usize = 256 * 1024;

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What a finished decompression wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decompressed {
    pub bytes: u64,
    /// The bytes are UTF-8 text throughout.
    pub utf8: bool,
}

/// A decompression into a spool file on a thread of its own, followed by readers through its
/// [`Growth`] (see [`growing`](super::growing)). Dropped before [`Decompression::finish`], it
/// stops at its next chunk.
pub struct Decompression {
    growth: Arc<Growth>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<Decompressed, IngestError>>>,
}

impl Decompression {
    /// Starts decompressing `upload` (compressed with `compression`) into `out`, within `limits`.
    pub fn start(
        upload: &Path,
        compression: Compression,
        out: File,
        limits: &IngestLimits,
    ) -> Result<Self, IngestError> {
        let growth = Arc::new(Growth::new());
        let stop = Arc::new(AtomicBool::new(false));
        let (upload, limits) = (upload.to_path_buf(), *limits);
        let (grows, stops) = (Arc::clone(&growth), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("decompress".into())
            .spawn(move || {
                // Readers waiting for bytes are told the writing ended, even after a panic.
                let ended = EndsOnDrop(&grows);
                let result = decompress(&upload, compression, out, &limits, &grows, &stops);
                ended.0.finish(result.as_ref().map(|done| done.bytes).map_err(ToString::to_string));
                result
            })
            .map_err(|e| IngestError::Io(format!("cannot start the decompression: {e}")))?;
        Ok(Self { growth, stop, thread: Some(thread) })
    }

    /// How far the decompressed file has come.
    pub fn growth(&self) -> Arc<Growth> {
        Arc::clone(&self.growth)
    }

    /// Waits for the decompression to end.
    pub fn finish(mut self) -> Result<Decompressed, IngestError> {
        let thread = self.thread.take().ok_or_else(|| IngestError::Io("the decompression was not started".into()))?;
        thread.join().map_err(|_| IngestError::Io("the decompression failed".into()))?
    }
}

impl Drop for Decompression {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct EndsOnDrop<'a>(&'a Growth);

impl Drop for EndsOnDrop<'_> {
    fn drop(&mut self) {
        self.0.finish(Err("the decompression stopped".into()));
    }
}

/// Decompresses `upload` into `out` within `limits`, telling `growth` each chunk written and
/// checking whether the text is UTF-8 on the way.
fn decompress(
    upload: &Path,
    compression: Compression,
    mut out: File,
    limits: &IngestLimits,
    growth: &Growth,
    stop: &AtomicBool,
) -> Result<Decompressed, IngestError> {
    let io = |e: std::io::Error| IngestError::Io(e.to_string());
    let corrupt = |e: std::io::Error| {
        IngestError::Invalid(format!(
            "the file looks {}-compressed but cannot be decompressed: {e}",
            compression.name()
        ))
    };
    let consumed = Arc::new(AtomicU64::new(0));
    let source = Counted {
        inner: BufReader::with_capacity(CHUNK, File::open(upload).map_err(io)?),
        read: Arc::clone(&consumed),
    };
    let mut decoder: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(source)),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(source).map_err(corrupt)?;
            d.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(corrupt)?;
            Box::new(d)
        }
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(source)),
        Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(source)),
    };
    let mut buffer = vec![0u8; CHUNK];
    let mut written: u64 = 0;
    let mut utf8 = Utf8Check::default();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(IngestError::Io("the decompression was stopped".into()));
        }
        let n = match decoder.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e)),
        };
        written += n as u64;
        if written > limits.max_decompressed_bytes {
            return Err(IngestError::TooLarge(format!(
                "the {}-compressed file expands to more than {} bytes, the limit (MAX_DECOMPRESSED_BYTES); nothing was stored",
                compression.name(),
                limits.max_decompressed_bytes
            )));
        }
        let read = consumed.load(Ordering::Relaxed).max(1);
        if written > RATIO_CHECKED_AFTER && written / read > limits.max_expansion_ratio {
            return Err(IngestError::TooLarge(format!(
                "the {}-compressed file expands more than {} times (MAX_DECOMPRESSION_RATIO): {read} compressed bytes gave {written}; nothing was stored",
                compression.name(),
                limits.max_expansion_ratio
            )));
        }
        out.write_all(&buffer[..n]).map_err(io)?;
        growth.grew(written);
        // Once a byte is not UTF-8, the rest needs no check.
        let _ = utf8.feed(&buffer[..n]);
    }
    out.flush().map_err(io)?;
    if written == 0 {
        return Err(IngestError::Empty);
    }
    Ok(Decompressed { bytes: written, utf8: utf8.finish().is_ok() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: u64, ratio: u64) -> IngestLimits {
        IngestLimits { max_decompressed_bytes: max, max_expansion_ratio: ratio, ..IngestLimits::default() }
    }

    fn compressed(compression: Compression, data: &[u8]) -> Vec<u8> {
        match compression {
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::stream::encode_all(data, 3).unwrap(),
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Xz => {
                let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    fn run(bytes: &[u8], limits: &IngestLimits) -> Result<Vec<u8>, IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::write(&input, bytes).unwrap();
        let compression = Compression::detect(bytes).expect("a compressed file");
        let output = dir.path().join("out");
        let out = File::create(&output).unwrap();
        let done = Decompression::start(&input, compression, out, limits)?.finish()?;
        let back = std::fs::read(&output).unwrap();
        assert_eq!(done.bytes, back.len() as u64);
        assert_eq!(done.utf8, std::str::from_utf8(&back).is_ok());
        Ok(back)
    }

    #[test]
    fn each_format_is_recognized_by_its_magic_bytes_and_decompresses_to_the_original() {
        let data = b"a,b\n1,x\n2,y\n".repeat(1000);
        for c in Compression::ALL {
            let bytes = compressed(c, &data);
            assert_eq!(Compression::detect(&bytes), Some(c));
            assert_eq!(run(&bytes, &IngestLimits::default()).unwrap(), data, "{}", c.name());
        }
        assert_eq!(Compression::detect(b"a,b\n1,2\n"), None);
        assert_eq!(Compression::detect(b"BZh0"), None, "a bzip2 block size is 1-9");
    }

    #[test]
    fn concatenated_gzip_members_decompress_to_the_concatenation() {
        let mut bytes = compressed(Compression::Gzip, b"a,b\n1,2\n");
        bytes.extend(compressed(Compression::Gzip, b"3,4\n"));
        assert_eq!(run(&bytes, &IngestLimits::default()).unwrap(), b"a,b\n1,2\n3,4\n");
    }

    #[test]
    fn a_file_expanding_past_the_size_limit_is_refused_naming_it() {
        let bytes = compressed(Compression::Gzip, &vec![b'0'; 1 << 20]);
        let err = run(&bytes, &limits(100_000, u64::MAX)).unwrap_err();
        let IngestError::TooLarge(message) = err else { panic!("{err:?}") };
        assert!(message.contains("MAX_DECOMPRESSED_BYTES") && message.contains("100000"), "{message}");
    }

    #[test]
    fn a_bomb_is_stopped_by_the_expansion_ratio_after_its_first_megabytes() {
        // 64 MiB of zeros compress about 1000 times.
        let bytes = compressed(Compression::Zstd, &vec![0u8; 64 << 20]);
        let err = run(&bytes, &limits(u64::MAX, 200)).unwrap_err();
        let IngestError::TooLarge(message) = err else { panic!("{err:?}") };
        assert!(message.contains("MAX_DECOMPRESSION_RATIO"), "{message}");
        // The same file within a ratio it respects passes.
        assert_eq!(run(&bytes, &limits(u64::MAX, 1_000_000)).unwrap().len(), 64 << 20);
    }

    #[test]
    fn a_truncated_file_is_refused_as_corrupt() {
        for c in Compression::ALL {
            let bytes = compressed(c, &b"a,b\n1,2\n".repeat(10_000));
            let err = run(&bytes[..bytes.len() / 2], &IngestLimits::default()).unwrap_err();
            assert!(
                matches!(&err, IngestError::Invalid(m) if m.contains("cannot be decompressed")),
                "{}: {err:?}",
                c.name()
            );
        }
    }

    #[test]
    fn a_zstd_frame_with_a_window_past_the_limit_is_refused() {
        let data = vec![7u8; 1 << 16];
        let mut encoder = zstd::stream::Encoder::new(Vec::new(), 1).unwrap();
        encoder.long_distance_matching(true).unwrap();
        encoder.window_log(ZSTD_WINDOW_LOG_MAX + 2).unwrap();
        encoder.include_contentsize(false).unwrap();
        encoder.write_all(&data).unwrap();
        let bytes = encoder.finish().unwrap();
        let err = run(&bytes, &IngestLimits::default()).unwrap_err();
        assert!(matches!(&err, IngestError::Invalid(m) if m.contains("cannot be decompressed")), "{err:?}");
    }
}
