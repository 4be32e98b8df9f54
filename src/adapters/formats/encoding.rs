//! Character encoding of CSV uploads: detect it, and give the rest of the pipeline UTF-8.
//!
//! Rules (docs/type-inference.md): a byte-order mark decides (UTF-8, UTF-16LE, UTF-16BE); without
//! one, a file that is valid UTF-8 throughout is UTF-8; otherwise chardetng guesses a legacy
//! encoding (Windows-1252 for Latin-1 text) from the bytes. Non-UTF-8 files are transcoded to
//! a UTF-8 spool file; bytes that the chosen encoding cannot decode are refused with their line.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{DecoderResult, Encoding, UTF_8, UTF_16BE, UTF_16LE};

use super::growing::TextFile;
use crate::ports::tables::IngestError;

const CHUNK: usize = 1 << 20;
/// How much of a non-UTF-8 file chardetng sees.
const DETECTION_BYTES: usize = 8 << 20;

/// UTF-8 text ready for the CSV reader.
#[derive(Debug)]
pub struct Utf8Text {
    /// The file holding the text (complete, or a decompressed upload still being written).
    pub file: TextFile,
    /// Bytes to skip at its start (a UTF-8 byte-order mark).
    pub skip: u64,
    /// The encoding the upload was in.
    pub source_encoding: &'static Encoding,
    /// A transcoded copy, deleted when this value is dropped.
    _temp: Option<tempfile::TempPath>,
}

fn io(e: std::io::Error) -> IngestError {
    IngestError::Io(e.to_string())
}

impl Utf8Text {
    fn upload(path: &Path, skip: usize) -> Self {
        Self { file: TextFile::complete(path), skip: skip as u64, source_encoding: UTF_8, _temp: None }
    }

    /// A text known (or, until its writing ends, assumed) to be UTF-8, beginning with a UTF-8
    /// byte-order mark when `bom` says so.
    pub fn being_written(file: TextFile, bom: bool) -> Self {
        Self { file, skip: if bom { 3 } else { 0 }, source_encoding: UTF_8, _temp: None }
    }
}

/// Whether a text given piece by piece is UTF-8 (a character may be cut between pieces).
#[derive(Debug, Default)]
pub struct Utf8Check {
    /// The start of a character cut at the last piece's end (at most 3 bytes).
    carried: [u8; 4],
    carried_len: usize,
    /// Bytes checked so far, the carried ones excluded.
    valid: u64,
    failed: bool,
}

impl Utf8Check {
    /// Checks the next piece; `Err(offset)` of the first byte that is not UTF-8.
    pub fn feed(&mut self, mut piece: &[u8]) -> Result<(), u64> {
        if self.failed {
            return Err(self.valid);
        }
        // First the character cut at the last piece's end, completed from this piece.
        while self.carried_len > 0 && !piece.is_empty() {
            self.carried[self.carried_len] = piece[0];
            self.carried_len += 1;
            piece = &piece[1..];
            match std::str::from_utf8(&self.carried[..self.carried_len]) {
                Ok(_) => {
                    self.valid += self.carried_len as u64;
                    self.carried_len = 0;
                }
                Err(e) if e.error_len().is_some() => return self.fail(),
                Err(_) => {}
            }
        }
        match std::str::from_utf8(piece) {
            Ok(_) => self.valid += piece.len() as u64,
            Err(e) => {
                self.valid += e.valid_up_to() as u64;
                if e.error_len().is_some() {
                    return self.fail();
                }
                let rest = &piece[e.valid_up_to()..];
                self.carried[..rest.len()].copy_from_slice(rest);
                self.carried_len = rest.len();
            }
        }
        Ok(())
    }

    /// The text ended: `Err(offset)` of the first byte that is not UTF-8 (a character cut at
    /// the end).
    pub fn finish(&mut self) -> Result<(), u64> {
        if self.failed || self.carried_len > 0 { self.fail() } else { Ok(()) }
    }

    fn fail(&mut self) -> Result<(), u64> {
        self.failed = true;
        Err(self.valid)
    }
}

/// Detects the encoding of `upload`, transcoding into `spool_dir` when it is not UTF-8.
pub fn to_utf8(upload: &Path, spool_dir: &Path) -> Result<Utf8Text, IngestError> {
    to_utf8_in_chunks(upload, spool_dir, CHUNK)
}

/// [`to_utf8`] of a text in the encoding `given` (the uploader's `encoding` hint), or detected
/// when none is given. A byte-order mark of the given encoding is skipped; any other is text.
pub fn to_utf8_from(
    upload: &Path,
    spool_dir: &Path,
    given: Option<&'static Encoding>,
) -> Result<Utf8Text, IngestError> {
    let Some(encoding) = given else { return to_utf8(upload, spool_dir) };
    let mut head = [0u8; 3];
    let n = read_up_to(&mut File::open(upload).map_err(io)?, &mut head)?;
    let bom = match Encoding::for_bom(&head[..n]) {
        Some((with_bom, length)) if with_bom == encoding => length,
        _ => 0,
    };
    if encoding == UTF_8 {
        validate_utf8(upload, bom, CHUNK)?;
        return Ok(Utf8Text::upload(upload, bom));
    }
    transcode(upload, encoding, bom, spool_dir, CHUNK)
}

/// [`to_utf8`], reading `chunk` bytes at a time (small chunks let tests cross every boundary).
pub(super) fn to_utf8_in_chunks(upload: &Path, spool_dir: &Path, chunk: usize) -> Result<Utf8Text, IngestError> {
    let mut head = [0u8; 3];
    let n = read_up_to(&mut File::open(upload).map_err(io)?, &mut head)?;
    let head = &head[..n];
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        validate_utf8(upload, 3, chunk)?;
        return Ok(Utf8Text::upload(upload, 3));
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return transcode(upload, UTF_16LE, 2, spool_dir, chunk);
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return transcode(upload, UTF_16BE, 2, spool_dir, chunk);
    }
    if validate_utf8(upload, 0, chunk).is_ok() {
        return Ok(Utf8Text::upload(upload, 0));
    }
    let encoding = guess_legacy(upload)?;
    transcode(upload, encoding, 0, spool_dir, chunk)
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> Result<usize, IngestError> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..]).map_err(io)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Checks that the file from `skip` on is UTF-8, reading `chunk` bytes at a time; the error
/// names the first bad line (line feeds are counted only then, not on every valid file).
fn validate_utf8(path: &Path, skip: usize, chunk: usize) -> Result<(), IngestError> {
    let mut file = File::open(path).map_err(io)?;
    file.seek(SeekFrom::Start(skip as u64)).map_err(io)?;
    let mut buf = vec![0u8; chunk];
    let mut check = Utf8Check::default();
    let checked = loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break check.finish();
        }
        if let Err(bad) = check.feed(&buf[..n]) {
            break Err(bad);
        }
    };
    checked.map_err(|bad| {
        let text = TextFile::complete(path);
        match super::csv_blocks::line_feeds(&text, skip as u64, skip as u64 + bad) {
            Ok(feeds) => IngestError::InvalidAt { line: 1 + feeds, reason: "the text is not valid UTF-8".into() },
            Err(e) => io(e),
        }
    })
}

fn guess_legacy(path: &Path) -> Result<&'static Encoding, IngestError> {
    let mut file = File::open(path).map_err(io)?;
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    let mut buf = vec![0u8; CHUNK];
    let mut seen = 0usize;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        seen += n;
        let last = n == 0 || seen >= DETECTION_BYTES;
        detector.feed(&buf[..n], last);
        if last {
            break;
        }
    }
    Ok(detector.guess(None, Utf8Detection::Deny))
}

fn transcode(
    upload: &Path,
    encoding: &'static Encoding,
    skip: usize,
    spool_dir: &Path,
    chunk: usize,
) -> Result<Utf8Text, IngestError> {
    let temp = tempfile::Builder::new().prefix("utf8-").suffix(".csv").tempfile_in(spool_dir).map_err(io)?;
    let (out_file, temp) = temp.into_parts();
    let mut out = BufWriter::with_capacity(CHUNK, out_file);
    let mut input = File::open(upload).map_err(io)?;
    let mut skipped = [0u8; 3];
    read_up_to(&mut input, &mut skipped[..skip])?;
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut buf = vec![0u8; chunk];
    let mut text = vec![0u8; chunk * 3 + 16];
    let mut line = 1u64;
    loop {
        let n = input.read(&mut buf).map_err(io)?;
        let last = n == 0;
        let mut src = &buf[..n];
        loop {
            let (result, read, written) = decoder.decode_to_utf8_without_replacement(src, &mut text, last);
            let produced = &text[..written];
            line += memchr::memchr_iter(b'\n', produced).count() as u64;
            out.write_all(produced).map_err(io)?;
            src = &src[read..];
            match result {
                DecoderResult::InputEmpty => break,
                DecoderResult::OutputFull => continue,
                DecoderResult::Malformed(_, _) => {
                    return Err(IngestError::InvalidAt {
                        line,
                        reason: format!("bytes that are not valid {}", encoding.name()),
                    });
                }
            }
        }
        if last {
            break;
        }
    }
    out.flush().map_err(io)?;
    Ok(Utf8Text { file: TextFile::complete(&temp), skip: 0, source_encoding: encoding, _temp: Some(temp) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn text_of(t: &Utf8Text) -> String {
        let bytes = std::fs::read(&t.file.path).unwrap();
        String::from_utf8(bytes[t.skip as usize..].to_vec()).unwrap()
    }

    #[test]
    fn utf8_with_bom_skips_the_bom() {
        let f = write("\u{feff}a,b\n1,é\n".as_bytes());
        let t = to_utf8(f.path(), &std::env::temp_dir()).unwrap();
        assert_eq!(t.skip, 3);
        assert_eq!(text_of(&t), "a,b\n1,é\n");
    }

    #[test]
    fn utf16_with_bom_is_transcoded() {
        for (bom, enc) in [([0xFF, 0xFE], UTF_16LE), ([0xFE, 0xFF], UTF_16BE)] {
            let mut bytes = bom.to_vec();
            for unit in "name,city\nZoë,Köln\n".encode_utf16() {
                let pair = if enc == UTF_16LE { unit.to_le_bytes() } else { unit.to_be_bytes() };
                bytes.extend_from_slice(&pair);
            }
            let f = write(&bytes);
            let t = to_utf8(f.path(), &std::env::temp_dir()).unwrap();
            assert_eq!(t.source_encoding, enc);
            assert_eq!(text_of(&t), "name,city\nZoë,Köln\n");
        }
    }

    #[test]
    fn latin1_text_is_detected_and_transcoded() {
        let (bytes, _, _) =
            encoding_rs::WINDOWS_1252.encode("name,city\nJosé,Zürich\nFrançois,Besançon\nMüller,Köln\n");
        let f = write(&bytes);
        let t = to_utf8(f.path(), &std::env::temp_dir()).unwrap();
        assert_eq!(t.source_encoding, encoding_rs::WINDOWS_1252);
        assert!(text_of(&t).contains("François,Besançon"));
    }

    #[test]
    fn an_unpaired_utf16_surrogate_is_refused_with_its_line() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "a\nb\n".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        bytes.extend_from_slice(&0xD800u16.to_le_bytes());
        bytes.extend_from_slice(&(b'x' as u16).to_le_bytes());
        let f = write(&bytes);
        let err = to_utf8(f.path(), &std::env::temp_dir()).unwrap_err();
        assert!(matches!(err, IngestError::InvalidAt { line: 3, .. }), "{err:?}");
    }

    #[test]
    fn utf8_validation_handles_characters_split_across_chunks() {
        let mut text = "x".repeat(CHUNK - 1);
        text.push_str("é\n");
        let f = write(text.as_bytes());
        let t = to_utf8(f.path(), &std::env::temp_dir()).unwrap();
        assert_eq!(t.source_encoding, UTF_8);
    }

    #[test]
    fn a_bad_byte_after_a_utf8_byte_order_mark_is_refused_with_its_line_for_every_chunk_size() {
        let mut content = vec![0xEF, 0xBB, 0xBF];
        content.extend_from_slice("a,é\nb,ü\n\nc,".as_bytes());
        content.push(0xFF);
        content.extend_from_slice(b"\nd,e\n");
        let f = write(&content);
        for chunk in 1..=20 {
            match to_utf8_in_chunks(f.path(), &std::env::temp_dir(), chunk) {
                Err(IngestError::InvalidAt { line, .. }) => assert_eq!(line, 4, "chunk {chunk}"),
                other => panic!("chunk {chunk}: {:?}", other.map(|t| t.skip)),
            }
        }
    }

    #[test]
    fn the_piecewise_check_agrees_with_the_standard_library_for_every_cut() {
        let mut texts: Vec<Vec<u8>> = vec!["a,é\n€,𝄞\n".into(), b"ab\xffcd".to_vec(), "x€".as_bytes()[..3].to_vec()];
        texts.push(b"\xe2\x82".to_vec());
        texts.push(b"ok\xed\xa0\x80".to_vec()); // a surrogate, not UTF-8
        for text in &texts {
            let expected = std::str::from_utf8(text).map(|_| ()).map_err(|e| e.valid_up_to() as u64);
            for cut in 0..=text.len() {
                for second in cut..=text.len() {
                    let mut check = Utf8Check::default();
                    let got = check
                        .feed(&text[..cut])
                        .and_then(|_| check.feed(&text[cut..second]))
                        .and_then(|_| check.feed(&text[second..]))
                        .and_then(|_| check.finish());
                    assert_eq!(got, expected, "{text:?} cut at {cut} and {second}");
                }
            }
        }
    }
}
