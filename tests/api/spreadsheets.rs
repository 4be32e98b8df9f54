//! Excel workbooks: read by content with the types of their cells, a sheet picked by name,
//! kept as uploaded.

use poem::test::{TestForm, TestFormField};
use rust_xlsxwriter::Workbook;

use crate::helpers::{dtypes, pairs, spawn_app, uuid_of};

#[tokio::test]
async fn a_workbook_exported_by_the_server_uploads_back_as_the_same_table() {
    let app = spawn_app().await;
    let csv = b"id,amount,city,day,ok\n1,10.5,Paris,2024-01-02,true\n2,,Lyon,2024-01-03,false\n3,7.25,Paris,,true\n4,1,Paris,2024-01-05,\n";
    let plain = app.upload_ok("Plain", csv).await;
    let id = uuid_of(&plain["dataset_id"]);
    let xlsx = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=xlsx")).await;
    assert_eq!(xlsx.status.as_u16(), 200);
    let again = app.upload_ok("From Excel", &xlsx.body).await;
    let again_id = uuid_of(&again["dataset_id"]);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{again_id}/columns")).await.expect(200);
    assert_eq!(
        dtypes(&columns),
        pairs(&[("id", "int64"), ("amount", "float64"), ("city", "category"), ("day", "datetime64"), ("ok", "bool")])
    );
    assert_eq!(again["content_hash"], plain["content_hash"], "the same table");
    let original = app.get(&app.admin_key, &format!("/api/datasets/{again_id}/download?format=original")).await;
    assert_eq!(&original.body[..], &xlsx.body[..]);
    assert_eq!(original.headers["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
}

#[tokio::test]
async fn the_sheet_field_picks_a_sheet_and_an_unknown_sheet_is_refused_with_the_names() {
    let app = spawn_app().await;
    let mut book = Workbook::new();
    book.add_worksheet().set_name("Summary").unwrap().write_string(0, 0, "total").unwrap();
    let sheet = book.add_worksheet();
    sheet.set_name("Rows").unwrap();
    sheet.write_string(0, 0, "code").unwrap();
    sheet.write_string(0, 1, "n").unwrap();
    for r in 1..=3u32 {
        sheet.write_string(r, 0, format!("00{r}")).unwrap();
        sheet.write_number(r, 1, f64::from(r * 10)).unwrap();
    }
    let bytes = book.save_to_buffer().unwrap();
    let project = app.create_project(&app.admin_key, "Sheets").await;
    let upload = |sheet: &'static str| {
        TestForm::new()
            .text("project_id", project.to_string())
            .text("name", "Workbook")
            .text("sheet", sheet)
            .field(TestFormField::bytes(bytes.clone()).name("file").filename("book.xlsx"))
    };
    let up = app.post_form(&app.admin_key, "/api/datasets/upload", upload("Rows")).await.expect(201);
    let id = uuid_of(&up["dataset_id"]);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(dtypes(&columns), pairs(&[("code", "object"), ("n", "int64")]));
    let csv = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=csv")).await;
    assert_eq!(csv.text().replace("\r\n", "\n"), "code,n\n001,10\n002,20\n003,30\n");
    let refused = app.post_form(&app.admin_key, "/api/datasets/upload", upload("Nope")).await;
    let message = refused.expect_error(422, "unprocessable_file");
    assert!(message.contains("Summary, Rows"), "{message}");
}

/// An OpenDocument spreadsheet of one sheet "S" whose rows are `rows` (written by hand).
fn ods(rows: &str) -> Vec<u8> {
    use std::io::Write as _;
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="S">{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
    );
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    out.start_file("mimetype", stored).unwrap();
    out.write_all(b"application/vnd.oasis.opendocument.spreadsheet").unwrap();
    out.start_file("META-INF/manifest.xml", deflated).unwrap();
    out.write_all(br#"<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>"#)
        .unwrap();
    out.start_file("content.xml", deflated).unwrap();
    out.write_all(content.as_bytes()).unwrap();
    out.finish().unwrap().into_inner()
}

#[tokio::test]
async fn an_opendocument_spreadsheet_is_read_with_its_cell_types_and_a_repeat_bomb_is_refused() {
    let app = spawn_app().await;
    let cell = |kind: &str, attribute: &str, value: &str| {
        format!(r#"<table:table-cell office:value-type="{kind}" office:{attribute}="{value}"/>"#)
    };
    let text =
        |s: &str| format!(r#"<table:table-cell office:value-type="string"><text:p>{s}</text:p></table:table-cell>"#);
    let mut rows = format!("<table:table-row>{}{}{}</table:table-row>", text("code"), text("n"), text("day"));
    for r in 1..=3 {
        rows += &format!(
            "<table:table-row>{}{}{}</table:table-row>",
            text(&format!("00{r}")),
            cell("float", "value", &format!("{}", r * 10)),
            cell("date", "date-value", &format!("2024-02-0{r}"))
        );
    }
    let bytes = ods(&rows);
    let up = app.upload_ok("Calc", &bytes).await;
    let id = uuid_of(&up["dataset_id"]);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(dtypes(&columns), pairs(&[("code", "object"), ("n", "int64"), ("day", "datetime64")]));
    let csv = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=csv")).await;
    assert_eq!(
        csv.text().replace("\r\n", "\n"),
        "code,n,day\n001,10,2024-02-01\n002,20,2024-02-02\n003,30,2024-02-03\n"
    );
    let original = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=original")).await;
    assert_eq!(&original.body[..], &bytes[..]);
    assert_eq!(original.headers["content-type"], "application/vnd.oasis.opendocument.spreadsheet");

    let bomb = r#"<table:table-row table:number-rows-repeated="1048576"><table:table-cell table:number-columns-repeated="16384" office:value-type="float" office:value="1"/></table:table-row>"#;
    let project = app.create_project(&app.admin_key, "Bombs").await;
    let form = TestForm::new()
        .text("project_id", project.to_string())
        .text("name", "Bomb")
        .field(TestFormField::bytes(ods(bomb)).name("file").filename("bomb.ods"));
    let refused = app.post_form(&app.admin_key, "/api/datasets/upload", form).await;
    let message = refused.expect_error(413, "payload_too_large");
    assert!(message.contains("save it as .xlsx or CSV"), "{message}");
}

#[tokio::test]
async fn a_legacy_xls_workbook_is_read_with_its_cell_types_and_kept_as_uploaded() {
    let app = spawn_app().await;
    // Written by xlwt (tests/fixtures/make_xls_fixtures.py); pandas' reading of it is in
    // expected.json beside it and checked by the adapter's tests.
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xls/typed.xls")).unwrap();
    let project = app.create_project(&app.admin_key, "Legacy").await;
    let upload = |sheet: &'static str| {
        TestForm::new()
            .text("project_id", project.to_string())
            .text("name", "Legacy workbook")
            .text("sheet", sheet)
            .field(TestFormField::bytes(bytes.clone()).name("file").filename("typed.xls"))
    };
    let up = app.post_form(&app.admin_key, "/api/datasets/upload", upload("Data")).await.expect(201);
    let id = uuid_of(&up["dataset_id"]);
    let detail = app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200);
    assert_eq!(detail["dataset"]["rows"], 600);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    let types = dtypes(&columns);
    assert_eq!(
        &types[..5],
        &pairs(&[("id", "int64"), ("amount", "float64"), ("ok", "bool"), ("day", "datetime64"), ("at", "datetime64")])
    );
    assert_eq!(types[5], ("city".to_string(), "category".to_string()));
    let csv = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=csv")).await;
    let text = csv.text().replace("\r\n", "\n");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,amount,ok,day,at,city,code,label"));
    assert_eq!(lines.next(), Some("1,1.25,true,2020-01-02,2021-03-04T06:06:07,Zürich,00001,label number 1 ü"));
    let original = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=original")).await;
    assert_eq!(&original.body[..], &bytes[..]);
    assert_eq!(original.headers["content-type"], "application/vnd.ms-excel");

    let refused = app.post_form(&app.admin_key, "/api/datasets/upload", upload("Nope")).await;
    let message = refused.expect_error(422, "unprocessable_file");
    assert!(message.contains("Data, Notes"), "{message}");
}
