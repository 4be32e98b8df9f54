//! Fuzzing of the CSV path with proptest: the sniffer, the encoding detection, type inference
//! and the whole CSV ingest on arbitrary bytes and on near-CSV text (random delimiters, quotes,
//! line breaks, byte-order marks, UTF-16, NULs). Each property asserts that nothing panics and
//! that a real invariant holds.
//!
//! `cargo test` runs a few cases of each; `scripts/fuzz.sh` runs many (`PROPTEST_CASES`).

use std::collections::HashSet;
use std::io::Write;

use encoding_rs::{UTF_8, UTF_16BE, UTF_16LE};
use proptest::prelude::*;

use super::FileIngestor;
use super::encoding::{Utf8Text, to_utf8, to_utf8_in_chunks};
use super::sniff::{DELIMITERS, column_names, detect};
use crate::domain::dtype::DType;
use crate::domain::inference::{
    ColumnInference, IntLiteral, Temporal, is_category, is_missing, parse_bool, parse_datetime, parse_float, parse_int,
    trim,
};
use crate::domain::preview::{format_date, format_timestamp};
use crate::ports::tables::{IngestError, IngestLimits, TableIngestor};

/// `cases` cases per property, unless `PROPTEST_CASES` says otherwise (as `scripts/fuzz.sh`
/// does). `ProptestConfig::with_cases` would ignore the variable.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

// ---------------------------------------------------------------------------------------------
// Generators

/// Pieces that near-CSV text is made of.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ._:-]{0,8}".prop_map(String::into_bytes),
        2 => prop::sample::select(vec![",", ";", "\t", "|"]).prop_map(|s| s.as_bytes().to_vec()),
        2 => prop::sample::select(vec!["\"", "\"\"", "\n", "\r\n", "\r"]).prop_map(|s| s.as_bytes().to_vec()),
        2 => cell().prop_map(String::into_bytes),
        1 => prop::sample::select(vec!["\0", "\u{feff}", "é", "😀", "\u{2028}", " ", "\x0c"])
            .prop_map(|s| s.as_bytes().to_vec()),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ]
}

/// Text that is almost CSV, then written with a byte-order mark or in another encoding.
fn near_csv() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(token(), 0..120), 0u8..6).prop_map(|(tokens, encoding)| {
        let raw: Vec<u8> = tokens.concat();
        let text = String::from_utf8_lossy(&raw).into_owned();
        match encoding {
            0 => [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
            1 => utf16(&text, false),
            2 => utf16(&text, true),
            3 => encoding_rs::WINDOWS_1252.encode(&text).0.into_owned(),
            // The raw bytes: not always UTF-8.
            _ => raw,
        }
    })
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
    for unit in text.encode_utf16() {
        out.extend_from_slice(&if big_endian { unit.to_be_bytes() } else { unit.to_le_bytes() });
    }
    out
}

/// Cells close to every typed form, and arbitrary text.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "[ \t]{0,2}[+-]?[0-9]{0,21}[ \t]{0,2}",
        2 => "[+-]?[0-9]{0,4}(\\.[0-9]{0,4})?([eE][+-]?[0-9]{0,3})?",
        1 => "[+-]?(inf|INF|Infinity|infinity|nan|NaN)",
        1 => "(true|false|TRUE|False|yes|no|Yes|NO|y|n|t|f|1|0)",
        2 => "[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{0,10})?)?)?( ?(Z|[+-][0-9]{2}(:?[0-9]{2})?))?",
        1 => prop::sample::select(crate::domain::inference::MISSING_TOKENS.to_vec()).prop_map(str::to_string),
        1 => "[a-c]{1,2}",
        1 => any::<String>(),
    ]
}

fn write_temp(dir: &std::path::Path, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join("upload.bin");
    std::fs::File::create(&path).and_then(|mut f| f.write_all(bytes)).expect("write the upload");
    path
}

fn text_of(t: &Utf8Text) -> Vec<u8> {
    let bytes = std::fs::read(&t.file.path).expect("read the text");
    bytes[t.skip as usize..].to_vec()
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

// ---------------------------------------------------------------------------------------------
// Sniffer

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn sniffing_arbitrary_bytes_picks_one_of_the_four_delimiters(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        truncated in any::<bool>(),
    ) {
        let dialect = detect(&bytes, truncated);
        prop_assert!(DELIMITERS.contains(&dialect.delimiter));
    }

    #[test]
    fn sniffing_near_csv_text_picks_one_of_the_four_delimiters(bytes in near_csv(), truncated in any::<bool>()) {
        let dialect = detect(&bytes, truncated);
        prop_assert!(DELIMITERS.contains(&dialect.delimiter));
    }

    #[test]
    fn a_written_table_is_sniffed_with_its_own_delimiter(
        delimiter in prop::sample::select(DELIMITERS.to_vec()),
        table in (2usize..6).prop_flat_map(|width| {
            prop::collection::vec(prop::collection::vec("[a-z0-9 \"\r\n#\u{1}]{0,6}", width), 1..30)
        }),
    ) {
        // Cells hold quotes, line breaks and the delimiter itself (all quoted by the writer),
        // but no other delimiter: only the right one splits every record alike.
        let d = delimiter as char;
        let mut writer = csv::WriterBuilder::new().delimiter(delimiter).from_writer(Vec::new());
        for row in &table {
            let cells: Vec<String> = row.iter().map(|c| c.replace('\u{1}', &d.to_string())).collect();
            writer.write_record(&cells).unwrap();
        }
        let bytes = writer.into_inner().unwrap();
        prop_assert_eq!(detect(&bytes, false).delimiter, delimiter, "{}", String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn names_over_integer_columns_are_a_header_and_integers_are_not(
        delimiter in prop::sample::select(DELIMITERS.to_vec()),
        rows in (2usize..6).prop_flat_map(|width| {
            prop::collection::vec(prop::collection::vec(any::<i64>(), width), 1..20)
        }),
    ) {
        let width = rows[0].len();
        let line = |cells: Vec<String>| cells.join(&(delimiter as char).to_string());
        let body: Vec<String> = rows.iter().map(|r| line(r.iter().map(i64::to_string).collect())).collect();
        let header = line((0..width).map(|i| format!("col {i}")).collect());
        let with_header = format!("{header}\n{}\n", body.join("\n"));
        let dialect = detect(with_header.as_bytes(), false);
        prop_assert_eq!(dialect.delimiter, delimiter);
        prop_assert!(dialect.has_header, "{}", with_header);
        if rows.len() >= 2 {
            let without = format!("{}\n", body.join("\n"));
            prop_assert!(!detect(without.as_bytes(), false).has_header, "{}", without);
        }
    }

    #[test]
    fn column_names_are_unique_and_never_empty(
        header in prop::collection::vec("[a-b_2 ]{0,4}", 0..12),
        extra in 0usize..4,
    ) {
        let width = header.len() + extra;
        let names = column_names(Some(&header), width);
        prop_assert_eq!(names.len(), width);
        prop_assert_eq!(names.iter().collect::<HashSet<_>>().len(), width, "{:?}", names);
        prop_assert!(names.iter().all(|n| !n.trim().is_empty()));
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding detection

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn any_bytes_become_utf8_text_or_a_refusal_with_a_line(
        bytes in prop_oneof![prop::collection::vec(any::<u8>(), 0..600), near_csv()],
        chunk in 1usize..9,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let upload = write_temp(dir.path(), &bytes);
        let whole = to_utf8(&upload, dir.path());
        let chunked = to_utf8_in_chunks(&upload, dir.path(), chunk);
        match (&whole, &chunked) {
            (Ok(a), Ok(b)) => {
                let text = text_of(a);
                prop_assert!(std::str::from_utf8(&text).is_ok(), "the text is not UTF-8");
                // Reading in small chunks changes nothing.
                prop_assert_eq!(&text, &text_of(b));
                prop_assert_eq!(a.source_encoding, b.source_encoding);
                if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
                    prop_assert_eq!(&text[..], &bytes[3..]);
                } else if a.source_encoding == UTF_8 {
                    prop_assert_eq!(&text[..], &bytes[..]);
                    prop_assert!(std::str::from_utf8(&bytes).is_ok());
                }
            }
            (Err(a), Err(b)) => {
                prop_assert_eq!(a, b);
                prop_assert!(matches!(a, IngestError::InvalidAt { line, .. } if *line >= 1), "{a:?}");
            }
            _ => prop_assert!(false, "chunking changed the outcome: {whole:?} vs {chunked:?}"),
        }
    }

    #[test]
    fn invalid_utf8_after_a_bom_is_refused_at_its_line(
        text in "[a-z\n]{0,40}",
        bad in prop::sample::select(vec![vec![0xFFu8], vec![0xC3], vec![0xE2, 0x82], vec![0xED, 0xA0, 0x80]]),
        after in "[a-z\n]{0,10}",
        chunk in 1usize..9,
    ) {
        let bytes = [&[0xEF, 0xBB, 0xBF][..], text.as_bytes(), &bad, after.as_bytes()].concat();
        let dir = tempfile::tempdir().unwrap();
        let upload = write_temp(dir.path(), &bytes);
        let err = to_utf8_in_chunks(&upload, dir.path(), chunk).unwrap_err();
        prop_assert_eq!(err, IngestError::InvalidAt {
            line: 1 + newlines(text.as_bytes()),
            reason: "the text is not valid UTF-8".into(),
        });
    }

    #[test]
    fn text_with_a_byte_order_mark_comes_back_unchanged(
        text in any::<String>(),
        form in 0u8..3,
        chunk in 1usize..9,
    ) {
        let (bytes, encoding) = match form {
            0 => ([&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(), UTF_8),
            1 => (utf16(&text, false), UTF_16LE),
            _ => (utf16(&text, true), UTF_16BE),
        };
        let dir = tempfile::tempdir().unwrap();
        let upload = write_temp(dir.path(), &bytes);
        let t = to_utf8_in_chunks(&upload, dir.path(), chunk).unwrap();
        prop_assert_eq!(t.source_encoding, encoding);
        prop_assert_eq!(text_of(&t), text.into_bytes());
    }

    #[test]
    fn a_legacy_encoding_is_transcoded_exactly_as_a_one_shot_decode(
        bytes in prop::collection::vec(any::<u8>(), 1..400),
        chunk in 1usize..9,
    ) {
        prop_assume!(std::str::from_utf8(&bytes).is_err());
        prop_assume!(!bytes.starts_with(&[0xEF, 0xBB, 0xBF]) && !bytes.starts_with(&[0xFF, 0xFE]) && !bytes.starts_with(&[0xFE, 0xFF]));
        let dir = tempfile::tempdir().unwrap();
        let upload = write_temp(dir.path(), &bytes);
        let result = to_utf8_in_chunks(&upload, dir.path(), chunk);
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        detector.feed(&bytes, true);
        let encoding = detector.guess(None, chardetng::Utf8Detection::Deny);
        match encoding.decode_without_bom_handling_and_without_replacement(&bytes) {
            Some(expected) => {
                let t = result.unwrap();
                prop_assert_eq!(t.source_encoding, encoding);
                prop_assert_eq!(text_of(&t), expected.as_bytes().to_vec());
            }
            None => {
                let err = result.unwrap_err();
                prop_assert!(matches!(err, IngestError::InvalidAt { .. }), "{err:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Type inference

/// The documented rule 3 of `docs/type-inference.md`, written again independently: the first
/// type every non-missing value fits, with out-of-range integers making the column text.
fn expected_dtype(values: &[String]) -> DType {
    let present: Vec<&String> = values.iter().filter(|v| !is_missing(v)).collect();
    if present.is_empty() {
        return DType::Object;
    }
    let all = |f: &dyn Fn(&str) -> bool| present.iter().all(|v| f(v.as_str()));
    let out_of_range = present.iter().any(|v| parse_int(v) == IntLiteral::OutOfRange);
    if all(&|v| matches!(parse_int(v), IntLiteral::Value(_))) {
        return DType::Int64;
    }
    if !out_of_range && all(&|v| parse_float(v).is_some()) {
        return DType::Float64;
    }
    if all(&|v| parse_bool(v).is_some()) {
        return DType::Bool;
    }
    let families: HashSet<_> = present.iter().filter_map(|v| parse_datetime(v).map(|(f, _)| f)).collect();
    if all(&|v| parse_datetime(v).is_some()) && families.len() == 1 {
        return DType::Datetime64;
    }
    let distinct: HashSet<&String> = present.iter().copied().collect();
    if is_category(distinct.len(), present.len() as u64) { DType::Category } else { DType::Object }
}

fn infer(values: &[String]) -> ColumnInference {
    let mut c = ColumnInference::default();
    values.iter().for_each(|v| {
        c.observe(v);
    });
    c
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn the_parsers_agree_with_the_standard_library_and_exclude_each_other(s in prop_oneof![cell(), any::<String>()]) {
        let int = parse_int(&s);
        let float = parse_float(&s);
        match int {
            IntLiteral::Value(v) => {
                prop_assert_eq!(trim(&s).parse::<i64>(), Ok(v));
                // Integers are floats too, with the correctly rounded value (`-0` is the
                // integer 0 and the float -0.0: equal, not the same bits).
                prop_assert_eq!(float, Some(v as f64));
            }
            IntLiteral::OutOfRange => {
                prop_assert!(trim(&s).parse::<i64>().is_err());
                let digits = trim(&s).strip_prefix(['+', '-']).unwrap_or(trim(&s));
                prop_assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
            }
            IntLiteral::NotAnInteger => {}
        }
        if let Some(x) = float {
            prop_assert_eq!(trim(&s).parse::<f64>().map(f64::to_bits), Ok(x.to_bits()));
            prop_assert!(!x.is_nan());
        }
        let kinds = [float.is_some(), parse_bool(&s).is_some(), parse_datetime(&s).is_some()];
        prop_assert!(kinds.iter().filter(|&&k| k).count() <= 1, "{s:?} parses as two types: {kinds:?}");
        if is_missing(&s) {
            prop_assert!(kinds.iter().all(|&k| !k), "a missing token {s:?} parses as a value");
        }
        if let Some((family, t)) = parse_datetime(&s) {
            match t {
                Temporal::Date(d) => {
                    prop_assert!((-719_162..=2_932_896).contains(&d), "{s:?} → {d}");
                    prop_assert_eq!(format_date(d), trim(&s).replace('/', "-"));
                }
                Temporal::Micros(m) => {
                    prop_assert_ne!(family.temporal_kind(), crate::domain::dtype::TemporalKind::Date);
                    // Years 0001–9999, give or take a day of time-zone offset.
                    prop_assert!((-62_135_683_200_000_000..=253_402_387_200_000_000).contains(&m), "{s:?} → {m}");
                }
            }
        }
    }

    #[test]
    fn a_column_is_typed_by_the_documented_rule_whatever_the_order(
        values in prop::collection::vec(cell(), 0..40),
        seed in any::<u64>(),
    ) {
        let c = infer(&values);
        let decided = c.decide();
        prop_assert_eq!(decided.dtype, expected_dtype(&values), "{:?}", values);
        prop_assert_eq!(c.missing(), values.iter().filter(|v| is_missing(v)).count() as u64);
        let present = values.iter().filter(|v| !is_missing(v));
        match decided.dtype {
            DType::Int64 => for v in present {
                prop_assert!(matches!(parse_int(v), IntLiteral::Value(_)), "int64 column holds {v:?}");
            },
            DType::Float64 => for v in present {
                prop_assert!(parse_float(v).is_some(), "float64 column holds {v:?}");
            },
            DType::Bool => for v in present {
                prop_assert!(parse_bool(v).is_some(), "bool column holds {v:?}");
            },
            DType::Datetime64 => for v in present {
                let (family, _) = parse_datetime(v).expect("a datetime");
                prop_assert_eq!(Some(family.temporal_kind()), decided.temporal);
            },
            DType::Object | DType::Category => prop_assert_eq!(decided.temporal, None),
        }
        // The decision and the mixed-types report do not depend on the order of the values.
        let mut shuffled = values.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let again = infer(&shuffled);
        prop_assert_eq!(again.decide(), decided);
        prop_assert_eq!(again.mixed("c"), c.mixed("c"));
    }

    #[test]
    fn integers_round_trip(v in any::<i64>(), pad in "[ \t]{0,2}", plus in any::<bool>()) {
        let sign = if plus && v >= 0 { "+" } else { "" };
        prop_assert_eq!(parse_int(&format!("{pad}{sign}{v}{pad}")), IntLiteral::Value(v));
    }

    #[test]
    fn finite_floats_round_trip_bit_for_bit(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        prop_assert_eq!(parse_float(&format!("{x:?}")).map(f64::to_bits), Some(x.to_bits()));
        prop_assert_eq!(parse_float(&format!("{x:e}")).map(f64::to_bits), Some(x.to_bits()));
    }

    #[test]
    fn dates_and_timestamps_round_trip(
        days in -719_162i32..=2_932_896,
        micros in -62_135_596_800_000_000i64..253_402_300_800_000_000,
        offset_minutes in -1439i32..=1439,
    ) {
        prop_assert_eq!(parse_datetime(&format_date(days)).map(|(_, t)| t), Some(Temporal::Date(days)));
        let naive = format_timestamp(micros, false);
        prop_assert_eq!(parse_datetime(&naive).map(|(_, t)| t), Some(Temporal::Micros(micros)));
        prop_assert_eq!(parse_datetime(&format!("{naive}Z")).map(|(_, t)| t), Some(Temporal::Micros(micros)));
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let zoned = format!("{naive}{sign}{:02}:{:02}", offset_minutes.abs() / 60, offset_minutes.abs() % 60);
        prop_assert_eq!(
            parse_datetime(&zoned).map(|(_, t)| t),
            Some(Temporal::Micros(micros - i64::from(offset_minutes) * 60_000_000))
        );
    }
}

#[test]
fn minus_zero_is_the_integer_zero_and_the_float_minus_zero() {
    // Found by `scripts/fuzz.sh` (a wrong invariant in the property above, not a parser bug).
    assert_eq!(parse_int("-0"), IntLiteral::Value(0));
    assert_eq!(parse_float("-0").map(f64::to_bits), Some((-0.0f64).to_bits()));
}

// ---------------------------------------------------------------------------------------------
// The whole CSV ingest

fn ingest(bytes: &[u8]) -> (Result<crate::ports::tables::IngestedTable, IngestError>, Option<usize>) {
    let dir = tempfile::tempdir().unwrap();
    let upload = write_temp(dir.path(), bytes);
    let normalized = dir.path().join("n.parquet");
    let limits =
        IngestLimits { max_columns: 200, max_cell_bytes: 4096, max_row_bytes: 1 << 20, ..IngestLimits::default() };
    let result = FileIngestor::new(dir.path().to_path_buf()).ingest(&upload, &normalized, &limits, &Default::default());
    let rows = result.is_ok().then(|| {
        let file = std::fs::File::open(&normalized).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum()
    });
    (result, rows)
}

fn check_ingest(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (result, rows) = ingest(bytes);
    match result {
        Ok(table) => {
            prop_assert!(table.row_count >= 1);
            prop_assert_eq!(rows, Some(table.row_count as usize));
            prop_assert!(!table.columns.is_empty());
            let names: HashSet<_> = table.columns.iter().map(|c| &c.name).collect();
            prop_assert_eq!(names.len(), table.columns.len(), "column names are unique");
            prop_assert!(table.preview.len() <= 20 && table.preview.len() as u64 <= table.row_count);
        }
        // Every refusal is the uploader's to fix: never an I/O error (which is also how a
        // pass that disagrees with the inference of the pass before it is reported).
        Err(IngestError::Io(e)) => prop_assert!(false, "an I/O error for bad input: {e}"),
        Err(_) => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn ingesting_near_csv_text_never_panics_and_refuses_cleanly(bytes in near_csv()) {
        check_ingest(&bytes)?;
    }

    #[test]
    fn ingesting_arbitrary_bytes_never_panics_and_refuses_cleanly(bytes in prop::collection::vec(any::<u8>(), 1..1024)) {
        check_ingest(&bytes)?;
    }

    #[test]
    fn a_typed_table_keeps_its_row_count(
        delimiter in prop::sample::select(DELIMITERS.to_vec()),
        table in (1usize..5).prop_flat_map(|width| {
            prop::collection::vec(prop::collection::vec(cell().prop_filter("no line breaks", |c| !c.contains(['\n', '\r', '\0'])), width), 1..25)
        }),
    ) {
        let width = table[0].len();
        let mut writer = csv::WriterBuilder::new().delimiter(delimiter).quote_style(csv::QuoteStyle::Always).from_writer(Vec::new());
        writer.write_record((0..width).map(|i| format!("name {i}"))).unwrap();
        for row in &table {
            writer.write_record(row).unwrap();
        }
        let bytes = writer.into_inner().unwrap();
        let (result, rows) = ingest(&bytes);
        let table_read = result.map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(rows, Some(table.len()));
        prop_assert_eq!(table_read.row_count as usize, table.len());
        prop_assert_eq!(table_read.columns.len(), width);
        for (j, column) in table_read.columns.iter().enumerate() {
            let values: Vec<String> = table.iter().map(|r| r[j].clone()).collect();
            prop_assert_eq!(column.dtype, expected_dtype(&values), "column {} of {:?}", j, values);
        }
    }
}
