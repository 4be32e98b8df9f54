//! Conditional requests: `ETag` and `If-None-Match` on the reads of a dataset, `If-Match` on
//! its changes (a new version, a deletion, an alias change).

use poem::test::{TestForm, TestFormField};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Reply, TestApp, bearer, spawn_app, uuid_of};

async fn a_dataset(app: &TestApp) -> Uuid {
    let up = app.upload_ok("Tagged", b"id,score\n1,10\n2,20\n").await;
    uuid_of(&up["dataset_id"])
}

fn etag(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let tag = reply.headers.get("etag").expect("an ETag").to_str().unwrap().to_string();
    assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() > 2, "a strong, quoted tag: {tag}");
    tag
}

async fn get_if_none_match(app: &TestApp, path: &str, tag: &str) -> Reply {
    app.send(app.client.get(path).header("Authorization", bearer(&app.admin_key)).header("If-None-Match", tag)).await
}

async fn put_alias(app: &TestApp, id: Uuid, alias: &str, version: i64, if_match: Option<&str>) -> Reply {
    let mut req = app
        .client
        .put(format!("/api/datasets/{id}/aliases/{alias}"))
        .header("Authorization", bearer(&app.admin_key))
        .body_json(&json!({"version": version}));
    if let Some(tag) = if_match {
        req = req.header("If-Match", tag);
    }
    app.send(req).await
}

async fn new_version_if_match(app: &TestApp, id: Uuid, bytes: &[u8], if_match: &str) -> Reply {
    let form = TestForm::new()
        .text("description", "guarded")
        .field(TestFormField::bytes(bytes.to_vec()).name("file").filename("v.csv"));
    let path = format!("/api/datasets/{id}/versions");
    app.send(
        app.client
            .post(path)
            .header("Authorization", bearer(&app.admin_key))
            .header("If-Match", if_match)
            .multipart(form),
    )
    .await
}

#[tokio::test]
async fn every_tagged_read_answers_304_with_no_body_while_the_copy_is_current() {
    let app = spawn_app().await;
    let id = a_dataset(&app).await;
    let up = app.get(&app.admin_key, &format!("/api/datasets/{id}/versions")).await;
    let version_id = up.json()["items"][0]["id"].as_str().unwrap().to_string();
    let reads = [
        format!("/api/datasets/{id}"),
        format!("/api/datasets/{id}?version=0"),
        format!("/api/datasets/{id}/columns"),
        format!("/api/datasets/{id}/quality"),
        format!("/api/datasets/{id}/analyze"),
        format!("/api/datasets/{id}/versions"),
        format!("/api/datasets/{id}/aliases"),
        format!("/api/dataset-versions/{version_id}"),
    ];
    for path in &reads {
        let first = app.get(&app.admin_key, path).await;
        let tag = etag(&first);
        assert_eq!(etag(&app.get(&app.admin_key, path).await), tag, "{path}: the same representation, the same tag");
        let cached = get_if_none_match(&app, path, &tag).await;
        assert_eq!(cached.status, 304, "{path}");
        assert!(cached.body.is_empty(), "{path}: a 304 has no body");
        assert_eq!(cached.headers.get("etag").unwrap().to_str().unwrap(), tag, "{path}");
        let listed = get_if_none_match(&app, path, &format!("\"stale\", W/{tag}")).await;
        assert_eq!(listed.status, 304, "{path}: If-None-Match compares weakly and takes a list");
        let stale = get_if_none_match(&app, path, "\"stale\"").await;
        assert_eq!(stale.status, 200, "{path}");
        assert_eq!(stale.body, first.body, "{path}");
    }
}

#[tokio::test]
async fn a_new_version_or_an_alias_move_changes_the_dataset_s_tag() {
    let app = spawn_app().await;
    let id = a_dataset(&app).await;
    let detail = format!("/api/datasets/{id}");
    let first = etag(&app.get(&app.admin_key, &detail).await);
    assert_eq!(etag(&app.get(&app.admin_key, &format!("/api/datasets/{id}/aliases")).await), first, "one dataset tag");
    let versions = format!("/api/datasets/{id}/versions");
    let versions_tag = etag(&app.get(&app.admin_key, &versions).await);

    app.new_version(&app.admin_key, id, "second", b"id,score\n1,10\n2,20\n3,30\n").await.expect(201);
    let second = etag(&app.get(&app.admin_key, &detail).await);
    assert_ne!(second, first);
    assert_eq!(get_if_none_match(&app, &detail, &first).await.status, 200, "the old copy is stale");
    assert_eq!(get_if_none_match(&app, &versions, &versions_tag).await.status, 200, "the list has a new version");

    let moved = put_alias(&app, id, "production", 0, None).await;
    let answered = etag(&moved);
    let third = etag(&app.get(&app.admin_key, &detail).await);
    assert_ne!(third, second);
    assert_eq!(answered, third, "an alias change answers the dataset's new tag");
    let removed = app.delete(&app.admin_key, &format!("/api/datasets/{id}/aliases/production")).await;
    assert_eq!(removed.status, 204);
    let fourth = removed.headers.get("etag").unwrap().to_str().unwrap().to_string();
    assert_ne!(fourth, third);
    assert_eq!(etag(&app.get(&app.admin_key, &detail).await), fourth);
    // A version's own reads do not change with the dataset.
    let v0 = format!("/api/datasets/{id}/columns?version=0");
    let v0_tag = etag(&app.get(&app.admin_key, &v0).await);
    put_alias(&app, id, "production", 1, None).await.expect(200);
    assert_eq!(get_if_none_match(&app, &v0, &v0_tag).await.status, 304);
}

#[tokio::test]
async fn if_match_creates_the_next_version_only_while_the_dataset_is_unchanged() {
    let app = spawn_app().await;
    let id = a_dataset(&app).await;
    let detail = format!("/api/datasets/{id}");
    let seen = etag(&app.get(&app.admin_key, &detail).await);

    let created = new_version_if_match(&app, id, b"id,score\n1,11\n", &seen).await.expect(201);
    assert_eq!(created["version"], 1);
    let mut stored = app.stored_artifacts().await;
    stored.sort();
    let message =
        new_version_if_match(&app, id, b"id,score\n1,12\n", &seen).await.expect_error(412, "precondition_failed");
    assert!(message.contains("ETag"), "{message}");
    let list = app.get(&app.admin_key, &format!("/api/datasets/{id}/versions")).await.expect(200);
    assert_eq!(list["total"], 2, "nothing was stored");
    let mut after = app.stored_artifacts().await;
    after.sort();
    assert_eq!(after, stored, "no artifact of the refused upload is left");

    let current = etag(&app.get(&app.admin_key, &detail).await);
    new_version_if_match(&app, id, b"id,score\n1,13\n", &format!("\"other\", {current}")).await.expect(201);
    new_version_if_match(&app, id, b"id,score\n1,14\n", "*").await.expect(201);
    let current = etag(&app.get(&app.admin_key, &detail).await);
    let weak = new_version_if_match(&app, id, b"id,score\n1,15\n", &format!("W/{current}")).await;
    weak.expect_error(412, "precondition_failed");
}

#[tokio::test]
async fn if_match_guards_alias_changes_and_deletion() {
    let app = spawn_app().await;
    let id = a_dataset(&app).await;
    app.new_version(&app.admin_key, id, "second", b"id,score\n5,50\n").await.expect(201);
    let detail = format!("/api/datasets/{id}");
    let seen = etag(&app.get(&app.admin_key, &detail).await);

    // Two people move "production" from the same copy: the second is refused.
    let first = put_alias(&app, id, "production", 1, Some(&seen)).await;
    let after = etag(&first);
    put_alias(&app, id, "production", 0, Some(&seen)).await.expect_error(412, "precondition_failed");
    let list = app.get(&app.admin_key, &format!("/api/datasets/{id}/aliases")).await.expect(200);
    assert_eq!(list["items"][0]["version"], 1, "the refused move changed nothing");
    let history = app.get(&app.admin_key, &format!("/api/datasets/{id}/aliases/production/history")).await.expect(200);
    assert_eq!(history["items"].as_array().unwrap().len(), 1);

    let path = format!("/api/datasets/{id}/aliases/production");
    let stale_delete = app
        .send(
            app.client.delete(&path).header("Authorization", bearer(&app.admin_key)).header("If-Match", seen.as_str()),
        )
        .await;
    stale_delete.expect_error(412, "precondition_failed");
    let removed = app
        .send(
            app.client.delete(&path).header("Authorization", bearer(&app.admin_key)).header("If-Match", after.as_str()),
        )
        .await;
    assert_eq!(removed.status, 204);

    let stale = app
        .send(
            app.client
                .delete(&detail)
                .header("Authorization", bearer(&app.admin_key))
                .header("If-Match", seen.as_str()),
        )
        .await;
    stale.expect_error(412, "precondition_failed");
    app.get(&app.admin_key, &detail).await.expect(200);
    let current = removed.headers.get("etag").unwrap().to_str().unwrap().to_string();
    let deleted = app
        .send(
            app.client
                .delete(&detail)
                .header("Authorization", bearer(&app.admin_key))
                .header("If-Match", current.as_str()),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    app.get(&app.admin_key, &detail).await.expect_error(404, "not_found");
}
