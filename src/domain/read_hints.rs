//! How an upload is to be read, as its uploader says: the form fields `dtypes`, `na_values`,
//! `keep_default_na`, `delimiter`, `encoding`, `header` and `sheet` of both upload routes.
//! Every hint is optional; what is not given is detected (docs/type-inference.md). The hints
//! are stored with the version they read, so that a later upload can reuse them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::dtype::DType;

/// The uploader's hints. Serialized (stored, and shown on the version) without the hints not
/// given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadHints {
    /// Columns whose type is given, by name: every non-missing value must be of it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dtypes: BTreeMap<String, DType>,
    /// Extra missing markers (added to the defaults unless `keep_default_na` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub na_values: Option<Vec<String>>,
    /// False: the default missing markers are values (only `na_values` are missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_default_na: Option<bool>,
    /// The CSV field delimiter (one ASCII character).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<char>,
    /// The text's encoding (a WHATWG label: `utf-8`, `latin1`, `windows-1252`, `utf-16le`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Whether the first CSV row is a header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    /// The spreadsheet's sheet to read, by name (else the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
}

/// A hint the uploader gave that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct BadHint {
    pub field: &'static str,
    pub reason: String,
}

fn bad(field: &'static str, reason: impl Into<String>) -> BadHint {
    BadHint { field, reason: reason.into() }
}

/// A received value as an error message quotes it: at most 100 characters.
fn quoted(raw: &str) -> String {
    match raw.char_indices().nth(100) {
        Some((end, _)) => format!("{:?}…", &raw[..end]),
        None => format!("{raw:?}"),
    }
}

/// Characters a delimiter cannot be: they end records or quote fields.
const NOT_DELIMITERS: [char; 4] = ['"', '\n', '\r', '\0'];

impl ReadHints {
    pub fn is_empty(&self) -> bool {
        *self == ReadHints::default()
    }

    /// The hints of an upload that reuses `earlier` (`reuse_hints=true`): each hint given now
    /// replaces the earlier one of the same name; `dtypes` are merged by column.
    pub fn reusing(self, earlier: ReadHints) -> ReadHints {
        let mut dtypes = earlier.dtypes;
        dtypes.extend(self.dtypes);
        ReadHints {
            dtypes,
            na_values: self.na_values.or(earlier.na_values),
            keep_default_na: self.keep_default_na.or(earlier.keep_default_na),
            delimiter: self.delimiter.or(earlier.delimiter),
            encoding: self.encoding.or(earlier.encoding),
            header: self.header.or(earlier.header),
            sheet: self.sheet.or(earlier.sheet),
        }
    }

    /// Reads the `dtypes` form field: a JSON object of column name to dtype name.
    pub fn parse_dtypes(raw: &str) -> Result<BTreeMap<String, DType>, BadHint> {
        let object: BTreeMap<String, String> = serde_json::from_str(raw).map_err(|e| {
            bad("dtypes", format!("a JSON object of column name to dtype is expected, not {} ({e})", quoted(raw)))
        })?;
        object
            .into_iter()
            .map(|(column, name)| match DType::parse(&name) {
                Some(dtype) => Ok((column, dtype)),
                None => Err(bad(
                    "dtypes",
                    format!(
                        "{name:?} (for {column:?}) is no dtype: int64, float64, bool, datetime64, object or category"
                    ),
                )),
            })
            .collect()
    }

    /// Reads the `na_values` form field: a JSON array of strings.
    pub fn parse_na_values(raw: &str) -> Result<Vec<String>, BadHint> {
        let values: Vec<String> = serde_json::from_str(raw)
            .map_err(|e| bad("na_values", format!("a JSON array of strings is expected, not {} ({e})", quoted(raw))))?;
        if let Some(long) = values.iter().find(|v| v.len() > 256) {
            return Err(bad("na_values", format!("a marker of {} bytes is longer than 256", long.len())));
        }
        if values.len() > 1000 {
            return Err(bad("na_values", "at most 1000 markers"));
        }
        Ok(values)
    }

    /// Reads a `true`/`false` form field (in any letter case, as the other flags).
    pub fn parse_flag(field: &'static str, raw: &str) -> Result<bool, BadHint> {
        match raw.trim() {
            v if v.eq_ignore_ascii_case("true") => Ok(true),
            v if v.eq_ignore_ascii_case("false") => Ok(false),
            other => Err(bad(field, format!("true or false is expected, not {other:?}"))),
        }
    }

    /// Reads the `delimiter` form field: one ASCII character (`\t` may be written as the
    /// two characters `\t` or as `tab`).
    pub fn parse_delimiter(raw: &str) -> Result<char, BadHint> {
        let c = match raw {
            "\\t" | "tab" => '\t',
            _ => {
                let mut chars = raw.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => c,
                    _ => return Err(bad("delimiter", format!("one character is expected, not {raw:?}"))),
                }
            }
        };
        if !c.is_ascii() || NOT_DELIMITERS.contains(&c) {
            return Err(bad(
                "delimiter",
                format!("{c:?} cannot be a delimiter (an ASCII character other than a quote, a line end or NUL)"),
            ));
        }
        Ok(c)
    }

    /// Reads the `encoding` form field: a label the WHATWG Encoding Standard knows, or Python's
    /// spelling of one (what pandas users write: `latin-1`, `utf_8`, `utf-8-sig`, `utf-16-le`;
    /// see [`whatwg_label`]), kept as the WHATWG label.
    pub fn parse_encoding(raw: &str) -> Result<String, BadHint> {
        match whatwg_label(&raw.trim().to_ascii_lowercase()) {
            // The standard names these (ISO-2022-KR, ISO-2022-CN, HZ-GB-2312) only to decode
            // nothing of them.
            Some((_, encoding)) if encoding == encoding_rs::REPLACEMENT => Err(bad(
                "encoding",
                format!("{raw:?} is an encoding that cannot be read (the WHATWG standard decodes nothing of it)"),
            )),
            Some((label, _)) => Ok(label),
            None => Err(bad(
                "encoding",
                format!("{raw:?} is no known encoding (for example utf-8, latin1, windows-1252, utf-16le)"),
            )),
        }
    }

    /// Reads the `sheet` form field: a sheet's name.
    pub fn parse_sheet(raw: &str) -> Result<String, BadHint> {
        if raw.is_empty() || raw.chars().count() > 255 {
            return Err(bad("sheet", "a sheet name of 1 to 255 characters is expected"));
        }
        Ok(raw.to_string())
    }
}

/// The WHATWG label for a lower-case encoding label, with its encoding: the label itself when
/// the standard knows it, else the label Python's codecs spell with underscores for hyphens
/// (`utf_8`, `iso8859_15`, `windows_1252`), with a hyphen before the number (`latin-1`) or with
/// a suffix the standard has no label for (`utf-8-sig`: a UTF-8 byte-order mark, skipped
/// anyway; `utf-16-le`); `None` when neither is known.
fn whatwg_label(label: &str) -> Option<(String, &'static encoding_rs::Encoding)> {
    if let Some(encoding) = encoding_rs::Encoding::for_label(label.as_bytes()) {
        return Some((label.to_string(), encoding));
    }
    let hyphens = label.replace('_', "-");
    let label = match hyphens.as_str() {
        "latin-1" => "latin1".to_string(),
        "utf-8-sig" | "utf8-sig" => "utf-8".to_string(),
        "utf-16-le" => "utf-16le".to_string(),
        "utf-16-be" => "utf-16be".to_string(),
        _ => hyphens,
    };
    encoding_rs::Encoding::for_label(label.as_bytes()).map(|encoding| (label, encoding))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_not_given_are_not_stored() {
        assert_eq!(serde_json::to_string(&ReadHints::default()).unwrap(), "{}");
        let hints = ReadHints { header: Some(false), delimiter: Some(';'), ..Default::default() };
        let json = serde_json::to_string(&hints).unwrap();
        assert_eq!(json, r#"{"delimiter":";","header":false}"#);
        assert_eq!(serde_json::from_str::<ReadHints>(&json).unwrap(), hints);
    }

    #[test]
    fn reused_hints_are_replaced_by_those_given_again() {
        let earlier = ReadHints {
            dtypes: [("zip".to_string(), DType::Object), ("day".to_string(), DType::Datetime64)].into(),
            delimiter: Some(';'),
            header: Some(false),
            ..Default::default()
        };
        let now =
            ReadHints { dtypes: [("day".to_string(), DType::Object)].into(), header: Some(true), ..Default::default() };
        let merged = now.reusing(earlier);
        assert_eq!(merged.dtypes, [("day".to_string(), DType::Object), ("zip".to_string(), DType::Object)].into());
        assert_eq!((merged.delimiter, merged.header), (Some(';'), Some(true)));
    }

    #[test]
    fn dtypes_name_a_dtype_for_each_column() {
        let dtypes = ReadHints::parse_dtypes(r#"{"zip": "object", "day": "datetime64"}"#).unwrap();
        assert_eq!(dtypes["zip"], DType::Object);
        assert_eq!(dtypes["day"], DType::Datetime64);
        assert!(ReadHints::parse_dtypes(r#"{"zip": "string"}"#).unwrap_err().reason.contains("no dtype"));
        assert!(ReadHints::parse_dtypes("[1]").is_err());
    }

    #[test]
    fn a_delimiter_is_one_ascii_character_that_does_not_quote_or_end_a_line() {
        assert_eq!(ReadHints::parse_delimiter(";"), Ok(';'));
        assert_eq!(ReadHints::parse_delimiter("\\t"), Ok('\t'));
        assert_eq!(ReadHints::parse_delimiter("\t"), Ok('\t'));
        for bad in ["", ";;", "\"", "\n", "é", "\0"] {
            assert!(ReadHints::parse_delimiter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn encodings_are_whatwg_labels_or_python_spellings_of_them() {
        assert_eq!(ReadHints::parse_encoding("Latin1").unwrap(), "latin1");
        assert!(ReadHints::parse_encoding("ebcdic").is_err());
        for (python, whatwg) in [
            ("latin-1", "latin1"),
            ("LATIN_1", "latin1"),
            ("utf_8", "utf-8"),
            ("utf-8-sig", "utf-8"),
            ("utf_16_le", "utf-16le"),
            ("utf-16-be", "utf-16be"),
            ("iso8859_15", "iso8859-15"),
            ("windows_1252", "windows-1252"),
        ] {
            assert_eq!(ReadHints::parse_encoding(python).as_deref(), Ok(whatwg), "{python}");
        }
        for whatwg in ["utf-8", "latin1", "windows-1252", "utf-16le", "shift_jis", "euc-kr", "iso-8859-2"] {
            assert_eq!(ReadHints::parse_encoding(whatwg).as_deref(), Ok(whatwg));
        }
        for unreadable in ["iso-2022-kr", "iso_2022_kr", "hz-gb-2312", "iso-2022-cn"] {
            let refused = ReadHints::parse_encoding(unreadable).unwrap_err();
            assert!(refused.reason.contains("cannot be read"), "{unreadable}: {refused:?}");
        }
    }

    #[test]
    fn flags_and_markers_are_checked() {
        assert_eq!(ReadHints::parse_flag("header", "false"), Ok(false));
        assert!(ReadHints::parse_flag("header", "no").is_err());
        assert_eq!(ReadHints::parse_na_values(r#"["-", "?"]"#).unwrap(), ["-", "?"]);
        assert!(ReadHints::parse_na_values(r#"[1]"#).is_err());
    }
}
