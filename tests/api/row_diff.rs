//! `GET /api/datasets/{id}/diff`: rows added, removed and changed between two versions,
//! matched by a key.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, spawn_app_configured, uuid_of};

async fn two_versions(app: &TestApp, v0: &str, v1: &str) -> Uuid {
    let up = app.upload_ok("Diffed", v0.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    app.new_version(&app.admin_key, id, "next", v1.as_bytes()).await.expect(201);
    id
}

async fn diff(app: &TestApp, id: Uuid, query: &str) -> crate::helpers::Reply {
    app.get(&app.admin_key, &format!("/api/datasets/{id}/diff?v1=0&v2=1&{query}")).await
}

#[tokio::test]
async fn rows_are_counted_as_added_removed_changed_and_unchanged_with_samples_in_key_order() {
    let app = spawn_app().await;
    let v0 = "id,name,amount,old\n4,d,40,x\n1,a,10,x\n2,b,20,x\n3,c,30,x\n6,f,,x\n";
    let v1 = "id,name,amount,new\n5,e,50,y\n2,b,20,y\n3,c,35.5,y\n4,D,40,y\n6,f,,y\n0,z,1,y\n";
    let id = two_versions(&app, v0, v1).await;
    let answer = diff(&app, id, "key=id").await.expect(200);
    assert_eq!(
        (answer["v1"].clone(), answer["v2"].clone(), answer["key"].clone()),
        (json!(0), json!(1), json!(["id"]))
    );
    let counts = ["added", "removed", "changed", "unchanged"].map(|k| answer[k].as_u64().unwrap());
    assert_eq!(counts, [2, 1, 2, 2], "{answer}");
    assert_eq!(
        answer["changed_by_column"],
        json!({"name": 1, "amount": 1}),
        "an int that became a float compares as a number"
    );
    assert_eq!((answer["columns_added"].clone(), answer["columns_removed"].clone()), (json!(["new"]), json!(["old"])));
    let samples = &answer["samples"];
    assert_eq!(
        samples["added"],
        json!([{"id": 0, "name": "z", "amount": 1.0, "new": "y"}, {"id": 5, "name": "e", "amount": 50.0, "new": "y"}])
    );
    assert_eq!(samples["removed"], json!([{"id": 1, "name": "a", "amount": 10, "old": "x"}]));
    assert_eq!(
        samples["changed"],
        json!([
            {"key": {"id": 3}, "changes": {"amount": {"from": 30, "to": 35.5}}},
            {"key": {"id": 4}, "changes": {"name": {"from": "d", "to": "D"}}}
        ]),
        "missing equals missing (id 6), and only changed columns are listed"
    );
    let one = diff(&app, id, "key=id&limit=1").await.expect(200);
    assert_eq!(one["added"], 2, "counts stay exact whatever the limit");
    assert_eq!(one["samples"]["added"], json!([{"id": 0, "name": "z", "amount": 1.0, "new": "y"}]));
    let none = diff(&app, id, "key=id&limit=0").await.expect(200);
    assert_eq!(none["samples"], json!({"added": [], "removed": [], "changed": []}));
}

#[tokio::test]
async fn a_key_of_several_columns_and_missing_key_values_match_like_values() {
    let app = spawn_app().await;
    let v0 = "country,day,sales\nDE,2025-01-01,10\nDE,2025-01-02,11\nFR,2025-01-01,20\n,2025-01-01,5\n";
    let v1 = "country,day,sales\nDE,2025-01-02,12\nFR,2025-01-01,20\nFR,2025-01-02,21\n,2025-01-01,6\n";
    let id = two_versions(&app, v0, v1).await;
    let answer = diff(&app, id, "key=country,day").await.expect(200);
    assert_eq!(["added", "removed", "changed", "unchanged"].map(|k| answer[k].as_u64().unwrap()), [1, 1, 2, 1]);
    assert_eq!(answer["samples"]["removed"], json!([{"country": "DE", "day": "2025-01-01", "sales": 10}]));
    let changed = &answer["samples"]["changed"];
    assert_eq!(changed[0]["key"], json!({"country": null, "day": "2025-01-01"}), "missing sorts first");
    assert_eq!(changed[1]["key"], json!({"country": "DE", "day": "2025-01-02"}));
    assert_eq!(changed[1]["changes"], json!({"sales": {"from": 11, "to": 12}}));
}

#[tokio::test]
async fn a_key_that_is_not_unique_or_not_a_column_is_refused() {
    let app = spawn_app().await;
    let v0 = "id,name\n1,a\n2,b\n";
    let v1 = "id,name\n1,a\n1,b\n2,c\n2,d\n3,e\n";
    let id = two_versions(&app, v0, v1).await;
    let message = diff(&app, id, "key=id").await.expect_error(422, "key_not_unique");
    assert!(
        message.contains("version 1") && message.contains("2 key values") && message.contains("id = 1"),
        "{message}"
    );
    for (query, named) in
        [("key=nope", "nope"), ("key=id,id", "twice"), ("key=", "key"), ("key=id&limit=1001", "limit")]
    {
        let message = diff(&app, id, query).await.expect_error(400, "bad_request");
        assert!(message.contains(named), "{query}: {message}");
    }
    let missing = app.get(&app.admin_key, &format!("/api/datasets/{id}/diff?v1=0&v2=1")).await;
    missing.expect_error(400, "bad_request");
    let unknown = app.get(&app.admin_key, &format!("/api/datasets/{id}/diff?v1=0&v2=7&key=id")).await;
    unknown.expect_error(404, "not_found");
    let (_, stranger) = app.create_user("Stranger").await;
    app.get(&stranger, &format!("/api/datasets/{id}/diff?v1=0&v2=1&key=id")).await.expect_error(404, "not_found");
}

/// 400,000 rows (ids `shift..400,000 + shift` in a scrambled order, a 35-character label and
/// a number, both functions of the id) as a Parquet file: a few MB on disk (every file stays
/// under the 8 MiB the GCS emulator accepts in one request), ~20 MB in memory.
fn wide_versions(shift: i64) -> Vec<u8> {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    let ids: Vec<i64> = (0..400_000i64).map(|i| (i * 7919) % 400_000 + shift).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("value", DataType::Int64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(StringArray::from_iter_values(
            ids.iter().map(|id| format!("item-{:04}-of-a-long-enough-label", id % 1000)),
        )),
        Arc::new(Int64Array::from_iter_values(ids.iter().map(|id| id % 97))),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).expect("a batch");
    let mut out = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut out, schema, None).expect("a writer");
    writer.write(&batch).expect("written");
    writer.close().expect("closed");
    out
}

#[tokio::test]
async fn versions_larger_than_the_query_memory_are_diffed_by_spilling() {
    // 32 MiB for every query at once; each version is 400,000 rows (~20 MB in memory, and
    // more as the sorts see them): the two versions do not fit together, so their sorts spill.
    let app = spawn_app_configured(|s| s.query_memory_bytes = 32 << 20).await;
    let project = app.create_project(&app.admin_key, "Spilled").await;
    let first = wide_versions(0);
    assert!(first.len() < 8 << 20, "{} bytes", first.len());
    let up = app.upload(&app.admin_key, project, "Wide", "wide.parquet", &first).await.expect(201);
    let id = uuid_of(&up["dataset_id"]);
    app.new_version(&app.admin_key, id, "shifted", &wide_versions(10)).await.expect(201);
    let answer = diff(&app, id, "key=id&limit=3").await.expect(200);
    // Ids 10..399999 are in both with values of their own id: unchanged; 0..9 removed;
    // 400000..400009 added.
    assert_eq!(["added", "removed", "changed", "unchanged"].map(|k| answer[k].as_u64().unwrap()), [10, 10, 0, 399_990]);
    let ids = |kind: &str| -> Vec<Value> {
        answer["samples"][kind].as_array().unwrap().iter().map(|r| r["id"].clone()).collect()
    };
    assert_eq!(ids("added"), [json!(400_000), json!(400_001), json!(400_002)]);
    assert_eq!(ids("removed"), [json!(0), json!(1), json!(2)]);
}
