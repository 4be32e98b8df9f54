//! `/compare`: schema changes and drift between versions.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, uuid_of};

fn csv(rows: impl Iterator<Item = String>, header: &str) -> Vec<u8> {
    let mut out = format!("{header}\n");
    rows.for_each(|r| {
        out.push_str(&r);
        out.push('\n');
    });
    out.into_bytes()
}

async fn two_versions(app: &TestApp, v0: &[u8], v1: &[u8]) -> uuid::Uuid {
    let up = app.upload_ok("Drift", v0).await;
    let id = uuid_of(&up["dataset_id"]);
    app.new_version(&app.admin_key, id, "next", v1).await.expect(201);
    id
}

#[tokio::test]
async fn a_shifted_distribution_is_high_drift() {
    let app = spawn_app().await;
    let v0 = csv((0..1000).map(|i| format!("{},{}", i % 100, ["a", "b"][i % 2])), "amount,kind");
    let v1 = csv((0..1200).map(|i| format!("{},{}", i % 100 + 500, ["c", "b"][i % 2])), "amount,kind");
    let id = two_versions(&app, &v0, &v1).await;
    let c = app.get(&app.admin_key, &format!("/api/datasets/{id}/compare?v1=0&v2=1")).await.expect(200);
    let s = &c["summary"];
    assert_eq!((s["v1"].clone(), s["v2"].clone()), (json!(0), json!(1)));
    assert_eq!(
        (s["v1_rows"].clone(), s["v2_rows"].clone(), s["rows_diff"].clone()),
        (json!(1000), json!(1200), json!(200))
    );
    let amount = &c["column_diffs"]["amount"];
    assert_eq!(amount["type"], "numeric");
    assert_eq!(amount["shift_level"], "high");
    assert!(amount["psi"].as_f64().unwrap() > 0.25);
    assert_eq!(amount["v1_mean"], 49.5);
    assert_eq!(amount["v2_mean"], 549.5);
    assert!((amount["mean_shift_pct"].as_f64().unwrap() - 1010.1010101).abs() < 1e-6);
    assert_eq!(amount["missing_v1"], 0.0);
    let kind = &c["column_diffs"]["kind"];
    assert_eq!(kind["type"], "categorical");
    assert_eq!(kind["categories_added"], json!(["c"]));
    assert_eq!(kind["categories_removed"], json!(["a"]));
    assert_eq!(kind["shift_level"], "high");
    assert_eq!(kind["top_changes"][0]["value"], "a");
    assert_eq!(kind["top_changes"][0]["v1_freq"], 0.5);
    assert_eq!(kind["top_changes"][0]["v2_freq"], 0.0);
}

#[tokio::test]
async fn a_near_identical_pair_is_low_drift() {
    let app = spawn_app().await;
    let v0 = csv((0..1000).map(|i| format!("{},{}", i % 100, ["a", "b", "c"][i % 3])), "amount,kind");
    let v1 = csv((0..1001).map(|i| format!("{},{}", (i * 7) % 100, ["a", "b", "c"][i % 3])), "amount,kind");
    let id = two_versions(&app, &v0, &v1).await;
    let c = app.get(&app.admin_key, &format!("/api/datasets/{id}/compare?v1=0&v2=1")).await.expect(200);
    assert_eq!(c["column_diffs"]["amount"]["shift_level"], "low");
    assert!(c["column_diffs"]["amount"]["psi"].as_f64().unwrap() < 0.01);
    assert_eq!(c["column_diffs"]["kind"]["shift_level"], "low");
    assert_eq!(c["column_diffs"]["kind"]["categories_added"], json!([]));
}

#[tokio::test]
async fn schema_changes_are_listed() {
    let app = spawn_app().await;
    let v0 = b"id,score,code,gone,day\n1,5,7,x,2025-01-01\n2,6,8,y,2025-01-02\n";
    let v1 = b"id,score,code,day,new\n1,5.5,A7,2025-01-03,z\n2,6.5,B8,2025-02-01,w\n";
    let id = two_versions(&app, v0, v1).await;
    let c = app.get(&app.admin_key, &format!("/api/datasets/{id}/compare?v1=0&v2=1")).await.expect(200);
    let s = &c["summary"];
    assert_eq!(s["columns_added"], json!(["new"]));
    assert_eq!(s["columns_removed"], json!(["gone"]));
    assert_eq!(
        s["columns_type_changed"],
        json!([{"name": "score", "from": "int64", "to": "float64"}, {"name": "code", "from": "int64", "to": "object"}])
    );
    let diffs = c["column_diffs"].as_object().unwrap();
    assert_eq!(diffs.keys().collect::<Vec<_>>(), ["id", "score", "code", "day"]);
    assert_eq!(diffs["score"]["type"], "numeric");
    assert_eq!(
        diffs["code"],
        json!({"type": "type_changed", "missing_v1": 0.0, "missing_v2": 0.0, "from": "int64", "to": "object", "drift": null}),
        "a column that changed kind has no drift verdict"
    );
    assert_eq!(diffs["day"]["type"], "datetime");
    assert_eq!(diffs["day"]["v1_min"], "2025-01-01");
    assert_eq!(diffs["day"]["v2_max"], "2025-02-01");
}

#[tokio::test]
async fn missing_non_integer_or_unknown_versions_answer_4xx() {
    let app = spawn_app().await;
    let id = two_versions(&app, b"a\n1\n2\n", b"a\n3\n4\n").await;
    let base = format!("/api/datasets/{id}/compare");
    for query in ["", "?v1=0", "?v2=1", "?v1=Zero&v2=1", "?v1=0.5&v2=1"] {
        app.get(&app.admin_key, &format!("{base}{query}")).await.expect_error(400, "bad_request");
    }
    app.get(&app.admin_key, &format!("{base}?v1=0&v2=7")).await.expect_error(404, "not_found");
    let no_alias = app.get(&app.admin_key, &format!("{base}?v1=zero&v2=1")).await;
    assert!(no_alias.expect_error(404, "not_found").contains("zero"), "an alias the dataset does not have");
    app.get(&app.admin_key, &format!("{base}?v1=-1&v2=1")).await.expect_error(404, "not_found");
    let same = app.get(&app.admin_key, &format!("{base}?v1=1&v2=1")).await.expect(200);
    assert_eq!(same["column_diffs"]["a"]["psi"], 0.0);
    let (_, outsider) = app.create_user("Outsider").await;
    app.get(&outsider, &format!("{base}?v1=0&v2=1")).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn undefined_drift_figures_are_null() {
    let app = spawn_app().await;
    let id = two_versions(&app, b"a,b\n0,\n0,\n", b"a,b\n1,\n2,\n").await;
    let c = app.get(&app.admin_key, &format!("/api/datasets/{id}/compare?v1=0&v2=1")).await.expect(200);
    assert_eq!(c["column_diffs"]["a"]["mean_shift_pct"], Value::Null, "v1's mean is 0");
    assert_eq!(c["column_diffs"]["b"]["psi"], Value::Null, "no values on either side");
    assert_eq!(c["column_diffs"]["b"]["shift_level"], Value::Null);
}

#[tokio::test]
async fn a_bool_column_that_becomes_text_is_a_type_change() {
    let app = spawn_app().await;
    let id = two_versions(&app, b"flag\ntrue\nfalse\ntrue\n", b"flag\nyes please\nno\nmaybe\n").await;
    let c = app.get(&app.admin_key, &format!("/api/datasets/{id}/compare?v1=0&v2=1")).await.expect(200);
    assert_eq!(c["column_diffs"]["flag"]["type"], "type_changed");
    assert_eq!(c["column_diffs"]["flag"]["from"], "bool");
}
