//! Downloads: XLSX with typed cells, CSV formula escaping, limits.

use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx};

use crate::helpers::{spawn_app, spawn_app_configured, uuid_of};

const TYPED: &str = "id,amount,ok,day,at,label,big\n\
                     1,29.99,true,2025-01-02,2025-01-02T10:30:00Z,=1+1,9007199254740993\n\
                     2,,false,2025-01-03,2025-01-03T00:00:00Z,@cmd,5\n";

fn sheet_xml(bytes: &[u8]) -> (String, String) {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("an xlsx is a zip");
    let mut read = |name: &str| {
        let mut text = String::new();
        zip.by_name(name).unwrap_or_else(|_| panic!("{name} in the workbook")).read_to_string(&mut text).unwrap();
        text
    };
    (read("xl/worksheets/sheet1.xml"), read("xl/styles.xml"))
}

#[tokio::test]
async fn xlsx_downloads_have_typed_cells_and_a_bold_header() {
    let app = spawn_app().await;
    let up = app.upload_ok("Sheet", TYPED.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    let reply = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=xlsx")).await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(reply.headers["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert_eq!(reply.headers["content-disposition"], "attachment; filename=\"Sheet-v0.xlsx\"");

    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(reply.body.to_vec())).unwrap();
    let range = workbook.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][0], Data::String("id".into()));
    assert_eq!(rows[1][0], Data::Float(1.0));
    assert_eq!(rows[1][1], Data::Float(29.99));
    assert_eq!(rows[2][1], Data::Empty, "missing stays empty");
    assert_eq!(rows[1][2], Data::Bool(true));
    let Data::DateTime(day) = &rows[1][3] else { panic!("a date cell: {:?}", rows[1][3]) };
    assert_eq!(day.as_f64(), 45659.0, "2025-01-02 is Excel day 45659");
    let Data::DateTime(at) = &rows[1][4] else { panic!("a datetime cell: {:?}", rows[1][4]) };
    assert!((at.as_f64() - (45659.0 + 10.5 / 24.0)).abs() < 1e-9);
    assert_eq!(rows[1][5], Data::String("=1+1".into()), "text that looks like a formula stays text");
    assert_eq!(rows[1][6], Data::String("9007199254740993".into()), "integers beyond 2^53 stay exact as text");
    assert_eq!(rows[2][6], Data::Float(5.0));

    let (sheet, styles) = sheet_xml(&reply.body);
    assert!(!sheet.contains("<f>"), "no cell is a formula");
    assert!(styles.contains("<b/>"), "a bold font exists");
    assert!(sheet.contains(r#"<c r="A1" s="1""#), "the header uses the bold style: {sheet}");
}

#[tokio::test]
async fn xlsx_is_refused_with_a_hint_to_csv_beyond_the_row_limit() {
    let app = spawn_app_configured(|s| s.max_xlsx_rows = 2).await;
    let up = app.upload_ok("Long", b"a\n1\n2\n3\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let message = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=xlsx")).await;
    let message = message.expect_error(422, "not_exportable");
    assert!(message.contains("format=csv"), "{message}");
    assert_eq!(app.get(&app.admin_key, &format!("/api/datasets/{id}/download")).await.status.as_u16(), 200);
}

#[tokio::test]
async fn csv_formula_escaping_is_opt_in() {
    let app = spawn_app().await;
    let up = app.upload_ok("Injection", b"n,s\n1,=HYPERLINK(\"x\")\n2,-3+4\n3,plain\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let plain = app.get(&app.admin_key, &format!("/api/datasets/{id}/download")).await.text();
    assert_eq!(plain, "n,s\r\n1,\"=HYPERLINK(\"\"x\"\")\"\r\n2,-3+4\r\n3,plain\r\n");
    let escaped = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?escape_formulas=true")).await.text();
    assert_eq!(escaped, "n,s\r\n1,\"'=HYPERLINK(\"\"x\"\")\"\r\n2,'-3+4\r\n3,plain\r\n");
}

#[tokio::test]
async fn csv_formula_escaping_neutralises_the_header_row_too() {
    let app = spawn_app().await;
    let up = app.upload_ok("Header injection", b"=HEADER(),+b,c\n1,x,y\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let escaped = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?escape_formulas=true")).await.text();
    assert_eq!(escaped, "'=HEADER(),'+b,c\r\n1,x,y\r\n");
    let plain = app.get(&app.admin_key, &format!("/api/datasets/{id}/download")).await.text();
    assert_eq!(plain, "=HEADER(),+b,c\r\n1,x,y\r\n");
}

#[tokio::test]
async fn a_large_csv_download_streams_every_row() {
    let app = spawn_app().await;
    let mut csv = String::from("id,value,label\n");
    for i in 0..200_000 {
        csv.push_str(&format!("{i},{}.5,row {}\n", i * 3, i % 97));
    }
    let up = app.upload_ok("Large", csv.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    let reply = app.get(&app.admin_key, &format!("/api/datasets/{id}/download")).await;
    let text = reply.text();
    assert_eq!(text.lines().count(), 200_001);
    let last = 199_999;
    assert_eq!(text.lines().nth(200_000).unwrap(), format!("{last},{}.5,row {}", last * 3, last % 97));
}
