//! Legacy `.xls` uploads: a workbook written by xlwt reads as pandas reads it, formulas by their
//! values, and damaged, hostile or unsupported workbooks are refused by `xls_guard` before
//! calamine reads anything (the workbooks below are written record by record).
use std::io::Write as _;

use proptest::prelude::*;

use super::excel_tests::{dtypes, ingest};
use super::xls_writer::{MAX_FORMAT_BRACKETS, MAX_XLS_MEMORY_BYTES};
use crate::domain::dtype::DType;
use crate::domain::read_hints::ReadHints;
use crate::ports::tables::{IngestError, IngestLimits};

const FORMULA: u16 = 0x0006;
const EOF: u16 = 0x000A;
const FILEPASS: u16 = 0x002F;
const CONTINUE: u16 = 0x003C;
const BOUNDSHEET: u16 = 0x0085;
const MULRK: u16 = 0x00BD;
const XF: u16 = 0x00E0;
const SST: u16 = 0x00FC;
const LABELSST: u16 = 0x00FD;
const NUMBER: u16 = 0x0203;
const LABEL: u16 = 0x0204;
const BOOLERR: u16 = 0x0205;
const STRING: u16 = 0x0207;
const FORMAT: u16 = 0x041E;
const BOF: u16 = 0x0809;

fn record(typ: u16, body: &[u8]) -> Vec<u8> {
    let mut out = typ.to_le_bytes().to_vec();
    out.extend((body.len() as u16).to_le_bytes());
    out.extend(body);
    out
}

fn bof(version: u16, kind: u16) -> Vec<u8> {
    let mut body = vec![0u8; 16];
    body[..2].copy_from_slice(&version.to_le_bytes());
    body[2..4].copy_from_slice(&kind.to_le_bytes());
    record(BOF, &body)
}

/// A cell record's row, column and cell format.
fn place(row: u16, column: u16, xf: u16) -> Vec<u8> {
    [row.to_le_bytes(), column.to_le_bytes(), xf.to_le_bytes()].concat()
}

fn number(row: u16, column: u16, xf: u16, value: f64) -> Vec<u8> {
    record(NUMBER, &[place(row, column, xf), value.to_le_bytes().to_vec()].concat())
}

/// A `LABEL` with a one-byte-a-character text.
fn label(row: u16, column: u16, text: &str) -> Vec<u8> {
    let mut body = place(row, column, 0);
    body.extend((text.len() as u16).to_le_bytes());
    body.push(0);
    body.extend(text.bytes());
    record(LABEL, &body)
}

fn xf(format: u16) -> Vec<u8> {
    let mut body = vec![0u8; 20];
    body[2..4].copy_from_slice(&format.to_le_bytes());
    record(XF, &body)
}

/// A `BOUNDSHEET` for a sheet at `at` of kind `kind` named `name`.
fn boundsheet(at: u32, kind: u8, name: &str) -> Vec<u8> {
    let mut body = at.to_le_bytes().to_vec();
    body.extend([0, kind, name.len() as u8, 0]);
    body.extend(name.bytes());
    record(BOUNDSHEET, &body)
}

/// A Workbook stream: `globals` records, then one sheet per `(name, kind, records)` (each
/// between its BOF and EOF), every BOUNDSHEET pointing at its sheet.
fn stream(globals: &[Vec<u8>], sheets: &[(&str, u8, Vec<Vec<u8>>)]) -> Vec<u8> {
    let head: Vec<u8> = [vec![bof(0x0600, 0x0005)], globals.to_vec()].concat().concat();
    let bounds_len: usize = sheets.iter().map(|(name, ..)| boundsheet(0, 0, name).len()).sum();
    let mut at = head.len() + bounds_len + 4;
    let mut bounds = Vec::new();
    let mut bodies = Vec::new();
    for (name, kind, records) in sheets {
        bounds.extend(boundsheet(at as u32, *kind, name));
        let body: Vec<u8> =
            [vec![bof(0x0600, if *kind == 2 { 0x0020 } else { 0x0010 })], records.clone(), vec![record(EOF, &[])]]
                .concat()
                .concat();
        at += body.len();
        bodies.extend(body);
    }
    [head, bounds, record(EOF, &[]), bodies].concat()
}

/// A compound file (version 3, as Excel writes them) holding `stream` as `name`.
fn compound(name: &str, stream: &[u8]) -> Vec<u8> {
    compound_of(cfb::Version::V3, name, stream)
}

fn compound_of(version: cfb::Version, name: &str, stream: &[u8]) -> Vec<u8> {
    let mut book = cfb::CompoundFile::create_with_version(version, std::io::Cursor::new(Vec::new())).unwrap();
    book.create_stream(name).unwrap().write_all(stream).unwrap();
    book.flush().unwrap();
    book.into_inner().into_inner()
}

/// A workbook of one worksheet "S" holding `cells`.
fn sheet_of(globals: &[Vec<u8>], cells: Vec<Vec<u8>>) -> Vec<u8> {
    compound("/Workbook", &stream(globals, &[("S", 0, cells)]))
}

fn refused(bytes: &[u8]) -> String {
    match ingest(bytes, &ReadHints::default()) {
        Err(IngestError::Invalid(message)) => message,
        other => panic!("{:?}", other.map(|(t, _)| t.columns.len())),
    }
}

/// The fixture's expected columns (tests/fixtures/make_xls_fixtures.py).
fn expected(file: &str, sheet: &str) -> Vec<(String, String, Vec<Option<String>>)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xls/expected.json")).unwrap();
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    all[file][sheet]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let values = c["values"].as_array().unwrap().iter().map(|v| v.as_str().map(str::to_string)).collect();
            (c["name"].as_str().unwrap().to_string(), c["dtype"].as_str().unwrap().to_string(), values)
        })
        .collect()
}

#[test]
fn a_workbook_written_by_xlwt_reads_as_pandas_reads_it() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xls/typed.xls")).unwrap();
    for sheet in ["Data", "Notes"] {
        let hints = ReadHints { sheet: Some(sheet.into()), ..Default::default() };
        let (table, values) = ingest(&bytes, &hints).unwrap();
        assert_eq!(table.format.name(), "xls");
        let expected = expected("typed.xls", sheet);
        assert_eq!(table.columns.len(), expected.len());
        for ((column, ours), (name, pandas_dtype, theirs)) in table.columns.iter().zip(&values).zip(&expected) {
            assert_eq!(&column.name, name);
            let dtype = match pandas_dtype.as_str() {
                "int64" => vec![DType::Int64],
                "float64" => vec![DType::Float64],
                "bool" => vec![DType::Bool],
                d if d.starts_with("datetime64") => vec![DType::Datetime64],
                _ => vec![DType::Object, DType::Category],
            };
            assert!(dtype.contains(&column.dtype), "{name}: {:?} for pandas' {pandas_dtype}", column.dtype);
            // A column of dates at midnight is shown without the time.
            let theirs: Vec<String> = theirs
                .iter()
                .map(|v| v.as_deref().map_or("null".to_string(), |v| v.trim_end_matches("T00:00:00").to_string()))
                .collect();
            assert_eq!(ours, &theirs, "{name}");
        }
    }
}

#[test]
fn the_first_worksheet_is_read_unless_the_sheet_hint_names_another() {
    let chart = ("Chart", 2, vec![number(0, 0, 0, 1.0)]);
    let first = ("First", 0, vec![label(0, 0, "a"), number(1, 0, 0, 1.0)]);
    let second = ("Second", 0, vec![label(0, 0, "b"), number(1, 0, 0, 2.0)]);
    let bytes = compound("/Workbook", &stream(&[], &[chart, first, second]));
    let (table, values) = ingest(&bytes, &ReadHints::default()).unwrap();
    assert_eq!((dtypes(&table), values), (vec![("a", DType::Int64)], vec![vec!["1".to_string()]]));
    let hints = ReadHints { sheet: Some("Second".into()), ..Default::default() };
    let (table, values) = ingest(&bytes, &hints).unwrap();
    assert_eq!((dtypes(&table), values), (vec![("b", DType::Int64)], vec![vec!["2".to_string()]]));
    let hints = ReadHints { sheet: Some("Nope".into()), ..Default::default() };
    let message = match ingest(&bytes, &hints) {
        Err(IngestError::Invalid(m)) => m,
        other => panic!("{:?}", other.is_ok()),
    };
    assert!(message.contains("Chart, First, Second"), "{message}");
    let hints = ReadHints { sheet: Some("Chart".into()), ..Default::default() };
    assert!(matches!(ingest(&bytes, &hints), Err(IngestError::Invalid(m)) if m.contains("not a worksheet")));
}

#[test]
fn formulas_are_read_by_their_values_with_their_cell_format() {
    // XF 1 has the built-in date format 14; a formula's value lies in bytes 6..14 of its record.
    let formula = |column: u16, xf: u16, value: [u8; 8]| {
        record(FORMULA, &[place(1, column, xf), value.to_vec(), vec![0; 6], vec![0, 0]].concat())
    };
    let special = |kind: u8, value: u8| [kind, 0, value, 0, 0, 0, 0xFF, 0xFF];
    let mut string = vec![3, 0, 0];
    string.extend(b"abc");
    let cells = vec![
        label(0, 0, "day"),
        label(0, 1, "text"),
        label(0, 2, "ok"),
        label(0, 3, "ratio"),
        label(0, 4, "n"),
        formula(0, 1, 45000.0f64.to_le_bytes()),
        formula(1, 0, special(0, 0)),
        record(STRING, &string),
        formula(2, 0, special(1, 1)),
        formula(3, 0, special(2, 0x07)),
        formula(4, 0, 2.5f64.to_le_bytes()),
    ];
    let (table, values) = ingest(&sheet_of(&[xf(0), xf(14)], cells), &ReadHints::default()).unwrap();
    assert_eq!(
        dtypes(&table),
        [
            ("day", DType::Datetime64),
            ("text", DType::Object),
            ("ok", DType::Bool),
            // An error value only: missing, and a column of missing values is text.
            ("ratio", DType::Object),
            ("n", DType::Float64)
        ]
    );
    assert_eq!(values, [["2023-03-15"], ["abc"], ["true"], ["null"], ["2.5"]]);
}

#[test]
fn shared_strings_go_on_in_continue_records_with_their_own_width() {
    // String 0: ten characters, four in the SST record one byte each, six in a CONTINUE
    // record (flags byte 1: two bytes each). String 1: rich text whose formatting runs lie in
    // the next CONTINUE. String 2: empty.
    let mut sst = [2u32.to_le_bytes(), 3u32.to_le_bytes()].concat();
    sst.extend([10, 0, 0]);
    sst.extend(b"abcd");
    let mut more = vec![1u8];
    for c in "efgh東京".encode_utf16() {
        more.extend(c.to_le_bytes());
    }
    more.extend([2, 0, 0x08, 1, 0]);
    more.extend(b"xy");
    let runs = vec![0u8; 4];
    let last = vec![0, 0, 0];
    // String 3 begins a CONTINUE record: phonetic data (flag 4, 5 bytes) after its text.
    let mut phonetic = vec![2, 0, 0x04];
    phonetic.extend(5u32.to_le_bytes());
    phonetic.extend(b"pq");
    phonetic.extend([9u8; 5]);
    let labelsst = |row: u16, i: u32| record(LABELSST, &[place(row, 0, 0), i.to_le_bytes().to_vec()].concat());
    let globals = vec![
        record(SST, &sst),
        record(CONTINUE, &more),
        record(CONTINUE, &[runs, last].concat()),
        record(CONTINUE, &phonetic),
    ];
    let cells = vec![label(0, 0, "s"), labelsst(1, 0), labelsst(2, 1), labelsst(3, 2), labelsst(4, 0), labelsst(5, 3)];
    let (_, values) = ingest(&sheet_of(&globals, cells), &ReadHints::default()).unwrap();
    assert_eq!(values, [["abcdefgh東京", "xy", "null", "abcdefgh東京", "pq"]]);
}

#[test]
fn multiple_rk_cells_are_read_one_by_one() {
    // RK values: integers shifted left two bits with bit 1 set; bit 0 set divides by 100.
    let rk = |n: i32, div100: bool| ((n << 2) | 2 | i32::from(div100)) as u32;
    let mut body = [1u16.to_le_bytes(), 1u16.to_le_bytes()].concat();
    for (value, div100) in [(7, false), (1234, true), (-3, false)] {
        body.extend(0u16.to_le_bytes());
        body.extend(rk(value, div100).to_le_bytes());
    }
    body.extend(3u16.to_le_bytes());
    let cells = vec![label(0, 1, "a"), label(0, 2, "b"), label(0, 3, "c"), record(MULRK, &body)];
    let (table, values) = ingest(&sheet_of(&[], cells), &ReadHints::default()).unwrap();
    assert_eq!(dtypes(&table), [("a", DType::Int64), ("b", DType::Float64), ("c", DType::Int64)]);
    assert_eq!(values, [["7"], ["12.34"], ["-3"]]);
}

#[test]
fn an_embedded_chart_inside_a_sheet_is_skipped_and_the_cells_after_it_read() {
    let cells = vec![
        label(0, 0, "n"),
        number(1, 0, 0, 1.0),
        bof(0x0600, 0x0020),
        number(5, 0, 0, 99.0),
        record(EOF, &[]),
        number(2, 0, 0, 2.0),
    ];
    let (_, values) = ingest(&sheet_of(&[], cells), &ReadHints::default()).unwrap();
    assert_eq!(values, [["1", "2"]]);
}

#[test]
fn encrypted_old_and_other_office_files_are_refused_with_what_to_do() {
    let encrypted = compound("/Workbook", &stream(&[record(FILEPASS, &[1, 0, 1, 0])], &[("S", 0, vec![])]));
    assert!(refused(&encrypted).contains("password-protected"));
    let mut old = stream(&[], &[("S", 0, vec![])]);
    old[4..6].copy_from_slice(&0x0500u16.to_le_bytes());
    assert!(refused(&compound("/Workbook", &old)).contains("older than Excel 97"));
    assert!(refused(&compound("/Book", &old)).contains("BIFF5"));
    assert!(refused(&compound("/WordDocument", b"hello")).contains("not an Excel workbook"));
    let mut junk = super::excel_ingest::CFB_MAGIC.to_vec();
    junk.extend([0u8; 504]);
    assert!(refused(&junk).contains("damaged Office compound file"));
}

#[test]
fn damaged_records_are_refused_before_calamine_reads_them() {
    let short_number = record(NUMBER, &place(1, 0, 0));
    // A text that declares 60,000 characters and holds 2.
    let mut long_label = place(1, 0, 0);
    long_label.extend([0x60, 0xEA, 0, b'h', b'i']);
    let bad_index = record(LABELSST, &[place(1, 0, 0), 5u32.to_le_bytes().to_vec()].concat());
    let bad_mulrk = record(MULRK, &[vec![0; 4], vec![0; 6], 9u16.to_le_bytes().to_vec()].concat());
    for (case, cells) in [
        ("short NUMBER", vec![short_number]),
        ("LABEL past its record", vec![record(LABEL, &long_label)]),
        ("shared string past the table", vec![bad_index]),
        ("MULRK columns", vec![bad_mulrk]),
    ] {
        let message = refused(&sheet_of(&[], [vec![label(0, 0, "h")], cells].concat()));
        assert!(message.contains("damaged"), "{case}: {message}");
    }
    let mut truncated = stream(&[], &[("S", 0, vec![label(0, 0, "h"), number(1, 0, 0, 1.0)])]);
    truncated.truncate(truncated.len() - 6);
    assert!(refused(&compound("/Workbook", &truncated)).contains("damaged"));
    let mut far = stream(&[], &[("S", 0, vec![])]);
    // The BOUNDSHEET's position field follows the globals' BOF (20 bytes) and its header.
    far[24..28].copy_from_slice(&1_000_000u32.to_le_bytes());
    assert!(refused(&compound("/Workbook", &far)).contains("damaged"));
}

#[test]
fn two_far_apart_cells_are_refused_for_the_grid_they_would_make() {
    // calamine would hold 65,536 × 256 cells between them (512 MiB at 32 bytes a cell).
    let cells = vec![label(0, 0, "a"), number(65535, 255, 0, 1.0)];
    let err = ingest(&sheet_of(&[], cells), &ReadHints::default()).unwrap_err();
    assert!(
        matches!(&err, IngestError::TooLarge(m) if m.contains(&format!("{} MiB", MAX_XLS_MEMORY_BYTES >> 20)) && m.contains("65536 rows")),
        "{err:?}"
    );
    // Too wide is refused while the copy is written, before calamine builds the grid.
    let limits = IngestLimits { max_columns: 100, ..IngestLimits::default() };
    let dir = tempfile::tempdir().unwrap();
    let upload = dir.path().join("wide.xls");
    std::fs::write(&upload, sheet_of(&[], vec![label(0, 0, "a"), number(1, 150, 0, 1.0)])).unwrap();
    let mut out = tempfile::tempfile().unwrap();
    let err = super::xls_guard::rewrite(&upload, None, &mut out, &limits).unwrap_err();
    assert_eq!(err, IngestError::TooManyColumns { found: 151, max: 100 });
}

#[test]
fn a_sector_table_listing_one_sector_twice_is_refused_before_it_is_read() {
    // cfb would read the FAT sector once for every time the header lists it.
    let mut bytes = compound_of(cfb::Version::V4, "/Workbook", &stream(&[], &[("S", 0, vec![label(0, 0, "a")])]));
    let first = bytes[0x4C..0x50].to_vec();
    for k in 1..109 {
        bytes[0x4C + 4 * k..0x50 + 4 * k].copy_from_slice(&first);
    }
    assert!(refused(&bytes).contains("lists sector 0 twice"), "{}", refused(&bytes));
}

#[test]
fn number_formats_calamine_would_skip_are_renumbered_and_east_asian_dates_are_dates() {
    // Format 100 (a custom number below 164, as Gnumeric writes them), a custom date with a
    // locale in brackets, and built-in 31 (a date in East Asian Excel) with no FORMAT record.
    let format = |index: u16, text: &str| {
        let mut body = index.to_le_bytes().to_vec();
        body.extend((text.len() as u16).to_le_bytes());
        body.push(0);
        body.extend(text.bytes());
        record(FORMAT, &body)
    };
    let globals = vec![format(100, "yyyy-mm-dd"), format(170, "[$-409]d mmm yyyy"), xf(0), xf(100), xf(170), xf(31)];
    let cells = vec![
        label(0, 0, "a"),
        label(0, 1, "b"),
        label(0, 2, "c"),
        number(1, 0, 1, 45000.0),
        number(1, 1, 2, 45001.0),
        number(1, 2, 3, 45002.0),
    ];
    let (table, values) = ingest(&sheet_of(&globals, cells), &ReadHints::default()).unwrap();
    assert_eq!(dtypes(&table), [("a", DType::Datetime64), ("b", DType::Datetime64), ("c", DType::Datetime64)]);
    assert_eq!(values, [["2023-03-15"], ["2023-03-16"], ["2023-03-17"]]);
}

#[test]
fn a_format_of_too_many_brackets_is_left_out_and_its_cells_read_as_numbers() {
    // calamine counts them in a byte: 256 would overflow.
    const { assert!(MAX_FORMAT_BRACKETS < 255) };
    let text = "[".repeat(300) + "yyyy";
    let mut body = 170u16.to_le_bytes().to_vec();
    body.extend((text.len() as u16).to_le_bytes());
    body.push(0);
    body.extend(text.bytes());
    let globals = vec![record(FORMAT, &body), xf(0), xf(170)];
    let (table, values) =
        ingest(&sheet_of(&globals, vec![label(0, 0, "n"), number(1, 0, 1, 3.0)]), &ReadHints::default()).unwrap();
    assert_eq!((dtypes(&table), values), (vec![("n", DType::Int64)], vec![vec!["3".to_string()]]));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]
    /// Whatever bytes of a workbook's stream are changed or cut, the upload is read or refused:
    /// never a panic.
    #[test]
    fn a_changed_or_cut_workbook_is_read_or_refused_never_a_panic(
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<Option<prop::sample::Index>>(),
    ) {
        let mut sst = [1u32.to_le_bytes(), 1u32.to_le_bytes()].concat();
        sst.extend([3, 0, 0]);
        sst.extend(b"abc");
        let formula = record(FORMULA, &[place(2, 1, 1), vec![0, 0, 0, 0, 0, 0, 0xFF, 0xFF], vec![0; 8]].concat());
        let mut string = vec![2, 0, 0];
        string.extend(b"zz");
        let cells = vec![
            label(0, 0, "a"),
            label(0, 1, "b"),
            number(1, 0, 1, 44000.0),
            record(LABELSST, &[place(1, 1, 0), 0u32.to_le_bytes().to_vec()].concat()),
            formula,
            record(STRING, &string),
            record(BOOLERR, &[place(3, 0, 0), vec![1, 0]].concat()),
        ];
        let mut stream = stream(&[xf(0), xf(14), record(SST, &sst)], &[("S", 0, cells)]);
        for (at, byte) in changes {
            let i = at.index(stream.len());
            stream[i] = byte;
        }
        if let Some(cut) = cut {
            stream.truncate(cut.index(stream.len()));
        }
        let _ = ingest(&compound("/Workbook", &stream), &ReadHints::default());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]
    /// Whatever bytes of a compound file are changed (its header, sector tables, directory or
    /// streams), the upload is read or refused: never a panic.
    #[test]
    fn a_changed_compound_file_is_read_or_refused_never_a_panic(
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        small in any::<bool>(),
    ) {
        // 300 numbers fill regular sectors; 3 lie in the mini stream.
        let rows = if small { 3 } else { 300 };
        let cells: Vec<Vec<u8>> = (1..=rows).map(|r| number(r, 0, 0, f64::from(r))).collect();
        let mut bytes = sheet_of(&[], [vec![label(0, 0, "n")], cells].concat());
        for (at, byte) in changes {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = ingest(&bytes, &ReadHints::default());
    }
}
