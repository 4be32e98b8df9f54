//! Spreadsheet uploads: cell types, sheets, headers, blank rows and the container and sheet
//! limits of `excel_ingest`.
use std::io::Write as _;

use arrow::array::{Array, RecordBatch};
use arrow::util::display::ArrayFormatter;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use super::excel_ingest::*;
use crate::adapters::formats::FileIngestor;
use crate::domain::dtype::DType;
use crate::domain::inference::ForcedType;
use crate::domain::read_hints::ReadHints;
use crate::domain::records::TableFormat;
use crate::ports::tables::{IngestError, IngestLimits};
use crate::ports::tables::{IngestedTable, TableIngestor};

/// A workbook whose "Data" sheet has a typed column of each kind, and a second sheet.
fn workbook() -> Vec<u8> {
    let mut book = Workbook::new();
    let day = Format::new().set_num_format("yyyy-mm-dd");
    let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let sheet = book.add_worksheet();
    sheet.set_name("Data").unwrap();
    let header = ["id", "amount", "ok", "day", "at", "zip", "mixed", "clock"];
    for (c, name) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *name).unwrap();
    }
    for r in 1..=4u32 {
        sheet.write_number(r, 0, f64::from(r)).unwrap();
        sheet.write_number(r, 1, f64::from(r) + 0.5).unwrap();
        sheet.write_boolean(r, 2, r % 2 == 0).unwrap();
        let date = ExcelDateTime::from_ymd(2024, 1, r as u8).unwrap();
        sheet.write_datetime_with_format(r, 3, &date, &day).unwrap();
        let time = ExcelDateTime::from_ymd(2024, 1, 1).unwrap().and_hms(r as u16, 30, 0).unwrap();
        if r == 1 {
            // A time of day alone (a serial below 1): text, as pandas reads it as a time.
            let clock = Format::new().set_num_format("hh:mm");
            sheet.write_datetime_with_format(r, 7, &ExcelDateTime::from_hms(9, 30, 0).unwrap(), &clock).unwrap();
        }
        sheet.write_datetime_with_format(r, 4, &time, &stamp).unwrap();
        sheet.write_string(r, 5, format!("0{r}100")).unwrap();
    }
    // A missing marker in the integer column; a number and a text in the mixed one.
    sheet.write_string(2, 0, "NA").unwrap();
    sheet.write_number(1, 6, 7.0).unwrap();
    sheet.write_string(2, 6, "seven").unwrap();
    let other = book.add_worksheet();
    other.set_name("Notes").unwrap();
    other.write_string(0, 0, "note").unwrap();
    other.write_string(1, 0, "hello").unwrap();
    book.save_to_buffer().unwrap()
}

pub(super) fn ingest_with(
    bytes: &[u8],
    hints: &ReadHints,
    limits: &IngestLimits,
) -> Result<(IngestedTable, Vec<Vec<String>>), IngestError> {
    let dir = tempfile::tempdir().unwrap();
    let upload = dir.path().join("book.xlsx");
    std::fs::File::create(&upload).unwrap().write_all(bytes).unwrap();
    let normalized = dir.path().join("normalized.parquet");
    let table = FileIngestor::new(dir.path().to_path_buf()).ingest(&upload, &normalized, limits, hints)?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
        std::fs::File::open(&normalized).unwrap(),
        1024,
    )
    .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let columns = (0..table.columns.len())
        .map(|c| {
            let mut values = Vec::new();
            for batch in &batches {
                let column = batch.column(c);
                let formatter = ArrayFormatter::try_new(column.as_ref(), &Default::default()).unwrap();
                for i in 0..column.len() {
                    values.push(if column.is_null(i) { "null".into() } else { formatter.value(i).to_string() });
                }
            }
            values
        })
        .collect();
    Ok((table, columns))
}

pub(super) fn ingest(bytes: &[u8], hints: &ReadHints) -> Result<(IngestedTable, Vec<Vec<String>>), IngestError> {
    ingest_with(bytes, hints, &IngestLimits::default())
}

pub(super) fn dtypes(table: &IngestedTable) -> Vec<(&str, DType)> {
    table.columns.iter().map(|c| (c.name.as_str(), c.dtype)).collect()
}

#[test]
fn cells_keep_their_excel_types_as_pandas_reads_them() {
    let (table, values) = ingest(&workbook(), &ReadHints::default()).unwrap();
    assert_eq!(table.format.name(), "xlsx");
    assert_eq!(
        dtypes(&table),
        [
            ("id", DType::Int64),
            ("amount", DType::Float64),
            ("ok", DType::Bool),
            ("day", DType::Datetime64),
            ("at", DType::Datetime64),
            ("zip", DType::Object),
            ("mixed", DType::Object),
            ("clock", DType::Object),
        ]
    );
    assert_eq!(values[0], ["1", "null", "3", "4"]);
    assert_eq!(values[1], ["1.5", "2.5", "3.5", "4.5"]);
    assert_eq!(values[2], ["false", "true", "false", "true"]);
    assert_eq!(values[3], ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]);
    // Times that are no exact binary fraction of a day (02:30 is 0.1041666… of one) too.
    assert_eq!(values[4], ["2024-01-01T01:30:00", "2024-01-01T02:30:00", "2024-01-01T03:30:00", "2024-01-01T04:30:00"]);
    assert_eq!(values[5], ["01100", "02100", "03100", "04100"], "text stays text");
    assert_eq!(values[6], ["7", "seven", "null", "null"]);
    assert_eq!(values[7], ["09:30:00", "null", "null", "null"]);
}

#[test]
fn the_sheet_hint_picks_a_sheet_by_name_and_an_unknown_name_lists_the_sheets() {
    let hints = ReadHints { sheet: Some("Notes".into()), ..Default::default() };
    let (table, values) = ingest(&workbook(), &hints).unwrap();
    assert_eq!(dtypes(&table), [("note", DType::Object)]);
    assert_eq!(values[0], ["hello"]);
    let hints = ReadHints { sheet: Some("Nope".into()), ..Default::default() };
    let err = ingest(&workbook(), &hints).unwrap_err();
    assert!(matches!(&err, IngestError::Invalid(m) if m.contains("Data, Notes")), "{err:?}");
}

#[test]
fn without_a_header_the_first_row_is_data_and_dtypes_replace_cell_types() {
    let hints = ReadHints { header: Some(false), sheet: Some("Notes".into()), ..Default::default() };
    let (table, values) = ingest(&workbook(), &hints).unwrap();
    assert_eq!(dtypes(&table), [("column_1", DType::Object)]);
    assert_eq!(values[0], ["note", "hello"]);
    let hints = ReadHints { dtypes: [("id".to_string(), DType::Float64)].into(), ..Default::default() };
    let (table, _) = ingest(&workbook(), &hints).unwrap();
    assert_eq!(table.columns[0].dtype, DType::Float64);
    let hints = ReadHints { dtypes: [("mixed".to_string(), DType::Int64)].into(), ..Default::default() };
    let err = ingest(&workbook(), &hints).unwrap_err();
    assert!(matches!(&err, IngestError::Invalid(m) if m.contains("data row 2 holds \"seven\"")), "{err:?}");
}

#[test]
fn a_sheet_wider_than_the_column_limit_is_refused_while_it_is_scanned() {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "a").unwrap();
    sheet.write_string(0, 16_383, "far").unwrap();
    sheet.write_number(1, 0, 1.0).unwrap();
    let err = ingest(&book.save_to_buffer().unwrap(), &ReadHints::default()).unwrap_err();
    assert_eq!(err, IngestError::TooManyColumns { found: 16_384, max: 10_000 });
}

#[test]
fn an_empty_row_inside_a_one_column_sheet_is_a_row_of_a_missing_value() {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (r, v) in [(0, "name"), (1, "x"), (3, "y")] {
        sheet.write_string(r, 0, v).unwrap();
    }
    let (table, values) = ingest(&book.save_to_buffer().unwrap(), &ReadHints::default()).unwrap();
    assert_eq!(table.row_count, 3);
    assert_eq!(values[0], ["x", "null", "y"]);
}

#[test]
fn a_tiny_sheet_that_would_expand_to_a_huge_csv_is_refused_by_the_ratio_guard() {
    let sheet = br#"<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="BDP1"><v>1</v></c></row><row r="1048576"><c r="A1048576"><v>2</v></c></row>"#;
    let err = ingest(&minimal_xlsx(sheet), &ReadHints::default()).unwrap_err();
    assert!(matches!(&err, IngestError::TooLarge(m) if m.contains("as CSV")), "{err:?}");
}

#[test]
fn a_cell_past_excels_last_row_is_refused_before_anything_is_written() {
    let sheet = br#"<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row><row r="900000000"><c r="A900000000"><v>1</v></c></row>"#;
    let err = ingest(&minimal_xlsx(sheet), &ReadHints::default()).unwrap_err();
    assert!(matches!(&err, IngestError::Invalid(m) if m.contains("past Excel's last row")), "{err:?}");
}

#[test]
fn a_text_cell_no_cell_may_hold_is_refused_naming_the_cell() {
    let limits = IngestLimits { max_cell_bytes: 16, ..IngestLimits::default() };
    let long = "x".repeat(17);
    let sheet = format!(
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c><c r="B1" t="inlineStr"><is><t>note</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>a</t></is></c><c r="B2" t="inlineStr"><is><t>short</t></is></c></row><row r="3"><c r="A3" t="inlineStr"><is><t>b</t></is></c><c r="AB3" t="inlineStr"><is><t>{long}</t></is></c></row>"#
    );
    let err = ingest_with(&minimal_xlsx(sheet.as_bytes()), &ReadHints::default(), &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the cell AB3 of the sheet \"Sheet1\" is 17 bytes long, over the limit of 16 bytes a cell"
    );
}

#[test]
fn cell_names_are_excels_letters_and_row_numbers() {
    let names: Vec<String> = [(0, 0), (2, 25), (9, 26), (0, 51), (0, 52), (0, 701), (0, 702), (1_048_575, 16_383)]
        .map(|(r, c)| cell_name(r, c))
        .into();
    assert_eq!(names, ["A1", "Z3", "AA10", "AZ1", "BA1", "ZZ1", "AAA1", "XFD1048576"]);
}

/// A workbook of one sheet whose rows are `sheet_data`, written by hand (as a hostile
/// writer could).
fn minimal_xlsx(sheet_data: &[u8]) -> Vec<u8> {
    let mut worksheet =
        br#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#.to_vec();
    worksheet.extend_from_slice(sheet_data);
    worksheet.extend_from_slice(b"</sheetData></worksheet>");
    zip_of(&[
        ("[Content_Types].xml", br#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/></Types>"#),
        ("_rels/.rels", br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#),
        ("xl/workbook.xml", br#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#),
        ("xl/_rels/workbook.xml.rels", br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#),
        ("xl/worksheets/sheet1.xml", &worksheet),
    ])
}

/// A zip archive holding `entries` (name, bytes), deflated.
pub(super) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        out.start_file(*name, options).unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn an_archive_that_expands_past_the_limit_is_refused_before_the_workbook_is_opened() {
    let huge = vec![b'a'; 4 << 20];
    let bytes = zip_of(&[("xl/workbook.xml", b"<workbook/>"), ("xl/sharedStrings.xml", &huge)]);
    let limits = IngestLimits { max_decompressed_bytes: 1 << 20, ..IngestLimits::default() };
    let err = ingest_with(&bytes, &ReadHints::default(), &limits).unwrap_err();
    assert!(matches!(&err, IngestError::TooLarge(m) if m.contains("MAX_DECOMPRESSED_BYTES")), "{err:?}");
    // Shared strings are found by the reader in any letter case: so are they by the limit.
    let strings = vec![b' '; (MAX_SHARED_STRINGS_BYTES + 1) as usize];
    let bytes = zip_of(&[("xl/workbook.xml", b"<workbook/>"), ("XL\\SharedStrings.xml", &strings)]);
    let err = check_container_of(&bytes).unwrap_err();
    assert!(matches!(&err, IngestError::TooLarge(m) if m.contains("shared strings")), "{err:?}");
}

fn check_container_of(bytes: &[u8]) -> Result<(), IngestError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("book.xlsx");
    std::fs::write(&path, bytes).unwrap();
    // No ratio guard: the limits on sizes alone.
    check_container(&path, TableFormat::Xlsx, &IngestLimits { max_expansion_ratio: 1 << 20, ..IngestLimits::default() })
}

#[test]
fn other_zip_archives_and_opendocument_texts_are_refused_by_name() {
    let err = ingest(&zip_of(&[("data.csv", b"a\n1\n")]), &ReadHints::default()).unwrap_err();
    assert!(matches!(&err, IngestError::Invalid(m) if m.contains("not a spreadsheet")), "{err:?}");
    let odt = zip_of(&[("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"<x/>")]);
    let err = ingest(&odt, &ReadHints::default()).unwrap_err();
    assert!(
        matches!(&err, IngestError::Invalid(m) if m.contains("OpenDocument file that is not a spreadsheet")),
        "{err:?}"
    );
}

#[test]
fn column_types_follow_the_kinds_of_their_cells() {
    let kinds = |f: fn(&mut CellKinds)| {
        let mut k = CellKinds::default();
        f(&mut k);
        k.column_type()
    };
    assert_eq!(kinds(|_| {}), None);
    assert_eq!(kinds(|k| k.numbers = true), Some(ForcedType::Dtype(DType::Int64)));
    assert_eq!(
        kinds(|k| {
            k.numbers = true;
            k.fractions = true
        }),
        Some(ForcedType::Dtype(DType::Float64))
    );
    assert_eq!(
        kinds(|k| {
            k.numbers = true;
            k.bools = true
        }),
        Some(ForcedType::Text)
    );
    assert_eq!(kinds(|k| k.dates = true), Some(ForcedType::Dtype(DType::Datetime64)));
    assert!(!is_whole(1e19) && is_whole(-3.0) && !is_whole(0.5));
}
