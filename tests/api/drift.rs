//! `/compare`'s drift verdicts: the test each column gets, the edge cases (ties, constant and
//! all-missing columns, a category one version lacks), `tests=`, `threshold=`,
//! `drift_share=`, and the schema changes with their compatibility. The tests' numbers are
//! checked against SciPy in `src/domain/drift/scipy_fixtures.rs`; here, two figures recorded
//! from SciPy 1.17.1 check that the HTTP answer carries them unchanged.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, uuid_of};

async fn two_versions(app: &TestApp, v0: &str, v1: &str) -> Uuid {
    let up = app.upload_ok("Drift", v0.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    app.new_version(&app.admin_key, id, "next", v1.as_bytes()).await.expect(201);
    id
}

async fn compare(app: &TestApp, id: Uuid, query: &str) -> Value {
    app.get(&app.admin_key, &format!("/api/datasets/{id}/compare?v1=0&v2=1{query}")).await.expect(200)
}

fn csv(header: &str, rows: impl IntoIterator<Item = String>) -> String {
    let mut out = format!("{header}\n");
    for row in rows {
        out += &row;
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn each_kind_of_column_gets_the_test_of_the_default_rule() {
    let app = spawn_app().await;
    let v0 = csv(
        "n,few,label,flag,day",
        (0..8).map(|i| format!("{},{},{},{},2025-01-{:02}", i + 1, i % 3, ["a", "b", "c"][i % 3], i % 2 == 0, i + 1)),
    );
    let v1 = csv(
        "n,few,label,flag,day",
        (0..10).map(|i| format!("{},{},{},{},2025-01-{:02}", i + 4, i % 3, ["a", "b", "c"][i % 3], i % 2 == 0, i + 4)),
    );
    let id = two_versions(&app, &v0, &v1).await;
    let answer = compare(&app, id, "").await;
    let test = |column: &str| answer["column_diffs"][column]["drift"]["test"].clone();
    assert_eq!(test("n"), "ks", "numbers with more than 5 distinct values");
    assert_eq!(test("few"), "chi2", "numbers with at most 5 distinct values are categories");
    assert_eq!(test("label"), "chi2");
    assert_eq!(test("flag"), "ztest", "two values");
    assert_eq!(test("day"), "ks", "datetimes are compared as numbers");
    // n: 1..8 against 4..13: SciPy's ks_2samp gives D = 0.5, p = 0.1659582247817542.
    let n = &answer["column_diffs"]["n"]["drift"];
    assert_eq!(n["statistic"], 0.5);
    assert!((n["p_value"].as_f64().unwrap() - 0.1659582247817542).abs() < 1e-12, "{n}");
    assert_eq!((n["values_v1"].clone(), n["values_v2"].clone()), (json!(8), json!(10)));
    assert_eq!((n["threshold"].clone(), n["drift_detected"].clone()), (json!(0.05), json!(false)));
    assert!(answer["column_diffs"]["n"].get("tests").is_none(), "no tests= asked");
}

#[tokio::test]
async fn a_reference_over_1000_values_is_judged_by_distances() {
    let app = spawn_app().await;
    let v0 = csv("x,c", (0..1200).map(|i| format!("{},{}", i % 400, ["p", "q", "r"][i % 3])));
    let v1 = csv("x,c", (0..1200).map(|i| format!("{},{}", i % 400 + 40, ["p", "q", "r", "r"][i % 4])));
    let id = two_versions(&app, &v0, &v1).await;
    let answer = compare(&app, id, "").await;
    let x = &answer["column_diffs"]["x"]["drift"];
    assert_eq!(
        (x["test"].clone(), x["p_value"].clone(), x["threshold"].clone()),
        (json!("wasserstein"), Value::Null, json!(0.1))
    );
    // Every value moved by 40, a tenth of the range: W₁ = 40, σ₁ of 0..399 = √((400² − 1)/12).
    let sigma = ((400.0f64 * 400.0 - 1.0) / 12.0).sqrt();
    assert!((x["statistic"].as_f64().unwrap() - 40.0 / sigma).abs() < 1e-9, "{x}");
    assert_eq!(x["drift_detected"], true);
    let c = &answer["column_diffs"]["c"]["drift"];
    assert_eq!(c["test"], "jensenshannon");
    let (p, q) = ([1.0 / 3.0; 3], [0.25, 0.25, 0.5]);
    let kl = |a: &[f64], m: &[f64]| a.iter().zip(m).map(|(x, y)| x * (x / y).ln()).sum::<f64>();
    let m: Vec<f64> = p.iter().zip(&q).map(|(a, b)| (a + b) / 2.0).collect();
    let expected = ((kl(&p, &m) + kl(&q, &m)) / 2.0).sqrt();
    assert!((c["statistic"].as_f64().unwrap() - expected).abs() < 1e-12, "{c} vs {expected}");
}

#[tokio::test]
async fn identical_tied_and_constant_columns_do_not_drift() {
    let app = spawn_app().await;
    let rows = |n: usize| csv("tied,constant,label", (0..n).map(|i| format!("{},7,{}", i % 3, ["x", "y"][i % 2])));
    let id = two_versions(&app, &rows(60), &rows(90)).await;
    let answer = compare(&app, id, "").await;
    for column in ["tied", "constant", "label"] {
        let drift = &answer["column_diffs"][column]["drift"];
        assert_eq!(drift["drift_detected"], false, "{column}: {drift}");
        assert_eq!(drift["p_value"], 1.0, "{column}: {drift}");
    }
    assert_eq!(answer["column_diffs"]["constant"]["drift"]["test"], "ztest");
    assert_eq!(answer["summary"]["drifted_columns"], json!([]));
    assert_eq!(
        (answer["summary"]["drift_share"].clone(), answer["summary"]["dataset_drift"].clone()),
        (json!(0.0), json!(false))
    );
}

#[tokio::test]
async fn a_category_one_version_lacks_and_all_missing_columns_are_handled() {
    let app = spawn_app().await;
    // v1 loses "c" entirely and gains "d"; `empty` has no value in either version, `gone`
    // none in v1.
    let v0 = csv(
        "lost,gained,empty,gone",
        (0..30).map(|i| format!("{},{},,{}", ["a", "b", "c"][i % 3], ["a", "b", "c"][i % 3], i)),
    );
    let v1 = csv(
        "lost,gained,empty,gone",
        (0..30).map(|i| format!("{},{},,", ["a", "b"][i % 2], ["a", "b", "c", "d"][i % 4])),
    );
    let id = two_versions(&app, &v0, &v1).await;
    let answer = compare(&app, id, "").await;
    let lost = &answer["column_diffs"]["lost"]["drift"];
    // v2's counts (15, 15, 0) against v1's shares ⅓ each: χ² = 2·(15 − 10)²/10 + 10 = 15, 2 dof.
    assert_eq!(lost["test"], "chi2");
    assert!((lost["statistic"].as_f64().unwrap() - 15.0).abs() < 1e-9, "{lost}");
    assert!((lost["p_value"].as_f64().unwrap() - (-7.5f64).exp()).abs() < 1e-12, "χ²₂ tail is e^(−x/2): {lost}");
    let gained = &answer["column_diffs"]["gained"]["drift"];
    assert_eq!(
        (gained["statistic"].clone(), gained["p_value"].clone()),
        (Value::Null, json!(0.0)),
        "infinite χ²: {gained}"
    );
    assert_eq!(gained["drift_detected"], true);
    assert_eq!(answer["column_diffs"]["empty"]["drift"], Value::Null);
    assert_eq!(answer["column_diffs"]["gone"]["drift"], Value::Null);
    assert_eq!(answer["summary"]["compared_columns"], 2);
    assert_eq!(answer["summary"]["drifted_columns"], json!(["lost", "gained"]));
    assert_eq!(
        (answer["summary"]["drift_share"].clone(), answer["summary"]["dataset_drift"].clone()),
        (json!(1.0), json!(true))
    );
}

#[tokio::test]
async fn asked_tests_thresholds_and_the_dataset_share_change_the_verdicts() {
    let app = spawn_app().await;
    let v0 = csv("x,label", (0..200).map(|i| format!("{},{}", i, ["a", "b", "c"][i % 3])));
    let v1 = csv("x,label", (0..200).map(|i| format!("{},{}", i + 15, ["a", "b", "c"][i % 3])));
    let id = two_versions(&app, &v0, &v1).await;
    let all = "&tests=ks,chi2,ztest,psi,jensenshannon,wasserstein";
    let answer = compare(&app, id, all).await;
    let x = &answer["column_diffs"]["x"];
    let names: Vec<&String> = x["tests"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["ks", "chi2", "ztest", "psi", "jensenshannon", "wasserstein"]);
    assert_eq!(x["tests"]["ztest"], Value::Null, "ten PSI bins are more than two categories");
    assert_eq!(x["tests"]["psi"]["statistic"], x["psi"], "the PSI test is the column's PSI");
    assert_eq!(x["drift"]["test"], "ks", "the first asked test that applies decides");
    let label = &answer["column_diffs"]["label"];
    assert_eq!((label["tests"]["ks"].clone(), label["tests"]["wasserstein"].clone()), (Value::Null, Value::Null));
    assert_eq!(label["drift"]["test"], "chi2");

    // D = 15/200 = 0.075 between 0..199 and 15..214: no drift at 0.05, drift at p < 0.9.
    let strict = compare(&app, id, "").await;
    assert_eq!(strict["column_diffs"]["x"]["drift"]["drift_detected"], false);
    let loose = compare(&app, id, "&threshold=0.9").await;
    assert_eq!(loose["column_diffs"]["x"]["drift"]["threshold"], 0.9);
    assert_eq!(loose["column_diffs"]["x"]["drift"]["drift_detected"], true);
    assert_eq!(loose["summary"]["drift_share"], 0.5);
    assert_eq!(loose["summary"]["dataset_drift"], true, "0.5 reaches the default share");
    let stricter_share = compare(&app, id, "&threshold=0.9&drift_share=0.75").await;
    assert_eq!(stricter_share["summary"]["dataset_drift"], false);

    for (query, named) in [
        ("&tests=ks,anova", "anova"),
        ("&tests=", "tests"),
        ("&threshold=0", "threshold"),
        ("&threshold=-1", "threshold"),
        ("&threshold=NaN", "threshold"),
        ("&drift_share=1.5", "drift_share"),
    ] {
        let reply = app.get(&app.admin_key, &format!("/api/datasets/{id}/compare?v1=0&v2=1{query}")).await;
        let message = reply.expect_error(400, "bad_request");
        assert!(message.contains(named), "{query}: {message}");
    }
}

#[tokio::test]
async fn schema_changes_say_which_are_widening_compatible_or_breaking() {
    let app = spawn_app().await;
    let v0 = csv("id,amount,kind,code,old", (0..40).map(|i| format!("{i},{},{},{},x", i * 2, ["a", "b"][i % 2], i)));
    let v1 = csv("id,amount,kind,code,new", (0..40).map(|i| format!("{i},{}.5,{},c{},y", i * 2, format!("k{i}"), i)));
    let id = two_versions(&app, &v0, &v1).await;
    let answer = compare(&app, id, "").await;
    let changes: Vec<(String, String, String)> = answer["summary"]["schema_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap().to_string();
            (text("column"), text("change"), text("compatibility"))
        })
        .collect();
    let expected = [
        ("amount", "type_changed", "widening"),
        ("kind", "type_changed", "widening"),
        ("code", "type_changed", "breaking"),
        ("new", "added", "compatible"),
        ("old", "removed", "breaking"),
    ];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(changes, expected, "{}", answer["summary"]["schema_changes"]);
    assert_eq!(answer["summary"]["schema_changes"][0]["from"], "int64");
    assert_eq!(answer["summary"]["schema_changes"][0]["to"], "float64");
    assert_eq!(answer["summary"]["schema_changes"][3]["from"], Value::Null);
    // int64 → float64 is still compared as numbers; int64 → object has no verdict.
    assert_eq!(answer["column_diffs"]["amount"]["drift"]["test"], "ks");
    assert_eq!(answer["column_diffs"]["code"]["type"], "type_changed");
    assert_eq!(answer["column_diffs"]["code"]["drift"], Value::Null);
}
