//! Data contracts, and the hints and type evidence a version keeps.

use super::*;

#[tokio::test]
async fn a_contract_is_set_replaced_read_and_removed_with_its_dataset() {
    let db = open().await;
    let store = db.store.as_ref();
    let user = a_user(store, "owner").await;
    let project = a_project(store, &user, "p", now()).await;
    let (dataset, _) = a_dataset(store, &project, &user).await;
    assert_eq!(store.find_contract(dataset).await.unwrap(), None);
    let column = ColumnDraft {
        dtype: Some("category".into()),
        allowed_values: Some(vec![
            AllowedValue::Text("EUR".into()),
            AllowedValue::Number(1.5),
            AllowedValue::Bool(true),
        ]),
        pattern: Some("^[A-Z]{3}$".into()),
        mostly: Some(0.95),
        ..Default::default()
    };
    let first = StoredContract {
        dataset,
        document: ContractDraft {
            mode: Some("warn".into()),
            row_count_min: Some(1),
            columns: vec![("currency".into(), column), ("ünïcode, name".into(), ColumnDraft::default())],
            ..Default::default()
        },
        updated_at: now(),
        updated_by: user.id,
    };
    store.put_contract(&first).await.unwrap();
    assert_eq!(store.find_contract(dataset).await.unwrap(), Some(first.clone()), "the document reads back as written");
    let second = StoredContract {
        document: ContractDraft { mode: Some("enforce".into()), ..Default::default() },
        ..first.clone()
    };
    store.put_contract(&second).await.unwrap();
    assert_eq!(store.find_contract(dataset).await.unwrap(), Some(second), "replaced, not added");
    assert!(store.delete_contract(dataset).await.unwrap());
    assert!(!store.delete_contract(dataset).await.unwrap());
    store.put_contract(&first).await.unwrap();
    store.delete_dataset(dataset, None).await.unwrap();
    assert_eq!(store.find_contract(dataset).await.unwrap(), None, "deleting the dataset removes its contract");
}

#[tokio::test]
async fn a_version_keeps_how_it_fared_against_the_contract() {
    let db = open().await;
    let store = db.store.as_ref();
    let user = a_user(store, "uploader").await;
    let project = a_project(store, &user, "p", now()).await;
    let (dataset, _) = a_dataset(store, &project, &user).await;
    let mut next = version_record(dataset, None, &user, 4, 2, now());
    let violation = Violation {
        column: Some("amount".into()),
        check: "min".into(),
        failing_count: 2,
        failing_fraction: 0.5,
        examples: vec![
            Example { row: 3, value: serde_json::json!(-1.5) },
            Example { row: 4, value: serde_json::Value::Null },
        ],
    };
    next.contract = Some(ContractResult::of(vec![violation]));
    store.insert_version(&next).await.unwrap();
    let found = store.find_version(next.version_id).await.unwrap().expect("the version");
    assert_eq!(found.contract, next.contract);
    assert_eq!(found.contract.as_ref().map(|c| c.passed), Some(false));
}

#[tokio::test]
async fn a_version_keeps_the_hints_and_type_evidence_it_was_read_with() {
    let db = open().await;
    let store = db.store.as_ref();
    let user = a_user(store, "uploader").await;
    let project = a_project(store, &user, "p", now()).await;
    let (dataset, first) = a_dataset(store, &project, &user).await;
    let found = store.find_version(first.version_id).await.unwrap().expect("the version");
    assert!(found.read_hints.is_empty());
    let mut next = version_record(dataset, None, &user, 4, 2, now());
    next.read_hints = ReadHints {
        dtypes: [("zip".to_string(), DType::Object)].into_iter().collect(),
        na_values: Some(vec!["-".into(), "n/d".into()]),
        keep_default_na: Some(false),
        delimiter: Some(';'),
        encoding: Some("latin1".into()),
        header: Some(true),
        sheet: Some("Données".into()),
    };
    next.type_evidence = vec![TypeEvidence {
        non_missing: 3,
        missing: 1,
        candidates: Some(Candidates { int64: 2, float64: 2, bool: 0, datetime64: 0 }),
        rejected_by: vec![(DType::Int64, RejectedBy { row: 3, value: "é1.5".into() })],
        datetime_format: None,
        rule: "object: …".into(),
    }];
    store.insert_version(&next).await.unwrap();
    let found = store.find_version(next.version_id).await.unwrap().expect("the version");
    assert_eq!(found.read_hints, next.read_hints);
    assert_eq!(found.type_evidence, Some(next.type_evidence));
}
