//! `/analyze`: figures checked against values computed independently in the test.

use serde_json::{Value, json};

use crate::helpers::{spawn_app, uuid_of};

fn close(a: &Value, b: f64) -> bool {
    let a = a.as_f64().unwrap_or_else(|| panic!("not a number: {a}"));
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[tokio::test]
async fn numeric_text_bool_and_datetime_columns_get_their_statistics() {
    let app = spawn_app().await;
    let amounts = [12.5, 3.0, 7.25, 100.0, 3.0, 8.5, 4.0, 6.0];
    let mut csv = String::from("amount,merchant,flag,day,count\n");
    for (i, a) in amounts.iter().enumerate() {
        let merchant = ["b", "a", "c", "a"][i % 4];
        csv.push_str(&format!("{a},{merchant},{},2025-01-{:02},{}\n", i % 3 == 0, i + 1, i * 2));
    }
    csv.push_str(",a,,,\n");
    let up = app.upload_ok("Stats", csv.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    let body = app.get(&app.admin_key, &format!("/api/datasets/{id}/analyze")).await.expect(200);
    assert_eq!(body["error"], Value::Null);
    let s = &body["statistics"];
    assert_eq!(s["row_count"], 9);
    assert_eq!(s["duplicate_rows"], 0);

    // Expected values by the textbook formulas, written out here.
    let n = amounts.len() as f64;
    let mean = amounts.iter().sum::<f64>() / n;
    let var = amounts.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let mut sorted = amounts.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        let h = (n - 1.0) * p;
        let lo = h.floor() as usize;
        sorted[lo] + (h - lo as f64) * (sorted[(lo + 1).min(sorted.len() - 1)] - sorted[lo])
    };
    let amount = &s["columns"]["amount"];
    assert_eq!(amount["type"], "float64");
    assert_eq!(amount["missing"], 1);
    assert!(close(&amount["missing_percent"], 1.0 / 9.0));
    assert_eq!(amount["unique"], 7);
    assert_eq!(amount["min"], 3.0);
    assert_eq!(amount["max"], 100.0);
    assert!(close(&amount["mean"], mean));
    assert!(close(&amount["std"], var.sqrt()));
    assert!(close(&amount["percentiles"]["p25"], pct(0.25)));
    assert!(close(&amount["percentiles"]["p50"], pct(0.5)));
    assert!(close(&amount["percentiles"]["p75"], pct(0.75)));
    let iqr = pct(0.75) - pct(0.25);
    assert!(close(&amount["iqr"], iqr));
    let outliers = amounts.iter().filter(|&&x| x < pct(0.25) - 1.5 * iqr || x > pct(0.75) + 1.5 * iqr).count();
    assert_eq!(amount["outlier_count"], outliers as u64);
    assert_eq!(amount["histogram"]["counts"].as_array().unwrap().len(), 10);
    assert_eq!(amount["histogram"]["bin_edges"].as_array().unwrap().len(), 11);
    let total: u64 = amount["histogram"]["counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum();
    assert_eq!(total, 8, "histogram counts sum to the non-missing count");
    assert!(amount["skewness"].is_number() && amount["kurtosis"].is_number());
    assert!(amount.get("top_values").is_none());

    let merchant = &s["columns"]["merchant"];
    assert_eq!(merchant["type"], "category");
    assert_eq!(merchant["unique"], 3);
    assert_eq!(merchant["top_values"], json!({"a": 5, "b": 2, "c": 2}));
    assert!(merchant.get("mean").is_none(), "text columns have no numeric figures");

    let flag = &s["columns"]["flag"];
    assert_eq!(flag["type"], "bool");
    assert_eq!(flag["top_values"], json!({"false": 5, "true": 3}));

    let day = &s["columns"]["day"];
    assert_eq!(day["type"], "datetime64");
    assert_eq!(day["min"], "2025-01-01");
    assert_eq!(day["max"], "2025-01-08");
    assert_eq!(day["histogram"]["bin_edges"][0], "2025-01-01T00:00:00");

    let count = &s["columns"]["count"];
    assert_eq!(count["type"], "int64");
    assert_eq!(count["min"], 0);
    assert_eq!(count["max"], 14);

    // count = 2·i and amount are paired on 8 rows; r by the textbook formula:
    let xs: Vec<f64> = (0..8).map(|i| f64::from(i * 2)).collect();
    let mx = xs.iter().sum::<f64>() / 8.0;
    let cov: f64 = xs.iter().zip(&amounts).map(|(x, y)| (x - mx) * (y - mean)).sum();
    let r = cov
        / (xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>().sqrt()
            * amounts.iter().map(|y| (y - mean).powi(2)).sum::<f64>().sqrt());
    assert!(close(&s["correlations"]["amount"]["count"], r));
    assert!(close(&s["correlations"]["count"]["amount"], r));
    assert_eq!(s["correlations"]["amount"]["amount"], 1.0);
    assert!(s["memory_usage"].is_number());
}

#[tokio::test]
async fn undefined_statistics_are_null() {
    let app = spawn_app().await;
    let up = app.upload_ok("One row", b"x,k\n5,1\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let s = app.get(&app.admin_key, &format!("/api/datasets/{id}/analyze")).await.expect(200)["statistics"].clone();
    let x = &s["columns"]["x"];
    assert_eq!(x["mean"], 5.0);
    assert_eq!(x["std"], Value::Null);
    assert_eq!(x["skewness"], Value::Null);
    assert_eq!(x["kurtosis"], Value::Null);
    assert_eq!(s["correlations"]["x"]["k"], Value::Null);
}

#[tokio::test]
async fn an_all_missing_column_has_no_numbers_but_its_missing_count() {
    let app = spawn_app().await;
    let up = app.upload_ok("Empty column", b"a,b\n1,\n2,\n3,NA\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let s = app.get(&app.admin_key, &format!("/api/datasets/{id}/analyze")).await.expect(200)["statistics"].clone();
    assert_eq!(s["columns"]["b"]["missing"], 3);
    assert_eq!(s["columns"]["b"]["missing_percent"], 1.0);
    assert_eq!(s["columns"]["b"]["unique"], 0);
    assert_eq!(s["columns"]["b"]["top_values"], json!({}));
}

#[tokio::test]
async fn duplicate_rows_are_counted() {
    let app = spawn_app().await;
    let up = app.upload_ok("Dups", b"a,b\n1,x\n1,x\n2,y\n1,x\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let s = app.get(&app.admin_key, &format!("/api/datasets/{id}/analyze")).await.expect(200);
    assert_eq!(s["statistics"]["duplicate_rows"], 2);
}

#[tokio::test]
async fn statistics_are_computed_once_and_served_from_the_store() {
    let app = spawn_app().await;
    let up = app.upload_ok("Cached", b"a,b\n1,2\n3,5\n4,4\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let calls = (0..6).map(|_| {
        let app = &app;
        async move { app.get(&app.admin_key, &format!("/api/datasets/{id}/analyze")).await.expect(200) }
    });
    let answers = futures_util::future::join_all(calls).await;
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    let version = uuid_of(&up["dataset_version_id"]).into();
    assert!(app.app.metadata.find_statistics(version).await.unwrap().is_some());
}

#[tokio::test]
async fn analyze_follows_the_access_rules() {
    let app = spawn_app().await;
    let (_, outsider) = app.create_user("Outsider").await;
    let up = app.upload_ok("Private", b"a\n1\n").await;
    let id = uuid_of(&up["dataset_id"]);
    app.get(&outsider, &format!("/api/datasets/{id}/analyze")).await.expect_error(404, "not_found");
    let missing = uuid::Uuid::new_v4();
    app.get(&app.admin_key, &format!("/api/datasets/{missing}/analyze")).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn ten_thousand_columns_are_analyzed_and_the_correlation_matrix_is_skipped_with_a_note() {
    let app = spawn_app().await;
    let width = 10_000;
    let header: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
    let mut csv = header.join(",") + "\n";
    for r in 0..3 {
        let row: Vec<String> = (0..width).map(|i| (i * 3 + r).to_string()).collect();
        csv.push_str(&(row.join(",") + "\n"));
    }
    let up = app.upload_ok("Wide", csv.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    let body = app.get(&app.admin_key, &format!("/api/datasets/{id}/analyze")).await.expect(200);
    let columns = body["statistics"]["columns"].as_object().unwrap();
    assert_eq!(columns.len(), width);
    assert_eq!(columns["c9999"]["mean"], 29998.0);
    assert_eq!(body["statistics"]["correlations"], json!({}));
    assert!(body["error"].as_str().unwrap().contains("10000 numeric columns"), "{}", body["error"]);
}

#[tokio::test]
async fn statistics_are_the_same_whether_duplicates_were_counted_at_upload_or_are_counted_again() {
    let app = spawn_app().await;
    let mut csv = String::from("x,label,y,z\n");
    for i in 0..300 {
        // Rows repeat every 120 lines: 180 duplicates.
        let k = i % 120;
        let y = if k % 7 == 0 { String::new() } else { format!("{}", (k * 37) % 101) };
        csv.push_str(&format!("{}.5,l{},{y},{}\n", k % 50, k % 4, k % 3));
    }
    let up = app.upload_ok("Both ways", csv.as_bytes()).await;
    let version = app.app.metadata.find_version(uuid_of(&up["dataset_version_id"]).into()).await.unwrap().unwrap();
    // With the duplicate count recorded, the pass over whole rows reads only the numeric
    // columns; for a version stored before that count was recorded, it reads every column
    // and counts the duplicates again.
    assert!(version.quality.duplicate_rows.is_some());
    let together = app.app.compute_statistics(&version).await.unwrap();
    let mut older = version.clone();
    older.quality.duplicate_rows = None;
    let whole_rows = app.app.compute_statistics(&older).await.unwrap();
    assert_eq!(together, whole_rows);
    assert_eq!(together.duplicate_rows, 180);
    let names: Vec<&str> = together.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["x", "label", "y", "z"], "columns in file order");
    assert_eq!(together.correlations.len(), 3);
    assert!(together.correlations[0].1[1].1.is_some());
    assert_eq!(together.correlations[2].1[2].1, Some(1.0), "a column with itself is exactly 1");
}

#[tokio::test]
async fn a_category_column_is_read_as_a_dictionary_for_counting_and_its_top_values_are_exact() {
    use arrow::datatypes::DataType;
    use futures_util::StreamExt;
    let app = spawn_app().await;
    let mut csv = String::from("id,label\n");
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..3000 {
        let label = format!("l{}", (i * i) % 7);
        *expected.entry(label.clone()).or_insert(0u64) += 1;
        csv.push_str(&format!("u{i},{label}\n"));
    }
    let up = app.upload_ok("Labels", csv.as_bytes()).await;
    let version = app.app.metadata.find_version(uuid_of(&up["dataset_version_id"]).into()).await.unwrap().unwrap();
    let key = &version.normalized.storage_key;
    let first_type = |column: usize| {
        let tables = app.app.tables.clone();
        let key = key.clone();
        async move {
            let mut batches = tables.batches_with_dictionaries(&key, Some(vec![column])).await.unwrap();
            batches.next().await.unwrap().unwrap().column(0).data_type().clone()
        }
    };
    // The category column is stored dictionary-encoded and read as keys; the unique ids are not.
    assert!(matches!(first_type(1).await, DataType::Dictionary(_, _)), "{:?}", first_type(1).await);
    assert_eq!(first_type(0).await, DataType::Utf8);

    let id = up["dataset_id"].as_str().unwrap();
    let body = app.get(&app.admin_key, &format!("/api/datasets/{id}/analyze")).await.expect(200);
    let label = &body["statistics"]["columns"]["label"];
    assert_eq!(label["type"], "category");
    assert_eq!(label["unique"], expected.len() as u64);
    let mut ranked: Vec<(String, u64)> = expected.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut top_sorted: Vec<(String, u64)> =
        label["top_values"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect();
    top_sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(top_sorted, ranked);
}
