//! Listing and searching datasets, records from before a migration, deletion and storage keys.

use super::*;

#[tokio::test]
async fn list_datasets_filters_sorts_pages_and_counts() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let tag = token();
    let t = now();
    let pa = a_project(db.store.as_ref(), &user, &format!("Pa-{tag}"), t).await;
    let pb = a_project(db.store.as_ref(), &user, &format!("pB-{tag}"), t).await;
    // (project, name, description, rows, columns, created-at offset in seconds)
    let specs: [(&Project, &str, Option<String>, u64, usize, i64); 6] = [
        (&pa, "Charlie", Some(format!("{tag} third")), 30, 1, 2),
        (&pa, "alpha", None, 10, 3, 0),
        (&pa, "bravo", Some(format!("{tag} Contains the WORD Needle")), 20, 2, 1),
        (&pa, "delta_x", Some(format!("{tag} fourth")), 50, 4, 3),
        (&pa, "echo%", Some(format!("{tag} fifth")), 40, 5, 4),
        (&pb, "foxtrot", Some(format!("{tag} other project")), 5, 6, 5),
    ];
    let mut ids = Vec::new();
    for (project, name, description, rows, columns, offset) in specs.iter().cloned() {
        let id: DatasetId = new_id();
        let v = version_record(
            id,
            new_dataset(project, name, description),
            &user,
            rows,
            columns,
            t + Duration::seconds(offset),
        );
        db.store.insert_version(&v).await.unwrap();
        ids.push(id);
    }
    let [charlie, alpha, bravo, delta, echo, foxtrot] = ids[..] else { unreachable!() };
    let query = |projects: Option<Vec<ProjectId>>, search: Option<&str>, sort, direction, limit, offset| DatasetQuery {
        projects,
        search: search.map(str::to_string),
        sort,
        direction,
        page: Page { limit, offset },
    };
    let list = |q: DatasetQuery| {
        let store = db.store.clone();
        async move {
            let (items, total) = store.list_datasets(&q).await.unwrap();
            (items.into_iter().map(|i| i.dataset.id).collect::<Vec<_>>(), total)
        }
    };
    use DatasetSort::*;
    use SortDirection::*;
    let a = || Some(vec![pa.id]);

    // Paging by name, with the total of every matching dataset on each page.
    assert_eq!(list(query(a(), None, Name, Asc, 2, 0)).await, (vec![alpha, bravo], 5));
    assert_eq!(list(query(a(), None, Name, Asc, 2, 2)).await, (vec![charlie, delta], 5));
    assert_eq!(list(query(a(), None, Name, Asc, 2, 4)).await, (vec![echo], 5));
    assert_eq!(list(query(a(), None, Name, Asc, 2, 10)).await, (vec![], 5));
    assert_eq!(list(query(a(), None, Name, Desc, 10, 0)).await, (vec![echo, delta, charlie, bravo, alpha], 5));
    // The other sort keys.
    assert_eq!(list(query(a(), None, CreatedAt, Asc, 10, 0)).await.0, vec![alpha, bravo, charlie, delta, echo]);
    assert_eq!(list(query(a(), None, CreatedAt, Desc, 10, 0)).await.0, vec![echo, delta, charlie, bravo, alpha]);
    assert_eq!(list(query(a(), None, Rows, Desc, 10, 0)).await.0, vec![delta, echo, charlie, bravo, alpha]);
    assert_eq!(list(query(a(), None, Columns, Asc, 10, 0)).await.0, vec![charlie, bravo, alpha, delta, echo]);
    let both = || Some(vec![pb.id, pa.id]);
    let (by_project, total) = list(query(both(), None, ProjectName, Asc, 10, 0)).await;
    assert_eq!(total, 6);
    assert_eq!(
        &by_project[..5].iter().copied().collect::<HashSet<_>>(),
        &HashSet::from([alpha, bravo, charlie, delta, echo])
    );
    assert_eq!(by_project[5], foxtrot);
    assert_eq!(list(query(both(), None, ProjectName, Desc, 1, 0)).await, (vec![foxtrot], 6));

    // Search: a case-insensitive substring of the name or the description.
    assert_eq!(list(query(a(), Some("ALPHA"), Name, Asc, 10, 0)).await, (vec![alpha], 1));
    assert_eq!(list(query(a(), Some("word needle"), Name, Asc, 10, 0)).await, (vec![bravo], 1));
    assert_eq!(list(query(a(), Some("%"), Name, Asc, 10, 0)).await, (vec![echo], 1), "% is not a wildcard");
    assert_eq!(list(query(a(), Some("_"), Name, Asc, 10, 0)).await, (vec![delta], 1), "_ is not a wildcard");
    assert_eq!(list(query(a(), Some("nothing-like-this"), Name, Asc, 10, 0)).await, (vec![], 0));
    // Every project, narrowed by the test's own tag (in every description but alpha's).
    assert_eq!(
        list(query(None, Some(&tag.to_uppercase()), CreatedAt, Asc, 10, 0)).await,
        (vec![bravo, charlie, delta, echo, foxtrot], 5)
    );
    // No projects: nothing.
    assert_eq!(list(query(Some(vec![]), None, Name, Asc, 10, 0)).await, (vec![], 0));

    // Each item carries the dataset as recorded and its project's name.
    let (items, _) = db.store.list_datasets(&query(both(), None, Name, Asc, 10, 0)).await.unwrap();
    for item in items {
        assert_eq!(Some(&item.dataset), db.store.find_dataset(item.dataset.id).await.unwrap().as_ref());
        let expected = if item.dataset.project_id == pa.id { &pa.name } else { &pb.name };
        assert_eq!(&item.project_name, expected);
    }
}

/// The ids of `project`'s datasets matching `search`, by name.
async fn search_by_name(store: &dyn MetadataStore, project: ProjectId, search: Option<&str>) -> Vec<DatasetId> {
    let query = DatasetQuery {
        projects: Some(vec![project]),
        search: search.map(str::to_string),
        sort: DatasetSort::Name,
        direction: SortDirection::Asc,
        page: Page { limit: 100, offset: 0 },
    };
    store.list_datasets(&query).await.unwrap().0.into_iter().map(|i| i.dataset.id).collect()
}

#[tokio::test]
async fn search_ignores_case_in_every_script_but_not_accents_and_names_sort_by_their_lower_case() {
    let db = open().await;
    let store = db.store.as_ref();
    let user = a_user(store, "uploader").await;
    let project = a_project(store, &user, "scripts", now()).await;
    let mut ids = Vec::new();
    for (name, description) in [
        ("ÉCOLE Données", None),
        ("Школа", Some("УЧЕНИКИ и классы")),
        ("ΣΧΟΛΕΊΟ", None),
        ("ecole primaire", None),
        ("Zebra", Some("Relevé des ÉLÈVES")),
    ] {
        let id: DatasetId = new_id();
        let v = version_record(id, new_dataset(&project, name, description.map(str::to_string)), &user, 1, 1, now());
        store.insert_version(&v).await.unwrap();
        ids.push(id);
    }
    let [ecole, shkola, scholeio, primaire, zebra] = ids[..] else { unreachable!() };
    let search = |needle: &'static str| search_by_name(store, project.id, Some(needle));

    assert_eq!(search("école").await, [ecole]);
    assert_eq!(search("DONNÉES").await, [ecole]);
    assert_eq!(search("ecole").await, [primaire], "an accent counts");
    assert_eq!(search("школа").await, [shkola]);
    assert_eq!(search("ученики").await, [shkola], "descriptions are searched the same way");
    assert_eq!(search("σχολείο").await, [scholeio]);
    assert_eq!(search("élèves").await, [zebra]);
    assert_eq!(search("eleves").await, []);
    assert_eq!(
        search_by_name(store, project.id, None).await,
        [primaire, zebra, ecole, scholeio, shkola],
        "by lower-case name, code point by code point"
    );
}

/// A new, empty database: a SQLite file, or a database of its own on the server of
/// `TEST_DATABASE_URL`, removed by [`FreshDatabase::remove`].
struct FreshDatabase {
    url: String,
    server: Option<(DatabaseConnection, String)>,
    _dir: tempfile::TempDir,
}

impl FreshDatabase {
    async fn create() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let shared = database_url(dir.path());
        if shared.starts_with("sqlite:") {
            return FreshDatabase { url: shared, server: None, _dir: dir };
        }
        let name = format!("fresh_{}", token());
        let server = Database::connect(&shared).await.expect("connecting to the test server");
        server.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("creating a database");
        let (base, _) = shared.rsplit_once('/').expect("a database name in TEST_DATABASE_URL");
        FreshDatabase { url: format!("{base}/{name}"), server: Some((server, name)), _dir: dir }
    }

    async fn remove(self) {
        if let Some((server, name)) = self.server {
            // PostgreSQL 13 or later: the stores' pools may still hold connections.
            let force = if server.get_database_backend() == DbBackend::Postgres { " WITH (FORCE)" } else { "" };
            server.execute_unprepared(&format!("DROP DATABASE {name}{force}")).await.expect("dropping the database");
        }
    }
}

#[tokio::test]
async fn datasets_recorded_before_search_text_was_folded_are_found_after_the_migration() {
    let fresh = FreshDatabase::create().await;
    let db = Database::connect(&fresh.url).await.expect("connecting");
    // The schema as it was before the folded copies: the first five migrations.
    Migrator::up(&db, Some(5)).await.expect("the first migrations");
    let (project, dataset) = (Uuid::new_v4(), Uuid::new_v4());
    let projects = Query::insert()
        .into_table(Alias::new("projects"))
        .columns(["id", "name", "description", "created_at"].map(Alias::new))
        .values_panic([project.into(), "old".into(), None::<String>.into(), now().into()])
        .to_owned();
    db.execute(&projects).await.expect("a project recorded before the migration");
    let columns = [
        "id",
        "project_id",
        "name",
        "description",
        "created_at",
        "latest_version_id",
        "latest_version",
        "row_count",
        "column_count",
    ];
    let datasets = Query::insert()
        .into_table(Alias::new("datasets"))
        .columns(columns.map(Alias::new))
        .values_panic([
            dataset.into(),
            project.into(),
            "ÉCOLE Données".into(),
            Some("Relevé des ÉLÈVES").into(),
            now().into(),
            Uuid::new_v4().into(),
            0i64.into(),
            1i64.into(),
            1i64.into(),
        ])
        .to_owned();
    db.execute(&datasets).await.expect("a dataset recorded before the migration");

    Migrator::up(&db, None).await.expect("the remaining migrations");
    let store = connect(&fresh.url).await;
    let project = ProjectId(project);
    assert_eq!(search_by_name(store.as_ref(), project, Some("école")).await, [DatasetId(dataset)]);
    assert_eq!(search_by_name(store.as_ref(), project, Some("élèves")).await, [DatasetId(dataset)]);
    assert_eq!(search_by_name(store.as_ref(), project, Some("ecole")).await, []);
    db.close().await.expect("closing the connection");
    fresh.remove().await;
}

#[tokio::test]
async fn versions_recorded_before_their_hashes_get_the_original_s_sha256_and_await_a_content_hash() {
    let fresh = FreshDatabase::create().await;
    let store = connect(&fresh.url).await;
    migrate(store.as_ref()).await.expect("migrating");
    let user = a_user(store.as_ref(), "uploader").await;
    let project = a_project(store.as_ref(), &user, "p", now()).await;
    let (dataset, v0) = a_dataset(store.as_ref(), &project, &user).await;
    let (_, other) = a_dataset(store.as_ref(), &project, &user).await;
    assert_eq!(store.versions_without_content_hash(10).await.unwrap(), []);

    // Back to the schema before version identity (the 8th migration), and forward again.
    let db = Database::connect(&fresh.url).await.expect("connecting");
    let after_identity = Migrator::get_migration_files().len() as u32 - 8;
    Migrator::down(&db, Some(after_identity + 1)).await.expect("undoing the version identity migration");
    Migrator::up(&db, None).await.expect("the version identity migration");
    let found = store.find_version(v0.version_id).await.unwrap().expect("the version");
    assert_eq!(found.summary.sha256.as_deref(), Some(v0.original.sha256.as_str()), "the original's sha256");
    assert_eq!(found.summary.content_hash, None);
    assert_eq!(store.versions_without_content_hash(10).await.unwrap(), [v0.version_id, other.version_id]);
    assert_eq!(store.versions_without_content_hash(1).await.unwrap(), [v0.version_id], "oldest first");

    let revision = |d: Option<datasets_api::domain::records::Dataset>| d.expect("the dataset").revision;
    let before = revision(store.find_dataset(dataset).await.unwrap());
    store.set_content_hash(v0.version_id, "sha256:first").await.unwrap();
    let recorded = revision(store.find_dataset(dataset).await.unwrap());
    assert_eq!(recorded, before + 1, "the dataset's detail changed: a new revision");
    store.set_content_hash(v0.version_id, "sha256:second").await.unwrap();
    let found = store.find_version(v0.version_id).await.unwrap().expect("the version");
    assert_eq!(found.summary.content_hash.as_deref(), Some("sha256:first"), "a recorded hash is kept");
    assert_eq!(revision(store.find_dataset(dataset).await.unwrap()), recorded, "nothing changed");
    assert_eq!(store.versions_without_content_hash(10).await.unwrap(), [other.version_id]);
    db.close().await.expect("closing the connection");
    fresh.remove().await;
}

#[tokio::test]
async fn delete_dataset_returns_its_storage_keys_and_leaves_no_trace_of_it_or_its_versions() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let (survivor, survivor_v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let mut versions = vec![v0];
    for _ in 0..2 {
        let v = version_record(dataset, None, &user, 3, 2, now());
        db.store.insert_version(&v).await.unwrap();
        versions.push(v);
    }
    db.store.save_statistics(versions[1].version_id, &statistics(1.0), now()).await.unwrap();
    let experiment = Experiment {
        id: new_id(),
        project_id: project.id,
        name: "used it".into(),
        dataset_id: dataset,
        dataset_version_id: Some(versions[1].version_id),
        dataset_alias: None,
        target_column: None,
        problem_type: None,
        status: ExperimentStatus::Succeeded,
        created_at: now(),
    };
    db.store.insert_experiment(&experiment).await.unwrap();
    let recorded: HashSet<String> = versions.iter().flat_map(keys_of).collect();
    assert_eq!(recorded.len(), 6);

    let returned = db.store.delete_dataset(dataset, None).await.unwrap();
    assert_eq!(returned.len(), 6, "keys returned: {returned:?}");
    assert_eq!(returned.into_iter().collect::<HashSet<_>>(), recorded);

    assert_eq!(db.store.find_dataset(dataset).await.unwrap(), None);
    for (number, v) in versions.iter().enumerate() {
        assert_eq!(db.store.find_version(v.version_id).await.unwrap(), None);
        assert_eq!(db.store.find_version_by_number(dataset, number as i64).await.unwrap(), None);
        assert_eq!(db.store.find_statistics(v.version_id).await.unwrap(), None);
    }
    assert_eq!(db.store.list_versions(dataset, Page { limit: 10, offset: 0 }).await.unwrap(), (vec![], 0));
    let keys: Vec<String> = recorded.iter().cloned().collect();
    assert!(db.store.known_storage_keys(&keys).await.unwrap().is_empty());
    let query = DatasetQuery {
        projects: Some(vec![project.id]),
        search: None,
        sort: DatasetSort::CreatedAt,
        direction: SortDirection::Asc,
        page: Page { limit: 10, offset: 0 },
    };
    let (items, total) = db.store.list_datasets(&query).await.unwrap();
    assert_eq!((items.iter().map(|i| i.dataset.id).collect::<Vec<_>>(), total), (vec![survivor], 1));

    // The other dataset of the project is untouched; lineage keeps the deleted dataset's id.
    assert!(db.store.find_version(survivor_v0.version_id).await.unwrap().is_some());
    assert_eq!(db.store.known_storage_keys(&keys_of(&survivor_v0)).await.unwrap().len(), 2);
    assert_eq!(db.store.find_experiment(experiment.id).await.unwrap(), Some(experiment));
}

#[tokio::test]
async fn known_storage_keys_returns_exactly_the_recorded_keys_among_a_mix() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let v1 = version_record(dataset, None, &user, 1, 1, now());
    db.store.insert_version(&v1).await.unwrap();
    let recorded: Vec<String> = [keys_of(&v0), keys_of(&v1)].concat();

    // 1,200 keys (more than one batch of any sensible size), the recorded ones spread out, one
    // of them twice, the rest unknown keys that look like real ones.
    let mut mix: Vec<String> =
        (0..1200).map(|_| artifact_key(dataset, new_id(), ArtifactKind::Normalized, SourceFormat::CSV)).collect();
    for (i, at) in [0, 499, 500, 1199].into_iter().enumerate() {
        mix[at] = recorded[i].clone();
    }
    mix.push(recorded[2].clone());
    mix.push(format!("{}x", recorded[0]));
    mix.push(recorded[0].to_uppercase());
    let known = db.store.known_storage_keys(&mix).await.unwrap();
    assert_eq!(known, recorded.into_iter().collect::<HashSet<_>>());
    assert!(db.store.known_storage_keys(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn lookups_of_missing_ids_are_none_not_errors() {
    let db = open().await;
    let store = db.store.as_ref();
    assert_eq!(store.find_user(new_id()).await.unwrap(), None);
    assert_eq!(store.find_project(new_id()).await.unwrap(), None);
    assert_eq!(store.role_of(new_id(), new_id()).await.unwrap(), None);
    assert_eq!(store.find_dataset(new_id()).await.unwrap(), None);
    assert_eq!(store.find_version(new_id()).await.unwrap(), None);
    assert_eq!(store.find_version_by_number(new_id(), 0).await.unwrap(), None);
    assert_eq!(store.find_statistics(new_id()).await.unwrap(), None);
    assert_eq!(store.find_experiment(new_id()).await.unwrap(), None);
    assert_eq!(store.find_model(new_id()).await.unwrap(), None);
    assert_eq!(store.list_versions(new_id(), Page { limit: 10, offset: 0 }).await.unwrap(), (vec![], 0));
    assert!(store.list_projects(Some(new_id())).await.unwrap().is_empty());
    // Missing numbers of an existing dataset, and a member of one project asked about another.
    let user = a_user(store, "someone").await;
    let project = a_project(store, &user, "p", now()).await;
    let (dataset, _) = a_dataset(store, &project, &user).await;
    assert_eq!(store.find_version_by_number(dataset, 1).await.unwrap(), None);
    assert_eq!(store.find_version_by_number(dataset, -1).await.unwrap(), None);
    assert_eq!(store.role_of(user.id, new_id()).await.unwrap(), None);
}
