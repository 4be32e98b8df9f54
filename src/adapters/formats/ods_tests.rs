//! OpenDocument spreadsheet uploads: cell types, repeated cells and rows, sheets, and the
//! check of what reading a `.ods` whole would take (`ods_guard`).
use super::excel_tests::{dtypes, ingest, zip_of};
use super::ods_guard::{Footprint, MAX_ODS_MEMORY_BYTES, MAX_XML_ITEM_BYTES, check_content};
use crate::domain::dtype::DType;
use crate::domain::read_hints::ReadHints;
use crate::ports::tables::IngestError;

const MIMETYPE: &[u8] = b"application/vnd.oasis.opendocument.spreadsheet";
const MANIFEST: &[u8] = br#"<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>"#;

/// `content.xml` with one table per (name, rows).
fn content(tables: &[(&str, String)]) -> String {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet>"#,
    );
    for (name, rows) in tables {
        xml.push_str(&format!(r#"<table:table table:name="{name}">{rows}</table:table>"#));
    }
    xml.push_str("</office:spreadsheet></office:body></office:document-content>");
    xml
}

fn ods(tables: &[(&str, String)]) -> Vec<u8> {
    let content = content(tables);
    zip_of(&[("mimetype", MIMETYPE), ("META-INF/manifest.xml", MANIFEST), ("content.xml", content.as_bytes())])
}

fn row(cells: &[String]) -> String {
    format!("<table:table-row>{}</table:table-row>", cells.concat())
}

fn text(s: &str) -> String {
    format!(r#"<table:table-cell office:value-type="string"><text:p>{s}</text:p></table:table-cell>"#)
}

fn number(x: f64) -> String {
    format!(r#"<table:table-cell office:value-type="float" office:value="{x}"><text:p>{x}</text:p></table:table-cell>"#)
}

fn typed(kind: &str, attribute: &str, value: &str) -> String {
    format!(
        r#"<table:table-cell office:value-type="{kind}" office:{attribute}="{value}"><text:p>{value}</text:p></table:table-cell>"#
    )
}

fn empty() -> String {
    "<table:table-cell/>".into()
}

/// A sheet "Data" with a typed column of each kind, and a sheet "Notes".
fn workbook() -> Vec<u8> {
    let header = ["id", "amount", "ok", "day", "at", "midnight", "zip", "clock"].map(text);
    let mut rows = row(&header);
    for r in 1..=4 {
        let id = if r == 2 { text("NA") } else { number(f64::from(r)) };
        rows.push_str(&row(&[
            id,
            number(f64::from(r) + 0.5),
            typed("boolean", "boolean-value", if r % 2 == 0 { "true" } else { "false" }),
            typed("date", "date-value", &format!("2024-01-0{r}")),
            typed("date", "date-value", &format!("2024-01-01T0{r}:30:00")),
            // A date at midnight, as LibreOffice and pandas write dates.
            typed("date", "date-value", &format!("2024-02-0{r}T00:00:00")),
            text(&format!("0{r}100")),
            if r == 1 { typed("time", "time-value", "PT09H30M00S") } else { empty() },
        ]));
    }
    let notes = row(&[text("note")]) + &row(&[text("hello &amp; bye")]);
    ods(&[("Data", rows), ("Notes", notes)])
}

#[test]
fn opendocument_cells_keep_their_types_as_pandas_reads_them() {
    let (table, values) = ingest(&workbook(), &ReadHints::default()).unwrap();
    assert_eq!(table.format.name(), "ods");
    assert_eq!(
        dtypes(&table),
        [
            ("id", DType::Int64),
            ("amount", DType::Float64),
            ("ok", DType::Bool),
            ("day", DType::Datetime64),
            ("at", DType::Datetime64),
            ("midnight", DType::Datetime64),
            ("zip", DType::Object),
            ("clock", DType::Object),
        ]
    );
    assert_eq!(values[0], ["1", "null", "3", "4"]);
    assert_eq!(values[1], ["1.5", "2.5", "3.5", "4.5"]);
    assert_eq!(values[2], ["false", "true", "false", "true"]);
    assert_eq!(values[3], ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]);
    assert_eq!(values[4], ["2024-01-01T01:30:00", "2024-01-01T02:30:00", "2024-01-01T03:30:00", "2024-01-01T04:30:00"]);
    assert_eq!(values[5], ["2024-02-01", "2024-02-02", "2024-02-03", "2024-02-04"], "stored as dates");
    assert_eq!(values[6], ["01100", "02100", "03100", "04100"], "text stays text");
    assert_eq!(values[7], ["PT09H30M00S", "null", "null", "null"], "a duration is text");
}

#[test]
fn the_sheet_hint_picks_an_opendocument_sheet_by_name() {
    let hints = ReadHints { sheet: Some("Notes".into()), ..Default::default() };
    let (table, values) = ingest(&workbook(), &hints).unwrap();
    assert_eq!(dtypes(&table), [("note", DType::Object)]);
    assert_eq!(values[0], ["hello & bye"]);
    let hints = ReadHints { sheet: Some("Nope".into()), ..Default::default() };
    let err = ingest(&workbook(), &hints).unwrap_err();
    assert!(matches!(&err, IngestError::Invalid(m) if m.contains("Data, Notes")), "{err:?}");
}

#[test]
fn repeated_cells_and_rows_are_read_as_copies_and_trailing_blank_repeats_cost_nothing() {
    // As LibreOffice writes a sheet: each row padded with a repeated blank cell to the last
    // column, and the rest of the sheet a repeated blank row.
    let three_sevens =
        r#"<table:table-cell table:number-columns-repeated="3" office:value-type="float" office:value="7"/>"#;
    let blank_to_end = r#"<table:table-cell table:number-columns-repeated="16381"/>"#;
    let rows = row(&["a", "b", "c"].map(text))
        + &format!(r#"<table:table-row table:number-rows-repeated="2">{three_sevens}{blank_to_end}</table:table-row>"#)
        + &row(&[number(1.0), empty(), number(3.0)])
        + r#"<table:table-row table:number-rows-repeated="1048571"><table:table-cell table:number-columns-repeated="16384"/></table:table-row>"#;
    let bytes = ods(&[("Sheet1", rows.clone())]);
    let (table, values) = ingest(&bytes, &ReadHints::default()).unwrap();
    assert_eq!(dtypes(&table), [("a", DType::Int64), ("b", DType::Int64), ("c", DType::Int64)]);
    assert_eq!(values, [["7", "7", "1"], ["7", "7", "null"], ["7", "7", "3"]]);
    let footprint = check_content(content(&[("Sheet1", rows)]).as_bytes()).unwrap();
    // Read: 3 + 3 + 3 cells; the grid 4 × 3, and its copy for the sheet read.
    assert_eq!(footprint.cells, 9 + 12 + 12);
}

#[test]
fn the_estimate_is_never_below_the_grid_calamine_builds() {
    use calamine::{Ods, Reader};
    let cases = [
        row(&[text("x")]) + &row(&[empty(), empty(), number(2.0)]),
        // Blank rows between rows with values are part of the grid.
        row(&[text("x")])
            + r#"<table:table-row table:number-rows-repeated="500"><table:table-cell/></table:table-row>"#
            + &row(&[number(1.0), number(2.0)]),
        format!(r#"<table:table-row table:number-rows-repeated="40">{}</table:table-row>"#, text("y").repeat(30)),
    ];
    for rows in cases {
        let bytes = ods(&[("S", rows.clone())]);
        let mut book = Ods::new(std::io::Cursor::new(bytes)).unwrap();
        let grid = book.worksheet_range("S").unwrap();
        let (height, width) = grid.get_size();
        let footprint = check_content(content(&[("S", rows)]).as_bytes()).unwrap();
        // The estimate counts the grid twice (built, and copied for the sheet read).
        assert!(footprint.cells >= 2 * (height * width) as u64, "{footprint:?} for {height} × {width}");
    }
}

#[test]
fn a_few_bytes_that_would_expand_to_a_huge_grid_are_refused_before_calamine_reads_them() {
    let bomb = r#"<table:table-row table:number-rows-repeated="1048576"><table:table-cell table:number-columns-repeated="16384" office:value-type="float" office:value="1"/></table:table-row>"#;
    let bytes = ods(&[("S", bomb.to_string())]);
    assert!(bytes.len() < 2_000);
    let err = ingest(&bytes, &ReadHints::default()).unwrap_err();
    assert!(matches!(&err, IngestError::TooLarge(m) if m.contains("save it as .xlsx or CSV")), "{err:?}");
    // One cell whose text is four billion spaces.
    let spaces = r#"<table:table-row><table:table-cell office:value-type="string"><text:p><text:s text:c="4000000000"/></text:p></table:table-cell></table:table-row>"#;
    let err = check_content(content(&[("S", spaces.to_string())]).as_bytes()).unwrap_err();
    assert!(matches!(&err, IngestError::TooLarge(_)), "{err:?}");
    // A long text repeated across columns.
    let wide = format!(
        r#"<table:table-row><table:table-cell table:number-columns-repeated="16384" office:value-type="string" office:string-value="{}"/></table:table-row>"#,
        "z".repeat(20_000)
    );
    let err = check_content(content(&[("S", wide)]).as_bytes()).unwrap_err();
    assert!(matches!(&err, IngestError::TooLarge(_)), "{err:?}");
}

#[test]
fn an_xml_item_longer_than_the_limit_is_refused_while_it_is_read() {
    let long = format!(
        "<table:table-row><table:table-cell office:value-type=\"string\"><text:p>{}</text:p></table:table-cell></table:table-row>",
        "w".repeat(MAX_XML_ITEM_BYTES + 10)
    );
    let err = check_content(content(&[("S", long)]).as_bytes()).unwrap_err();
    assert!(matches!(&err, IngestError::Invalid(m) if m.contains("longer than")), "{err:?}");
}

#[test]
fn the_footprint_counts_each_cell_beside_its_formula_and_the_text() {
    let footprint = Footprint { cells: 10, text_bytes: 7 };
    let per_cell = (std::mem::size_of::<calamine::Data>() + std::mem::size_of::<String>()) as u64;
    assert_eq!(footprint.bytes(), 10 * per_cell + 7);
    assert!(Footprint { cells: u64::MAX, text_bytes: 1 }.bytes() > MAX_ODS_MEMORY_BYTES);
}
