//! CSV dialect and header detection on a sample of the text (docs/type-inference.md).
//!
//! - Delimiter: each of `,` `;` tab `|` is tried on the sample with quote-aware parsing; the one
//!   whose records most consistently share one field count greater than 1 wins; on equal
//!   consistency, the one giving more fields; then the earlier in that list. If none gives more
//!   than one field, the file has one column.
//! - Quoting: `"` quotes fields, `""` inside quotes is a literal quote; quoted fields may hold
//!   delimiters and line breaks. Lines end in LF or CRLF.
//! - Header: the first record is a header when, in the columns whose other sampled values have a
//!   non-text type (int, float, bool, datetime), more first-record values do not fit that type
//!   than fit it. With no such column, the first record is a header unless it repeats a value.
//! - Row names (R's `write.table`, pandas' index): a first record with exactly one field fewer
//!   than every other sampled record is a header, and the rows' first field is a column of row
//!   names, named [`ROW_NAMES_COLUMN`].

use crate::domain::dtype::DType;
use crate::domain::inference::{
    ColumnInference, IntLiteral, is_missing, parse_bool, parse_datetime, parse_day_month, parse_float, parse_int,
};

pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Records of the sample used for detection.
const SAMPLE_RECORDS: usize = 200;

/// The name of the column of row names (a header one field short of the rows).
pub const ROW_NAMES_COLUMN: &str = "row_name";

/// The detected dialect and header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub has_header: bool,
    /// The header has one field fewer than the rows: their first field names the row.
    pub row_names: bool,
}

/// Parses up to [`SAMPLE_RECORDS`] records of `sample` with `delimiter`. When `truncated`, the
/// sample ends mid-file and its last record may be partial, so it is dropped.
fn sample_records(sample: &[u8], delimiter: u8, truncated: bool) -> Vec<Vec<String>> {
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(sample);
    let mut out: Vec<Vec<String>> = reader
        .byte_records()
        .take(SAMPLE_RECORDS + 1)
        .map_while(Result::ok)
        .map(|r| r.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect())
        .collect();
    if truncated || out.len() > SAMPLE_RECORDS {
        out.pop();
    }
    out
}

/// [`detect_with`] with nothing given.
#[cfg(test)]
pub fn detect(sample: &[u8], truncated: bool) -> Dialect {
    detect_with(sample, truncated, None, None)
}

/// Detects the delimiter and the header from the first bytes of the file, except those given
/// (the uploader's hints). With no header there are no row names.
pub fn detect_with(sample: &[u8], truncated: bool, delimiter: Option<u8>, header: Option<bool>) -> Dialect {
    let delimiter = delimiter.unwrap_or_else(|| detect_delimiter(sample, truncated));
    let records = sample_records(sample, delimiter, truncated);
    if header != Some(false) && has_row_names(&records) {
        return Dialect { delimiter, has_header: true, row_names: true };
    }
    Dialect { delimiter, has_header: header.unwrap_or_else(|| has_header(&records)), row_names: false }
}

fn detect_delimiter(sample: &[u8], truncated: bool) -> u8 {
    let mut best: Option<(f64, usize, u8)> = None;
    for delimiter in DELIMITERS {
        let records = sample_records(sample, delimiter, truncated);
        let Some((width, share)) = modal_width(&records) else { continue };
        if width < 2 {
            continue;
        }
        let better = match best {
            None => true,
            Some((best_share, best_width, _)) => share > best_share || (share == best_share && width > best_width),
        };
        if better {
            best = Some((share, width, delimiter));
        }
    }
    best.map_or(b',', |(_, _, d)| d)
}

/// True when the first record has one field fewer than every other record (of which there is
/// at least one), and more than none.
fn has_row_names(records: &[Vec<String>]) -> bool {
    let Some((first, body)) = records.split_first() else { return false };
    !first.is_empty() && !body.is_empty() && body.iter().all(|r| r.len() == first.len() + 1)
}

/// The most common field count and the share of records that have it.
fn modal_width(records: &[Vec<String>]) -> Option<(usize, f64)> {
    if records.is_empty() {
        return None;
    }
    let mut counts = std::collections::BTreeMap::<usize, usize>::new();
    for r in records {
        *counts.entry(r.len()).or_default() += 1;
    }
    let (width, n) = counts.into_iter().max_by_key(|&(w, n)| (n, w))?;
    Some((width, n as f64 / records.len() as f64))
}

fn fits(dtype: DType, value: &str) -> bool {
    match dtype {
        DType::Int64 => matches!(parse_int(value), IntLiteral::Value(_)),
        DType::Float64 => parse_float(value).is_some(),
        DType::Bool => parse_bool(value).is_some(),
        DType::Datetime64 => parse_datetime(value).is_some() || parse_day_month(value).is_some(),
        DType::Object | DType::Category => true,
    }
}

fn has_header(records: &[Vec<String>]) -> bool {
    let Some((first, body)) = records.split_first() else { return true };
    if body.is_empty() {
        return true;
    }
    let (mut header_votes, mut data_votes) = (0, 0);
    for (j, value) in first.iter().enumerate() {
        let mut inference = ColumnInference::default();
        body.iter().filter_map(|r| r.get(j)).for_each(|v| {
            inference.observe(v);
        });
        let dtype = inference.decide().dtype;
        if dtype.is_text() || is_missing(value) {
            continue;
        }
        if fits(dtype, value) {
            data_votes += 1;
        } else {
            header_votes += 1;
        }
    }
    if header_votes + data_votes > 0 {
        return header_votes > data_votes;
    }
    let mut seen = std::collections::HashSet::new();
    first.iter().filter(|v| !v.trim().is_empty()).all(|v| seen.insert(v.trim()))
}

/// Column names from a header record: trimmed; an empty name becomes `column_N` (N counting
/// from 1); a repeated name gets `_2`, `_3`, … appended until it is unique.
pub fn column_names(header: Option<&[String]>, width: usize) -> Vec<String> {
    let raw: Vec<String> = (0..width)
        .map(|i| {
            let name = header.and_then(|h| h.get(i)).map_or("", |s| s.trim());
            if name.is_empty() { format!("column_{}", i + 1) } else { name.to_string() }
        })
        .collect();
    unique_names(raw)
}

/// Makes names unique by appending `_2`, `_3`, … to repeats.
pub fn unique_names(raw: Vec<String>) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for name in raw {
        let mut candidate = name.clone();
        let mut n = 2;
        while !taken.insert(candidate.clone()) {
            candidate = format!("{name}_{n}");
            n += 1;
        }
        out.push(candidate);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialect(text: &str) -> Dialect {
        detect(text.as_bytes(), false)
    }

    #[test]
    fn each_delimiter_is_detected() {
        for d in DELIMITERS {
            let sep = d as char;
            let text = format!("a{sep}b{sep}c\n1{sep}2{sep}3\n4{sep}5{sep}6\n");
            assert_eq!(dialect(&text).delimiter, d, "{sep:?}");
        }
    }

    #[test]
    fn commas_inside_quotes_do_not_fool_the_semicolon_detection() {
        let text = "name;amount\n\"Smith, John\";1,5\n\"Doe, Jane\";2,5\n";
        assert_eq!(dialect(text).delimiter, b';');
    }

    #[test]
    fn a_single_column_file_uses_commas() {
        assert_eq!(dialect("value\n1\n2\n").delimiter, b',');
    }

    #[test]
    fn a_text_header_over_numbers_is_a_header() {
        assert!(dialect("id,amount\n1,2.5\n2,3.5\n").has_header);
    }

    #[test]
    fn numbers_in_the_first_row_mean_no_header() {
        assert!(!dialect("1,2.5,true\n2,3.5,false\n").has_header);
    }

    #[test]
    fn a_tied_vote_keeps_the_first_row_as_data() {
        assert!(!dialect("x,1\n2,3\n4,5\n").has_header);
    }

    #[test]
    fn all_text_files_have_a_header_unless_the_first_row_repeats_a_value() {
        assert!(dialect("name,city\nann,paris\nbob,rome\n").has_header);
        assert!(!dialect("x,x\nann,paris\nbob,rome\n").has_header);
    }

    #[test]
    fn a_header_one_field_short_of_the_rows_means_row_names() {
        // statsmodels' dietox.csv, as R's write.csv without the empty first header cell.
        let d = dialect("\"Pig\",\"Evit\",\"Weight\"\n\"1\",4601,1,26.5\n\"2\",4601,1,27.59999\n");
        assert_eq!((d.delimiter, d.has_header, d.row_names), (b',', true, true));
        // R's write.csv: an empty first header cell, the same width: a plain header.
        let d = dialect("\"\",\"x\",\"y\"\n\"1\",1,2.5\n\"2\",3,4.5\n");
        assert_eq!((d.has_header, d.row_names), (true, false));
        // A ragged body is not row names.
        assert!(!dialect("a,b\n1,2,3\n4,5\n").row_names);
    }

    #[test]
    fn empty_and_repeated_names_are_made_unique() {
        let header = vec!["id".to_string(), "".into(), "id".into(), " name ".into(), "id_2".into()];
        assert_eq!(column_names(Some(&header), 5), ["id", "column_2", "id_2", "name", "id_2_2"]);
        assert_eq!(column_names(None, 2), ["column_1", "column_2"]);
    }
}
