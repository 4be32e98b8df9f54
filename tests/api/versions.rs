use serde_json::json;

use crate::helpers::{spawn_app, uuid_of};

#[tokio::test]
async fn new_versions_are_numbered_from_zero_and_listed_in_order() {
    let app = spawn_app().await;
    let (alice, alice_key) = app.create_user("Alice Chen").await;
    let project = app.create_project(&alice_key, "P").await;
    let _ = alice;
    let up = app.upload(&alice_key, project, "Versioned", "v0.csv", b"a,b\n1,2\n").await.expect(201);
    let id = uuid_of(&up["dataset_id"]);
    let v1 = app.new_version(&alice_key, id, "Added January transactions", b"a,b,c\n1,2,3\n4,5,6\n").await.expect(201);
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["row_count"], 2);
    assert_eq!(v1["column_count"], 3);
    let v2 = app.new_version(&app.admin_key, id, "Third", b"a\n1\n").await.expect(201);
    assert_eq!(v2["version"], 2);

    let list = app.get(&alice_key, &format!("/api/datasets/{id}/versions")).await.expect(200);
    assert_eq!(list["total"], 3);
    assert_eq!(list["limit"], 50);
    let items = list["items"].as_array().unwrap();
    let numbers: Vec<i64> = items.iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [0, 1, 2]);
    assert_eq!(items[0]["created_by_name"], "Alice Chen");
    assert_eq!(items[2]["created_by_name"], "admin");
    assert_eq!(items[1]["description"], "Added January transactions");
    assert_eq!(items[1]["id"], v1["dataset_version_id"]);

    let page = app.get(&alice_key, &format!("/api/datasets/{id}/versions?limit=1&offset=2")).await.expect(200);
    assert_eq!(page["items"][0]["version"], 2);

    let detail = app.get(&alice_key, &format!("/api/datasets/{id}")).await.expect(200);
    assert_eq!(detail["dataset"]["dataset_version_id"], v2["dataset_version_id"]);
    assert_eq!(detail["dataset"]["rows"], 1);
    let columns = app.get(&alice_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(columns, json!({"columns": [{"name": "a", "dtype": "int64"}]}));
}

#[tokio::test]
async fn a_dataset_version_is_served_with_its_columns() {
    let app = spawn_app().await;
    let up = app.upload_ok("One", b"amount,merchant\n1.5,ACME\n2.5,ACME\n3.5,ACME\n").await;
    let vid = up["dataset_version_id"].as_str().unwrap();
    let version = app.get(&app.admin_key, &format!("/api/dataset-versions/{vid}")).await.expect(200);
    assert_eq!(version["id"], up["dataset_version_id"]);
    assert_eq!(version["dataset_id"], up["dataset_id"]);
    assert_eq!(version["version"], 0);
    assert_eq!(version["row_count"], 3);
    assert_eq!(version["column_count"], 2);
    assert_eq!(
        version["columns"],
        json!([{"name": "amount", "dtype": "float64"}, {"name": "merchant", "dtype": "category"}])
    );
    assert!(version["created_at"].is_string());
    let missing = uuid::Uuid::new_v4();
    app.get(&app.admin_key, &format!("/api/dataset-versions/{missing}")).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn a_new_version_needs_a_description_and_an_existing_dataset() {
    let app = spawn_app().await;
    let up = app.upload_ok("D", b"a\n1\n").await;
    let id = uuid_of(&up["dataset_id"]);
    app.new_version(&app.admin_key, id, "  ", b"a\n2\n").await.expect_error(400, "bad_request");
    let missing = uuid::Uuid::new_v4();
    app.new_version(&app.admin_key, missing, "x", b"a\n2\n").await.expect_error(404, "not_found");
}

#[tokio::test]
async fn version_list_limits_out_of_range_answer_400() {
    let app = spawn_app().await;
    let up = app.upload_ok("D", b"a\n1\n").await;
    let id = uuid_of(&up["dataset_id"]);
    for query in ["limit=0", "limit=101", "offset=x"] {
        app.get(&app.admin_key, &format!("/api/datasets/{id}/versions?{query}")).await.expect_error(400, "bad_request");
    }
}

#[tokio::test]
async fn concurrent_new_versions_get_unique_contiguous_numbers() {
    let app = spawn_app().await;
    let up = app.upload_ok("Busy", b"a\n1\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let uploads = (0..16).map(|i| {
        let app = &app;
        async move { app.new_version(&app.admin_key, id, &format!("v{i}"), format!("a\n{i}\n").as_bytes()).await }
    });
    let replies = futures_util::future::join_all(uploads).await;
    let mut numbers: Vec<i64> = replies.iter().map(|r| r.expect(201)["version"].as_i64().unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=16).collect::<Vec<i64>>());
}

#[tokio::test]
async fn concurrent_deletes_and_reads_never_answer_5xx() {
    let app = spawn_app().await;
    let up = app.upload_ok("Racing", b"a,b\n1,x\n2,y\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let paths = ["", "/columns", "/download", "/quality", "/versions", "/analyze", "/lineage"];
    let reads = (0..21).map(|i| {
        let app = &app;
        let path = format!("/api/datasets/{id}{}", paths[i % paths.len()]);
        // Only the status matters: a download that started before the deletion may end early.
        async move {
            let resp = app.client.get(&path).header("Authorization", format!("Bearer {}", app.admin_key)).send().await;
            resp.0.status().as_u16()
        }
    });
    let deletes = (0..3).map(|_| {
        let app = &app;
        async move { app.delete(&app.admin_key, &format!("/api/datasets/{id}")).await.status.as_u16() }
    });
    let (reads, deletes) =
        futures_util::future::join(futures_util::future::join_all(reads), futures_util::future::join_all(deletes))
            .await;
    assert!(reads.iter().all(|s| *s == 200 || *s == 404), "{reads:?}");
    assert_eq!(deletes.iter().filter(|s| **s == 200).count(), 1, "{deletes:?}");
    assert!(deletes.iter().all(|s| *s == 200 || *s == 404), "{deletes:?}");
}

/// A dataset with two versions of different shapes: v0 `a,b` (2 rows), v1 `a,c` (3 rows).
async fn two_versions(app: &crate::helpers::TestApp) -> uuid::Uuid {
    let up = app.upload_ok("Addressed", b"a,b\n1,x\n2,y\n").await;
    let id = uuid_of(&up["dataset_id"]);
    app.new_version(&app.admin_key, id, "second", b"a,c\n10,1.5\n20,2.5\n30,\n").await.expect(201);
    id
}

#[tokio::test]
async fn every_read_route_answers_for_the_version_it_names() {
    let app = spawn_app().await;
    let id = two_versions(&app).await;
    let key = &app.admin_key;

    let v0 = app.get(key, &format!("/api/datasets/{id}?version=0")).await.expect(200);
    assert_eq!(v0["dataset"]["version"], 0);
    assert_eq!(v0["dataset"]["rows"], 2);
    assert_eq!(v0["dataset"]["columns"], 2);
    assert_eq!(v0["preview"], json!([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]));
    let latest = app.get(key, &format!("/api/datasets/{id}")).await.expect(200);
    assert_eq!(latest["dataset"]["version"], 1);
    assert_eq!(latest["dataset"]["rows"], 3);
    assert_eq!(app.get(key, &format!("/api/datasets/{id}?version=latest")).await.expect(200), latest);
    assert_eq!(app.get(key, &format!("/api/datasets/{id}?version=1")).await.expect(200), latest);

    let columns = app.get(key, &format!("/api/datasets/{id}/columns?version=0")).await.expect(200);
    assert_eq!(columns, json!({"columns": [{"name": "a", "dtype": "int64"}, {"name": "b", "dtype": "object"}]}));
    let columns = app.get(key, &format!("/api/datasets/{id}/columns?version=1")).await.expect(200);
    assert_eq!(columns["columns"][1], json!({"name": "c", "dtype": "float64"}));

    let quality = app.get(key, &format!("/api/datasets/{id}/quality?version=1")).await.expect(200);
    let missing = quality["quality"]["checks"].as_array().unwrap().iter().find(|c| c["name"] == "missing_values");
    assert_eq!(missing.unwrap()["passed"], false, "version 1 has a missing cell: {quality}");
    let quality = app.get(key, &format!("/api/datasets/{id}/quality?version=0")).await.expect(200);
    assert_eq!(quality["quality"]["overall_score"], 100.0);

    let stats = app.get(key, &format!("/api/datasets/{id}/analyze?version=0")).await.expect(200);
    assert_eq!(stats["statistics"]["row_count"], 2);
    assert_eq!(stats["statistics"]["columns"]["a"]["max"], 2);
    let stats = app.get(key, &format!("/api/datasets/{id}/analyze")).await.expect(200);
    assert_eq!(stats["statistics"]["columns"]["a"]["max"], 30);

    let csv = app.get(key, &format!("/api/datasets/{id}/download?version=0")).await;
    assert_eq!(csv.status.as_u16(), 200);
    assert_eq!(csv.text(), "a,b\r\n1,x\r\n2,y\r\n");
    let disposition = csv.headers.get("content-disposition").unwrap().to_str().unwrap();
    assert!(disposition.contains("Addressed-v0.csv"), "{disposition}");
    let xlsx = app.get(key, &format!("/api/datasets/{id}/download?version=0&format=xlsx")).await;
    assert_eq!(xlsx.status.as_u16(), 200);
}

#[tokio::test]
async fn an_unknown_version_is_not_found_and_names_the_version() {
    let app = spawn_app().await;
    let id = two_versions(&app).await;
    for route in ["", "/columns", "/quality", "/analyze", "/download"] {
        let reply = app.get(&app.admin_key, &format!("/api/datasets/{id}{route}?version=7")).await;
        let message = reply.expect_error(404, "not_found");
        assert!(message.contains("version 7"), "{route}: {message}");
    }
}

#[tokio::test]
async fn a_version_that_is_not_a_number_latest_or_an_alias_is_a_bad_request() {
    let app = spawn_app().await;
    let id = two_versions(&app).await;
    for bad in ["-1", "1.5", "V1", "", "new%20est", "inf"] {
        let reply = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns?version={bad}")).await;
        let message = reply.expect_error(400, "bad_request");
        assert!(message.contains("version"), "{bad}: {message}");
    }
    // A name that could be an alias, but is not one of the dataset's.
    let reply = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns?version=newest")).await;
    assert!(reply.expect_error(404, "not_found").contains("newest"));
}

#[tokio::test]
async fn an_offset_beyond_any_table_is_an_empty_page_not_an_error() {
    let app = spawn_app().await;
    let up = app.upload_ok("Far", b"a\n1\n").await;
    let id = uuid_of(&up["dataset_id"]);
    for path in [
        format!("/api/datasets/{id}/versions?offset=10000000000000000001"),
        format!("/api/datasets?offset=18446744073709551615&limit=100"),
    ] {
        let page = app.get(&app.admin_key, &path).await.expect(200);
        assert_eq!(page["items"], json!([]), "{path}");
    }
}
