//! `GET /api/datasets/{id}/rows`: pages, filters, sorts and searches, exact on the whole
//! version.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, uuid_of};

/// 250 rows: id 0..249, amount = id × 1.5 (missing every 10th), city cycling through four
/// names, a `tag` with LIKE's wildcards in some values, and an odd column name.
async fn dataset(app: &TestApp) -> uuid::Uuid {
    let cities = ["Paris", "Lyon", "São Paulo", "paris-sud"];
    let mut csv = String::from("id,amount,city,tag,\"odd, name\"\n");
    for i in 0..250 {
        let amount = if i % 10 == 0 { String::new() } else { format!("{}", i as f64 * 1.5) };
        let tag = if i % 50 == 7 { "50%_off" } else { "plain" };
        csv.push_str(&format!("{i},{amount},{},{tag},{}\n", cities[i % 4], i % 3));
    }
    let up = app.upload_ok("Rows", csv.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    app.new_version(&app.admin_key, id, "small", b"id\n1\n").await.expect(201);
    id
}

fn ids(page: &Value) -> Vec<i64> {
    page["rows"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn pages_in_file_order_cover_the_whole_version() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let first = app.get(&app.admin_key, &format!("/api/datasets/{id}/rows?version=0")).await.expect(200);
    assert_eq!(first["version"], 0);
    assert_eq!(first["total"], 250);
    assert_eq!(first["limit"], 100);
    assert_eq!(first["offset"], 0);
    assert_eq!(ids(&first), (0..100).collect::<Vec<_>>());
    assert_eq!(first["columns"][1], json!({"name": "amount", "dtype": "float64"}));
    assert_eq!(first["rows"][0], json!({"id": 0, "amount": null, "city": "Paris", "tag": "plain", "odd, name": 0}));
    let last = app.get(&app.admin_key, &format!("/api/datasets/{id}/rows?version=0&offset=200&limit=1000")).await;
    assert_eq!(ids(&last.expect(200)), (200..250).collect::<Vec<_>>());
    let beyond = app.get(&app.admin_key, &format!("/api/datasets/{id}/rows?version=0&offset=250")).await.expect(200);
    assert_eq!(beyond["rows"], json!([]));
    assert_eq!(beyond["total"], 250);
    let latest = app.get(&app.admin_key, &format!("/api/datasets/{id}/rows")).await.expect(200);
    assert_eq!(latest["version"], 1);
    assert_eq!(latest["rows"], json!([{"id": 1}]));
}

#[tokio::test]
async fn where_order_by_and_columns_make_an_exact_page() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let path = format!(
        "/api/datasets/{id}/rows?version=0&where=amount%20%3E%20300%20AND%20city%20IN%20('Paris','Lyon')&order_by=amount%20DESC&limit=3&columns=id,amount"
    );
    let page = app.get(&app.admin_key, &path).await.expect(200);
    // amount = 1.5·id > 300 ⇔ id > 200; Paris and Lyon are ids ≡ 0, 1 (mod 4); id % 10 == 0 is missing.
    let expected: Vec<i64> = (201..250).rev().filter(|i| i % 4 < 2 && i % 10 != 0).collect();
    assert_eq!(page["total"], expected.len() as u64);
    assert_eq!(ids(&page), expected[..3]);
    assert_eq!(page["columns"], json!([{"name": "id", "dtype": "int64"}, {"name": "amount", "dtype": "float64"}]));
    assert_eq!(page["rows"][0], json!({"id": expected[0], "amount": expected[0] as f64 * 1.5}));

    let nulls_first = app
        .get(
            &app.admin_key,
            &format!("/api/datasets/{id}/rows?version=0&order_by=amount%20ASC%20NULLS%20FIRST&limit=2"),
        )
        .await
        .expect(200);
    assert_eq!(ids(&nulls_first), [0, 10]);
    let odd = app
        .get(
            &app.admin_key,
            &format!(
                "/api/datasets/{id}/rows?version=0&where=%22odd,%20name%22%20=%202&columns=%22odd,%20name%22,id&limit=2"
            ),
        )
        .await
        .expect(200);
    assert_eq!(odd["total"], (0..250).filter(|i| i % 3 == 2).count());
    assert_eq!(odd["rows"][0], json!({"odd, name": 2, "id": 2}));
}

#[tokio::test]
async fn q_finds_text_in_any_text_column_whatever_its_case() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let page = app.get(&app.admin_key, &format!("/api/datasets/{id}/rows?version=0&q=PARIS&limit=1000")).await;
    let page = page.expect(200);
    let expected: Vec<i64> = (0..250).filter(|i| i % 4 == 0 || i % 4 == 3).collect();
    assert_eq!(page["total"], expected.len() as u64);
    assert_eq!(ids(&page), expected);
    let accented = app.get(&app.admin_key, &format!("/api/datasets/{id}/rows?version=0&q=S%C3%83O%20PAULO")).await;
    assert_eq!(accented.expect(200)["total"], 62, "SÃO finds São: case folds beyond ASCII");
    let unaccented = app.get(&app.admin_key, &format!("/api/datasets/{id}/rows?version=0&q=SAO%20PAULO")).await;
    assert_eq!(unaccented.expect(200)["total"], 0, "A is not Ã: the search is by case, not by accent");
    let wildcards = app.get(&app.admin_key, &format!("/api/datasets/{id}/rows?version=0&q=50%25_")).await.expect(200);
    assert_eq!(ids(&wildcards), [7, 57, 107, 157, 207], "% and _ are searched as text");
    let none = app.get(&app.admin_key, &format!("/api/datasets/{id}/rows?version=0&q=%25")).await.expect(200);
    assert_eq!(none["total"], 5);
}

#[tokio::test]
async fn bad_expressions_and_unknown_columns_are_bad_requests() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let bad = |query: &str| {
        let path = format!("/api/datasets/{id}/rows?version=0&{query}");
        let app = &app;
        async move { app.get(&app.admin_key, &path).await.expect_error(400, "bad_request") }
    };
    let message = bad("where=amount%20%3E").await;
    assert!(message.contains("Line: 1, Column"), "{message}");
    let message = bad("where=nope%20%3E%201").await;
    assert!(message.contains("nope"), "{message}");
    let message = bad("columns=id,nope").await;
    assert!(message.contains("nope"), "{message}");
    let message = bad("order_by=nope").await;
    assert!(message.contains("nope"), "{message}");
    let message = bad("where=1%3D1)%20UNION%20SELECT%20*%20FROM%20data%20WHERE%20(1%3D1").await;
    assert!(message.contains("where"), "{message}");
    bad("limit=0").await;
    bad("limit=1001").await;
    let deep = format!("where={}1{}", "(".repeat(5000), ")".repeat(5000));
    bad(&deep).await;
}
