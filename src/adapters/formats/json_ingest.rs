//! JSON uploads: JSON Lines / NDJSON (one object a line) and a top-level array of objects.
//!
//! A file whose first non-blank character (after an optional UTF-8 byte-order mark) is `{`, or
//! `[` followed by `{` or `]`, is JSON: it is read as JSON or refused, never read as CSV. The
//! columns are the union of the objects' keys, in first-seen order; each value becomes a cell
//! typed by the CSV rules (`docs/type-inference.md`): numbers as written, `true`/`false`,
//! strings as they are, `null` and a missing key as missing, nested objects and arrays as
//! their compact JSON text (`object`). The objects are transcoded to a CSV file in the spool
//! (every cell quoted as needed, a header of the keys), which is then read as CSV with that
//! dialect: two passes over the JSON (keys, then rows), bounded memory (one line or one
//! element at a time).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::csv_ingest::refused_cell;
use crate::domain::records::TableFormat;
use crate::ports::tables::{IngestError, IngestLimits};

/// The UTF-8 byte-order mark.
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// The JSON layout of a file, from its first bytes: `None` when it does not look like JSON.
pub fn detect(head: &[u8]) -> Option<TableFormat> {
    let head = head.strip_prefix(BYTE_ORDER_MARK).unwrap_or(head);
    let mut rest = head.iter().copied().skip_while(u8::is_ascii_whitespace);
    match rest.next()? {
        b'{' => Some(TableFormat::Jsonl),
        b'[' => match rest.find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') | Some(b']') => Some(TableFormat::Json),
            _ => None,
        },
        _ => None,
    }
}

/// Transcodes a JSON upload (`format` from [`detect`]) to CSV in `out`; returns the number of
/// rows.
pub fn transcode_to_csv(
    upload: &Path,
    format: TableFormat,
    out: &mut File,
    limits: &IngestLimits,
) -> Result<u64, IngestError> {
    // First pass: the keys, in first-seen order.
    let mut keys: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let rows = for_each_object(upload, format, limits, |object, _| {
        for key in object.keys() {
            if !index.contains_key(key.as_str()) {
                if keys.len() == limits.max_columns {
                    return Err(IngestError::TooManyColumns { found: keys.len() + 1, max: limits.max_columns });
                }
                index.insert(key.clone(), keys.len());
                keys.push(key.clone());
            }
        }
        Ok(())
    })?;
    if keys.is_empty() {
        return Err(if rows == 0 {
            IngestError::Empty
        } else {
            IngestError::Invalid("every object is empty: there is no column".into())
        });
    }
    // Second pass: one CSV record per object.
    let io = |e: std::io::Error| IngestError::Io(e.to_string());
    let mut writer =
        csv::WriterBuilder::new().quote_style(csv::QuoteStyle::Necessary).from_writer(BufWriter::new(&mut *out));
    writer.write_record(keys.iter()).map_err(|e| IngestError::Io(e.to_string()))?;
    let mut record: Vec<String> = vec![String::new(); keys.len()];
    for_each_object(upload, format, limits, |object, at| {
        record.iter_mut().for_each(String::clear);
        for (key, value) in object {
            let Some(&i) = index.get(key.as_str()) else { continue };
            cell(value, &mut record[i]);
            // Refused here, where the object's place is known (the CSV text's lines are not the file's).
            if let Some(reason) = refused_cell(&record[i], limits) {
                return Err(at.refuse(format!("the value of {key:?} {reason}")));
            }
        }
        writer.write_record(&record).map_err(|e| IngestError::Io(e.to_string()))
    })?;
    writer.flush().map_err(io)?;
    drop(writer);
    out.flush().map_err(io)?;
    Ok(rows)
}

/// A value as the text of its CSV cell (empty for `null`).
fn cell(value: Value, out: &mut String) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => *out = s,
        nested @ (Value::Array(_) | Value::Object(_)) => *out = nested.to_string(),
    }
}

/// Where an object lies in the file, to name it in a refusal.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// A line of JSON Lines (1-based).
    Line(u64),
    /// An element of a JSON array (1-based).
    Element(u64),
}

impl Place {
    fn refuse(self, reason: String) -> IngestError {
        match self {
            Place::Line(line) => IngestError::InvalidAt { line, reason },
            Place::Element(n) => IngestError::Invalid(format!("element {n} of the JSON array: {reason}")),
        }
    }
}

/// Calls `each` with every object of the file and its place, in order; returns how many
/// there were.
fn for_each_object(
    upload: &Path,
    format: TableFormat,
    limits: &IngestLimits,
    mut each: impl FnMut(Map<String, Value>, Place) -> Result<(), IngestError>,
) -> Result<u64, IngestError> {
    let io = |e: std::io::Error| IngestError::Io(e.to_string());
    let mut reader = BufReader::with_capacity(1 << 20, File::open(upload).map_err(io)?);
    let mut rows = 0u64;
    if format == TableFormat::Json {
        let mut failure: Option<IngestError> = None;
        let mut deserializer = serde_json::Deserializer::from_reader(SkipBom::new(reader));
        let seed = EachElement {
            each: &mut |value: Value, index: u64| {
                rows = index + 1;
                match value {
                    Value::Object(object) => each(object, Place::Element(index + 1)),
                    other => Err(IngestError::Invalid(format!(
                        "element {} of the JSON array is {}, not an object: every row must be an object",
                        index + 1,
                        kind(&other)
                    ))),
                }
            },
            failure: &mut failure,
        };
        let parsed = seed.deserialize(&mut deserializer).and_then(|()| deserializer.end());
        if let Some(failure) = failure {
            return Err(failure);
        }
        parsed.map_err(|e| {
            IngestError::Invalid(format!("the file looks like a JSON array but is not valid JSON: {e}"))
        })?;
        return Ok(rows);
    }
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        number += 1;
        let n = (&mut reader).take(limits.max_row_bytes as u64 + 1).read_until(b'\n', &mut line).map_err(io)?;
        if n == 0 {
            break;
        }
        if line.len() > limits.max_row_bytes && !line.ends_with(b"\n") {
            return Err(IngestError::InvalidAt {
                line: number,
                reason: format!("the line is longer than {} bytes", limits.max_row_bytes),
            });
        }
        let text = if number == 1 { line.strip_prefix(BYTE_ORDER_MARK).unwrap_or(&line) } else { &line[..] };
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: Value = serde_json::from_slice(text).map_err(|e| IngestError::InvalidAt {
            line: number,
            reason: format!("not a JSON object (the file is JSON Lines: one object a line): {e}"),
        })?;
        let Value::Object(object) = value else {
            return Err(IngestError::InvalidAt {
                line: number,
                reason: format!("{}, not an object: every line must be a JSON object", kind(&value)),
            });
        };
        rows += 1;
        each(object, Place::Line(number))?;
    }
    Ok(rows)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Deserializes a JSON array element by element, handing each to `each` (the array is never
/// held whole).
struct EachElement<'a, F> {
    each: &'a mut F,
    failure: &'a mut Option<IngestError>,
}

impl<'de, F: FnMut(Value, u64) -> Result<(), IngestError>> DeserializeSeed<'de> for EachElement<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Value, u64) -> Result<(), IngestError>> Visitor<'de> for EachElement<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0u64;
        while let Some(value) = seq.next_element::<Value>()? {
            if let Err(e) = (self.each)(value, index) {
                *self.failure = Some(e);
                return Err(serde::de::Error::custom("stopped"));
            }
            index += 1;
        }
        Ok(())
    }
}

/// A reader without the UTF-8 byte-order mark its content may begin with.
struct SkipBom<R> {
    inner: R,
    checked: bool,
}

impl<R: BufRead> SkipBom<R> {
    fn new(inner: R) -> Self {
        Self { inner, checked: false }
    }
}

impl<R: BufRead> Read for SkipBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.checked {
            self.checked = true;
            if self.inner.fill_buf()?.starts_with(BYTE_ORDER_MARK) {
                self.inner.consume(BYTE_ORDER_MARK.len());
            }
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcoded(text: &str) -> Result<String, IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.json");
        std::fs::write(&input, text).unwrap();
        let format = detect(text.as_bytes()).expect("JSON");
        let mut out = tempfile::tempfile_in(dir.path()).unwrap();
        transcode_to_csv(&input, format, &mut out, &IngestLimits::default())?;
        use std::io::Seek;
        out.rewind().unwrap();
        let mut csv = String::new();
        out.read_to_string(&mut csv).unwrap();
        Ok(csv)
    }

    #[test]
    fn json_is_told_from_csv_by_its_first_characters() {
        assert_eq!(detect(b"{\"a\":1}\n"), Some(TableFormat::Jsonl));
        assert_eq!(detect(b"\xEF\xBB\xBF  \n{\"a\":1}"), Some(TableFormat::Jsonl));
        assert_eq!(detect(b"[ {\"a\":1} ]"), Some(TableFormat::Json));
        assert_eq!(detect(b"[]"), Some(TableFormat::Json));
        assert_eq!(detect(b"a,b\n1,2\n"), None);
        assert_eq!(detect(b"[x],b\n1,2\n"), None, "a CSV header may begin with a bracket");
    }

    #[test]
    fn keys_are_columns_in_first_seen_order_and_values_cells() {
        let csv = transcoded(
            "{\"a\":1,\"b\":\"x, y\"}\n\n{\"c\":true,\"a\":2.5}\n{\"b\":null,\"d\":{\"k\":[1,2]},\"a\":-3}\n",
        )
        .unwrap();
        assert_eq!(csv, "a,b,c,d\n1,\"x, y\",,\n2.5,,true,\n-3,,,\"{\"\"k\"\":[1,2]}\"\n");
    }

    #[test]
    fn an_array_of_objects_is_read_element_by_element() {
        assert_eq!(transcoded("\u{feff}[{\"a\":1},{\"a\":\"two\",\"b\":[]}]").unwrap(), "a,b\n1,\ntwo,[]\n");
    }

    #[test]
    fn a_line_that_is_not_an_object_is_refused_with_its_line() {
        let err = transcoded("{\"a\":1}\n[1,2]\n").unwrap_err();
        assert!(matches!(&err, IngestError::InvalidAt { line: 2, reason } if reason.contains("an array")), "{err:?}");
        let err = transcoded("{\"a\":1}\n{\"a\":\n").unwrap_err();
        assert!(matches!(err, IngestError::InvalidAt { line: 2, .. }), "{err:?}");
        let err = transcoded("[{\"a\":1}, 3]").unwrap_err();
        assert!(matches!(&err, IngestError::Invalid(m) if m.contains("element 2")), "{err:?}");
        let err = transcoded("[{\"a\":1}").unwrap_err();
        assert!(matches!(&err, IngestError::Invalid(m) if m.contains("not valid JSON")), "{err:?}");
    }

    #[test]
    fn a_value_no_cell_may_hold_is_refused_with_its_line_or_element() {
        // Line 3 holds the second object (a blank line before it): the line is the file's.
        let err = transcoded("{\"a\":1,\"b\":\"x\"}\n\n{\"a\":2,\"b\":\"y\\u0000z\"}\n").unwrap_err();
        assert_eq!(err.to_string(), "line 3: the value of \"b\" holds a NUL character");
        let err = transcoded("[{\"a\":\"ok\"},{\"a\":\"\\u0000\"}]").unwrap_err();
        assert_eq!(err.to_string(), "element 2 of the JSON array: the value of \"a\" holds a NUL character");

        let long = "x".repeat(IngestLimits::default().max_cell_bytes + 1);
        let err = transcoded(&format!("{{\"a\":1}}\n{{\"a\":{{\"k\":\"{long}\"}}}}\n")).unwrap_err();
        let expected = format!(
            "line 2: the value of \"a\" is {} bytes long, over the limit of {} bytes a cell",
            long.len() + 8,
            IngestLimits::default().max_cell_bytes
        );
        assert_eq!(err.to_string(), expected, "a nested value is measured as its JSON text");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowing_the_stack() {
        let deep = format!("{{\"a\":{}{}}}\n", "[".repeat(100_000), "]".repeat(100_000));
        let err = transcoded(&deep).unwrap_err();
        assert!(matches!(&err, IngestError::InvalidAt { line: 1, reason } if reason.contains("recursion")), "{err:?}");
    }

    #[test]
    fn empty_objects_and_files_have_no_columns() {
        assert!(matches!(transcoded("{}\n{}\n").unwrap_err(), IngestError::Invalid(_)));
        assert!(matches!(transcoded("[]").unwrap_err(), IngestError::Empty));
    }
}
