//! Data contracts: setting, reading and removing one, every new version checked while it is
//! ingested (enforce and warn), checking a stored version, and suggesting a contract.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Reply, TestApp, bearer, spawn_app, uuid_of};

const V0: &str = "id,amount,currency\n1,10.5,EUR\n2,20,USD\n3,30,EUR\n";
/// Row 2 has a negative amount and a lower-case currency, row 3 repeats id 2 with GBP, row 4
/// is empty.
const BAD: &str = "id,amount,currency\n1,10.5,EUR\n2,-5,usd\n2,30,GBP\n,,\n";

fn strict() -> Value {
    json!({
        "mode": "enforce",
        "row_count": {"min": 1},
        "columns": {
            "id": {"dtype": "int64", "unique": true, "max_missing_fraction": 0},
            "amount": {"min": 0, "max": 1000},
            "currency": {"allowed_values": ["EUR", "USD"], "pattern": "^[A-Z]{3}$"}
        }
    })
}

async fn dataset(app: &TestApp) -> (Uuid, Uuid) {
    let project = app.create_project(&app.admin_key, "Contracts").await;
    let up = app.upload(&app.admin_key, project, "Payments", "p.csv", V0.as_bytes()).await.expect(201);
    (project, uuid_of(&up["dataset_id"]))
}

async fn put_contract(app: &TestApp, key: &str, id: Uuid, body: Value) -> Reply {
    let path = format!("/api/datasets/{id}/contract");
    app.send(app.client.put(path).header("Authorization", bearer(key)).body_json(&body)).await
}

fn checks(violations: &Value) -> Vec<(String, String, u64)> {
    violations
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let column = v["column"].as_str().unwrap_or("").to_string();
            (column, v["check"].as_str().unwrap().to_string(), v["failing_count"].as_u64().unwrap())
        })
        .collect()
}

fn expected(list: &[(&str, &str, u64)]) -> Vec<(String, String, u64)> {
    list.iter().map(|(c, k, n)| (c.to_string(), k.to_string(), *n)).collect()
}

#[tokio::test]
async fn an_enforced_contract_refuses_a_violating_version_with_every_failing_check_and_stores_nothing() {
    let app = spawn_app().await;
    let (_, id) = dataset(&app).await;
    let stored = put_contract(&app, &app.admin_key, id, strict()).await.expect(200);
    assert_eq!(stored["mode"], "enforce");
    assert_eq!(
        stored["columns"]["amount"],
        json!({"required": true, "min": 0.0, "max": 1000.0, "unique": false, "mostly": 1.0})
    );
    let before = app.stored_artifacts().await.len();

    let refused = app.new_version(&app.admin_key, id, "bad", BAD.as_bytes()).await;
    let message = refused.expect_error(422, "contract_violation");
    assert!(message.contains("nothing was stored"), "{message}");
    let violations = &refused.json()["error"]["violations"];
    assert_eq!(
        checks(violations),
        expected(&[
            ("id", "max_missing_fraction", 1),
            ("id", "unique", 1),
            ("amount", "min", 1),
            ("currency", "allowed_values", 2),
            ("currency", "pattern", 1),
        ])
    );
    assert_eq!(
        violations[3]["examples"],
        json!([{"row": 2, "value": "usd"}, {"row": 3, "value": "GBP"}]),
        "1-based data rows"
    );
    assert_eq!(violations[1]["examples"], json!([{"row": 3, "value": 2}]));
    assert!(
        (violations[3]["failing_fraction"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12,
        "of the 3 non-missing values"
    );
    let list = app.get(&app.admin_key, &format!("/api/datasets/{id}/versions")).await.expect(200);
    assert_eq!(list["total"], 1, "nothing was stored");
    assert_eq!(app.stored_artifacts().await.len(), before);

    let good = "id,amount,currency\n4,1,USD\n5,2,EUR\n";
    let accepted = app.new_version(&app.admin_key, id, "good", good.as_bytes()).await.expect(201);
    assert_eq!(accepted["contract"], json!({"passed": true, "violations": []}));
}

#[tokio::test]
async fn a_warning_contract_stores_the_version_with_its_violations_on_the_version_and_its_quality() {
    let app = spawn_app().await;
    let (_, id) = dataset(&app).await;
    let mut warn = strict();
    warn["mode"] = json!("warn");
    put_contract(&app, &app.admin_key, id, warn).await.expect(200);
    let stored = app.new_version(&app.admin_key, id, "bad", BAD.as_bytes()).await.expect(201);
    assert_eq!(stored["contract"]["passed"], false);
    assert_eq!(stored["contract"]["violations"].as_array().unwrap().len(), 5);
    let version = stored["dataset_version_id"].as_str().unwrap();
    let detail = app.get(&app.admin_key, &format!("/api/dataset-versions/{version}")).await.expect(200);
    assert_eq!(detail["contract"], stored["contract"]);
    let quality = app.get(&app.admin_key, &format!("/api/datasets/{id}/quality")).await.expect(200);
    assert_eq!(quality["contract"], stored["contract"]);
    let first = app.get(&app.admin_key, &format!("/api/datasets/{id}/quality?version=0")).await.expect(200);
    assert!(first.get("contract").is_none(), "version 0 was uploaded before the contract");
    let v0 = app.get(&app.admin_key, &format!("/api/datasets/{id}/versions")).await.expect(200);
    let v0_id = v0["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.get(&app.admin_key, &format!("/api/dataset-versions/{v0_id}")).await.expect(200)["contract"],
        Value::Null
    );
}

#[tokio::test]
async fn mostly_the_shape_checks_and_the_row_count_decide_too() {
    let app = spawn_app().await;
    let (_, id) = dataset(&app).await;
    let contract = json!({
        "row_count": {"min": 5},
        "allow_extra_columns": false,
        "columns": {
            "id": {"dtype": "float64"},
            "amount": {"max": 25, "mostly": 0.5},
            "gone": {},
            "optional": {"required": false}
        }
    });
    put_contract(&app, &app.admin_key, id, contract).await.expect(200);
    let file = "id,amount,currency,extra\n1,10,EUR,x\n2,30,USD,y\n3,20,EUR,z\n";
    let refused = app.new_version(&app.admin_key, id, "shape", file.as_bytes()).await;
    refused.expect_error(422, "contract_violation");
    assert_eq!(
        checks(&refused.json()["error"]["violations"]),
        expected(&[
            ("", "row_count", 3),
            ("id", "dtype", 3),
            ("gone", "required", 3),
            ("currency", "extra_columns", 3),
            ("extra", "extra_columns", 3),
        ]),
        "one amount over 25 of three is within mostly 0.5"
    );
    assert_eq!(refused.json()["error"]["violations"][0]["column"], Value::Null);
}

#[tokio::test]
async fn a_stored_version_is_checked_and_a_contract_is_suggested_from_one() {
    let app = spawn_app().await;
    let (_, id) = dataset(&app).await;
    app.post_json(&app.admin_key, &format!("/api/datasets/{id}/contract/check"), Value::Null)
        .await
        .expect_error(404, "not_found");
    let suggested =
        app.get(&app.admin_key, &format!("/api/datasets/{id}/contract/suggest?version=0")).await.expect(200);
    assert_eq!(suggested["version"], 0);
    let columns = &suggested["contract"]["columns"];
    assert_eq!(
        columns["id"],
        json!({"dtype": "int64", "required": true, "max_missing_fraction": 0.0, "min": 1.0, "max": 3.0, "unique": true, "mostly": 1.0})
    );
    assert_eq!(columns["currency"]["dtype"], "object");
    // The suggestion is a contract the version passes.
    put_contract(&app, &app.admin_key, id, suggested["contract"].clone()).await.expect(200);
    let check = app
        .post_json(&app.admin_key, &format!("/api/datasets/{id}/contract/check?version=0"), Value::Null)
        .await
        .expect(200);
    assert_eq!(
        (check["version"].clone(), check["passed"].clone(), check["violations"].clone()),
        (json!(0), json!(true), json!([]))
    );
    put_contract(&app, &app.admin_key, id, strict()).await.expect(200);
    let mut warn = strict();
    warn["mode"] = json!("warn");
    put_contract(&app, &app.admin_key, id, warn).await.expect(200);
    app.new_version(&app.admin_key, id, "bad", BAD.as_bytes()).await.expect(201);
    let check =
        app.post_json(&app.admin_key, &format!("/api/datasets/{id}/contract/check"), Value::Null).await.expect(200);
    assert_eq!(
        (check["version"].clone(), check["mode"].clone(), check["passed"].clone()),
        (json!(1), json!("warn"), json!(false))
    );
    assert_eq!(check["violations"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn invalid_contracts_are_refused_and_only_editors_change_contracts() {
    let app = spawn_app().await;
    let (project, id) = dataset(&app).await;
    for (body, named) in [
        (json!({"columns": {"amount": {"dtype": "float"}}}), "unknown dtype"),
        (json!({"columns": {"amount": {"min": 5, "max": 1}}}), "above `max`"),
        (json!({"columns": {"currency": {"pattern": "(["}}}), "regular expression"),
        (json!({"columns": {"amount": {"mostly": 2}}}), "mostly"),
        (json!({"mode": "strict"}), "ContractMode"),
        (json!({"row_count": {"min": 9, "max": 1}}), "row_count"),
        (json!({"columns": {"currency": {"allowed_values": [null]}}}), "allowed_values"),
    ] {
        let message = put_contract(&app, &app.admin_key, id, body).await.expect_error(400, "bad_request");
        assert!(message.contains(named), "{named}: {message}");
    }
    app.get(&app.admin_key, &format!("/api/datasets/{id}/contract")).await.expect_error(404, "not_found");

    let (viewer, viewer_key) = app.create_user("Vera Viewer").await;
    let (editor, editor_key) = app.create_user("Eddie Editor").await;
    app.add_member(project, viewer, "viewer").await;
    app.add_member(project, editor, "editor").await;
    put_contract(&app, &viewer_key, id, strict()).await.expect_error(403, "forbidden");
    let set = put_contract(&app, &editor_key, id, strict()).await.expect(200);
    assert_eq!(set["updated_by"], json!(editor));
    assert_eq!(app.get(&viewer_key, &format!("/api/datasets/{id}/contract")).await.expect(200), set);
    app.delete(&viewer_key, &format!("/api/datasets/{id}/contract")).await.expect_error(403, "forbidden");
    let removed = app.delete(&editor_key, &format!("/api/datasets/{id}/contract")).await;
    assert_eq!(removed.status, 204);
    app.delete(&editor_key, &format!("/api/datasets/{id}/contract")).await.expect_error(404, "not_found");
    // Without a contract, any version is stored.
    let stored = app.new_version(&app.admin_key, id, "bad", BAD.as_bytes()).await.expect(201);
    assert!(stored.get("contract").is_none());
}
