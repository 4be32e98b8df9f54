//! Datasets and versions: numbering, revisions, aliases, reads, concurrent inserts.

use super::*;

#[tokio::test]
async fn versions_of_a_dataset_are_numbered_0_then_1_then_2() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let dataset: DatasetId = new_id();
    let t = now();
    let v0 = version_record(dataset, new_dataset(&project, "numbers", Some("d".into())), &user, 5, 2, t);
    let v1 = version_record(dataset, None, &user, 6, 3, t + Duration::seconds(1));
    let v2 = version_record(dataset, None, &user, 7, 4, t + Duration::seconds(2));
    assert_eq!(db.store.insert_version(&v0).await.unwrap(), 0);
    assert_eq!(db.store.insert_version(&v1).await.unwrap(), 1);
    assert_eq!(db.store.insert_version(&v2).await.unwrap(), 2);
    // Another dataset starts at 0 again.
    let (_, other) = a_dataset(db.store.as_ref(), &project, &user).await;
    assert_eq!(db.store.find_version(other.version_id).await.unwrap().unwrap().summary.version, 0);
    let (items, total) = db.store.list_versions(dataset, Page { limit: 100, offset: 0 }).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        items.iter().map(|v| (v.version, v.id)).collect::<Vec<_>>(),
        vec![(0, v0.version_id), (1, v1.version_id), (2, v2.version_id)]
    );
}

#[tokio::test]
async fn the_dataset_records_its_creation_and_follows_its_latest_version() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let dataset: DatasetId = new_id();
    let t = now();
    let v0 = version_record(dataset, new_dataset(&project, "Sales 2024", Some("monthly".into())), &user, 5, 2, t);
    db.store.insert_version(&v0).await.unwrap();
    let expected = Dataset {
        id: dataset,
        project_id: project.id,
        name: "Sales 2024".into(),
        description: Some("monthly".into()),
        created_at: t,
        latest_version_id: v0.version_id,
        latest_version: 0,
        rows: 5,
        columns: 2,
        revision: 0,
    };
    assert_eq!(db.store.find_dataset(dataset).await.unwrap(), Some(expected.clone()));
    let v1 = version_record(dataset, None, &user, 11, 4, t + Duration::seconds(5));
    db.store.insert_version(&v1).await.unwrap();
    assert_eq!(
        db.store.find_dataset(dataset).await.unwrap(),
        Some(Dataset {
            latest_version_id: v1.version_id,
            latest_version: 1,
            rows: 11,
            columns: 4,
            revision: 1,
            ..expected
        })
    );
}

#[tokio::test]
async fn a_change_given_a_stale_revision_fails_and_changes_nothing() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, _) = a_dataset(db.store.as_ref(), &project, &user).await;
    let mut stale = version_record(dataset, None, &user, 3, 1, now());
    stale.if_revision = Some(5);
    assert!(matches!(db.store.insert_version(&stale).await, Err(StoreError::Stale { expected: 5 })));
    let mut current = version_record(dataset, None, &user, 3, 1, now());
    current.if_revision = Some(0);
    assert_eq!(db.store.insert_version(&current).await.unwrap(), 1);
    let found = db.store.find_dataset(dataset).await.unwrap().unwrap();
    assert_eq!((found.latest_version, found.revision), (1, 1));
    assert!(matches!(db.store.delete_dataset(dataset, Some(0)).await, Err(StoreError::Stale { .. })));
    assert!(db.store.find_dataset(dataset).await.unwrap().is_some(), "not deleted");
    assert_eq!(db.store.delete_dataset(dataset, Some(1)).await.unwrap().len(), 4);
}

#[tokio::test]
async fn aliases_move_with_their_history_and_each_change_bumps_the_revision() {
    let db = open().await;
    let (alice, bob) = (a_user(db.store.as_ref(), "alice").await, a_user(db.store.as_ref(), "bob").await);
    let project = a_project(db.store.as_ref(), &alice, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &alice).await;
    let v1 = version_record(dataset, None, &alice, 3, 1, now());
    db.store.insert_version(&v1).await.unwrap();
    let change = |target: Option<(VersionId, i64)>, by: &User, if_revision: Option<i64>| AliasChange {
        dataset_id: dataset,
        name: alias("production"),
        target,
        by: by.id,
        at: now(),
        if_revision,
    };
    let set = db.store.change_alias(&change(Some((v0.version_id, 0)), &alice, Some(1))).await.unwrap().unwrap();
    assert_eq!((set.version, set.version_id, set.updated_by_name.as_str()), (0, v0.version_id, "alice"));
    assert_eq!(db.store.find_dataset(dataset).await.unwrap().unwrap().revision, 2);
    let same = db.store.change_alias(&change(Some((v0.version_id, 0)), &bob, None)).await.unwrap().unwrap();
    assert_eq!(same.updated_by_name, "alice", "setting it where it is changes nothing");
    assert_eq!(db.store.find_dataset(dataset).await.unwrap().unwrap().revision, 2);
    assert!(matches!(
        db.store.change_alias(&change(Some((v1.version_id, 1)), &bob, Some(1))).await,
        Err(StoreError::Stale { .. })
    ));
    let moved = db.store.change_alias(&change(Some((v1.version_id, 1)), &bob, Some(2))).await.unwrap().unwrap();
    assert_eq!((moved.version, moved.updated_by_name.as_str()), (1, "bob"));
    assert_eq!(db.store.find_alias(dataset, &alias("production")).await.unwrap(), Some(moved.clone()));
    let staging = AliasChange { name: alias("staging"), ..change(Some((v0.version_id, 0)), &alice, None) };
    db.store.change_alias(&staging).await.unwrap();
    let listed = db.store.list_aliases(dataset).await.unwrap();
    assert_eq!(listed.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["production", "staging"]);
    assert_eq!(db.store.change_alias(&change(None, &alice, None)).await.unwrap(), None);
    assert!(matches!(db.store.change_alias(&change(None, &alice, None)).await, Err(StoreError::NotFound)));
    assert_eq!(db.store.find_alias(dataset, &alias("production")).await.unwrap(), None);

    let history = db.store.alias_history(dataset, &alias("production")).await.unwrap();
    let moves: Vec<_> = history.iter().map(|m| (m.from_version, m.to_version, m.moved_by_name.as_str())).collect();
    assert_eq!(moves, [(None, Some(0), "alice"), (Some(0), Some(1), "bob"), (Some(1), None, "alice")]);
    assert_eq!(history[1].to_version_id, Some(v1.version_id));
    assert_eq!(db.store.find_dataset(dataset).await.unwrap().unwrap().revision, 5);
    assert_eq!(db.store.alias_history(dataset, &alias("never")).await.unwrap(), []);

    db.store.delete_dataset(dataset, None).await.unwrap();
    assert_eq!(db.store.list_aliases(dataset).await.unwrap(), []);
    assert_eq!(db.store.alias_history(dataset, &alias("production")).await.unwrap(), []);
    let gone = AliasChange { name: alias("again"), ..change(Some((v0.version_id, 0)), &alice, None) };
    assert!(matches!(db.store.change_alias(&gone).await, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn find_version_and_find_version_by_number_return_everything_recorded() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "Uploader Name").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let mut v1 = version_record(dataset, None, &user, 42, 6, now() + Duration::milliseconds(3));
    v1.description = None;
    v1.source_format = SourceFormat::PARQUET;
    v1.original.storage_key = artifact_key(dataset, v1.version_id, ArtifactKind::Original, SourceFormat::PARQUET);
    db.store.insert_version(&v1).await.unwrap();
    for (number, v) in [(0, &v0), (1, &v1)] {
        let found = db.store.find_version(v.version_id).await.unwrap().expect("the version");
        assert_eq!(found.summary.id, v.version_id);
        assert_eq!(found.summary.dataset_id, dataset);
        assert_eq!(found.summary.version, number);
        assert_eq!(found.summary.row_count, v.row_count);
        assert_eq!(found.summary.column_count, v.columns.len() as u64);
        assert_eq!(found.summary.description, v.description);
        assert_eq!(found.summary.created_by, user.id);
        assert_eq!(found.summary.created_by_name, "Uploader Name");
        assert_eq!(found.summary.created_at, v.created_at);
        assert_eq!(found.source_format, v.source_format);
        assert_eq!(found.columns, v.columns);
        assert_eq!(found.quality, v.quality);
        // Compared as maps here (key order is checked by `preview_rows_keep_their_column_order`).
        assert_eq!(found.preview, v.preview);
        assert_eq!(found.original_file_name, v.original_file_name);
        assert_eq!(found.summary.content_hash.as_deref(), Some(v.content_hash.as_str()));
        assert_eq!(found.summary.sha256.as_deref(), Some(v.original.sha256.as_str()));
        assert_eq!(found.original, v.original);
        assert_eq!(found.normalized, v.normalized);
        assert_eq!(db.store.find_version_by_number(dataset, number).await.unwrap(), Some(found));
    }
}

#[tokio::test]
async fn preview_rows_keep_their_column_order() {
    // A preview row is an ordered map (serde_json's `preserve_order`): its keys are the
    // columns in table order, and the API shows them in that order.
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (_, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let recorded: Vec<&String> = v0.preview[0].keys().collect();
    assert_eq!(recorded, ["zeta", "alpha", "mid"]);
    let found = db.store.find_version(v0.version_id).await.unwrap().expect("the version");
    for row in &found.preview {
        assert_eq!(row.keys().collect::<Vec<_>>(), recorded, "the preview's columns came back in another order");
    }
}

#[tokio::test]
async fn text_holding_a_nul_character_is_recorded_and_read_back() {
    // NUL is a valid character of a string (a Parquet upload may hold one in any text cell):
    // a version's preview and a version's statistics must store it like any other.
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let dataset: DatasetId = new_id();
    let mut v0 = version_record(dataset, new_dataset(&project, "nul", None), &user, 1, 1, now());
    v0.preview[0].insert("alpha".into(), serde_json::json!("a\u{0}b"));
    let inserted = db.store.insert_version(&v0).await;
    assert_eq!(inserted.expect("a preview cell holding NUL could not be recorded"), 0);
    let found = db.store.find_version(v0.version_id).await.unwrap().expect("the version");
    assert_eq!(found.preview, v0.preview);

    let mut stats = statistics(1.0);
    stats.columns[1].top_values = Some(vec![("a\u{0}z".into(), 3)]);
    let saved = db.store.save_statistics(v0.version_id, &stats, now()).await;
    saved.expect("statistics holding NUL could not be recorded");
    assert_eq!(db.store.find_statistics(v0.version_id).await.unwrap(), Some(stats));
}

#[tokio::test]
async fn list_versions_pages_in_version_order_with_the_total_and_creator_names() {
    let db = open().await;
    let alice = a_user(db.store.as_ref(), "alice").await;
    let bob = a_user(db.store.as_ref(), "bob").await;
    let project = a_project(db.store.as_ref(), &alice, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &alice).await;
    let mut ids = vec![v0.version_id];
    // Created-at times deliberately decreasing: the order is the version number's.
    for n in 1..5u64 {
        let by = if n % 2 == 1 { &bob } else { &alice };
        let v = version_record(dataset, None, by, n * 100, 1, now() - Duration::seconds(n as i64));
        assert_eq!(db.store.insert_version(&v).await.unwrap(), n as i64);
        ids.push(v.version_id);
    }
    let page = |limit, offset| db.store.list_versions(dataset, Page { limit, offset });
    let (first, total) = page(2, 0).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(first.iter().map(|v| v.version).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(first.iter().map(|v| v.created_by_name.as_str()).collect::<Vec<_>>(), ["alice", "bob"]);
    let (second, total) = page(2, 2).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(second.iter().map(|v| (v.version, v.id)).collect::<Vec<_>>(), [(2, ids[2]), (3, ids[3])]);
    assert_eq!(second[1].row_count, 300);
    assert_eq!(second[1].created_by, bob.id);
    let (last, total) = page(2, 4).await.unwrap();
    assert_eq!((last.iter().map(|v| v.version).collect::<Vec<_>>(), total), (vec![4], 5));
    let (beyond, total) = page(10, 5).await.unwrap();
    assert!(beyond.is_empty());
    assert_eq!(total, 5);
    let (all, _) = page(100, 0).await.unwrap();
    assert_eq!(all.iter().map(|v| v.id).collect::<Vec<_>>(), ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn sixteen_concurrent_inserts_into_one_dataset_get_the_next_sixteen_numbers_each_once() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, _) = a_dataset(db.store.as_ref(), &project, &user).await;
    concurrent_inserts(&[db.store.clone()], dataset, &user, 16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_inserts_through_two_separate_connections_get_unique_contiguous_numbers() {
    // Two stores, two connection pools: what two server processes would do.
    let db = open().await;
    let second = connect(&db.url).await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, _) = a_dataset(db.store.as_ref(), &project, &user).await;
    concurrent_inserts(&[db.store.clone(), second], dataset, &user, 16).await;
}

/// Inserts `count` versions of `dataset` (which has version 0 only) at once, spread over
/// `stores`, and checks they got 1..=count, each once, and that the dataset agrees.
async fn concurrent_inserts(stores: &[Arc<dyn MetadataStore>], dataset: DatasetId, user: &User, count: usize) {
    let barrier = Arc::new(tokio::sync::Barrier::new(count));
    let mut tasks = Vec::new();
    for i in 0..count {
        let store = stores[i % stores.len()].clone();
        let v = version_record(dataset, None, user, i as u64 + 1, 1, now());
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let number = store.insert_version(&v).await;
            (v.version_id, number)
        }));
    }
    let mut numbers = Vec::new();
    let mut by_id = std::collections::HashMap::new();
    for task in tasks {
        let (id, number) = task.await.unwrap();
        let number = number.unwrap_or_else(|e| panic!("a concurrent insert failed: {e}"));
        numbers.push(number);
        by_id.insert(id, number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=count as i64).collect::<Vec<_>>(), "numbers not unique and contiguous");
    let store = &stores[0];
    let (listed, total) = store.list_versions(dataset, Page { limit: 1000, offset: 0 }).await.unwrap();
    assert_eq!(total, count as u64 + 1);
    assert_eq!(listed.iter().map(|v| v.version).collect::<Vec<_>>(), (0..=count as i64).collect::<Vec<_>>());
    for v in listed.iter().skip(1) {
        assert_eq!(by_id.get(&v.id), Some(&v.version), "the stored number differs from the returned one");
    }
    let found = store.find_dataset(dataset).await.unwrap().unwrap();
    assert_eq!(found.latest_version, count as i64);
    let latest = listed.last().unwrap();
    assert_eq!(found.latest_version_id, latest.id, "the dataset's latest version id is not its newest version");
    assert_eq!(found.rows, latest.row_count, "the dataset's row count is not its newest version's");
}

#[tokio::test]
async fn a_version_that_cannot_be_recorded_changes_nothing() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let before = db.store.find_dataset(dataset).await.unwrap();

    // A next version whose artifact key is already recorded (storage keys are unique).
    let mut clash = version_record(dataset, None, &user, 99, 9, now());
    clash.normalized.storage_key = v0.normalized.storage_key.clone();
    let result = db.store.insert_version(&clash).await;
    assert!(result.is_err(), "a duplicate storage key was recorded: {result:?}");
    assert_eq!(db.store.find_dataset(dataset).await.unwrap(), before, "the dataset changed");
    assert_eq!(db.store.find_version(clash.version_id).await.unwrap(), None);
    assert_eq!(db.store.list_versions(dataset, Page { limit: 10, offset: 0 }).await.unwrap().1, 1);
    assert!(db.store.known_storage_keys(&keys_of(&clash)[..1]).await.unwrap().is_empty());

    // A new dataset whose first version cannot be recorded is not created.
    let fresh: DatasetId = new_id();
    let mut clash = version_record(fresh, new_dataset(&project, "never", None), &user, 1, 1, now());
    clash.original.storage_key = v0.original.storage_key.clone();
    let result = db.store.insert_version(&clash).await;
    assert!(result.is_err(), "a duplicate storage key was recorded: {result:?}");
    assert_eq!(db.store.find_dataset(fresh).await.unwrap(), None, "the dataset was created anyway");
    assert_eq!(db.store.find_version(clash.version_id).await.unwrap(), None);

    // And the next good version still gets number 1.
    let next = version_record(dataset, None, &user, 3, 1, now());
    assert_eq!(db.store.insert_version(&next).await.unwrap(), 1);
}
