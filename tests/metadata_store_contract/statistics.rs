//! Statistics.

use super::*;

#[tokio::test]
async fn statistics_are_none_before_a_save_and_read_back_equal_after_it() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (_, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    assert_eq!(db.store.find_statistics(v0.version_id).await.unwrap(), None);
    let stats = statistics(3.0);
    db.store.save_statistics(v0.version_id, &stats, now()).await.unwrap();
    assert_eq!(db.store.find_statistics(v0.version_id).await.unwrap(), Some(stats));
}

/// Ordinary doubles whose shortest decimal form is 16-17 digits long, and the extremes. Each
/// must come back with the same bits.
const AWKWARD_FLOATS: [f64; 8] = [
    0.985_690_694_632_869_5,
    434.291_987_228_963_65,
    378_614.580_324_866_75,
    120_920_986.698_752_73,
    f64::MAX,
    -f64::MAX,
    f64::MIN_POSITIVE,
    5e-324,
];

/// The floats that came back different, as (sent, received).
fn float_differences(sent: &[f64], received: &[f64]) -> Vec<(f64, f64)> {
    assert_eq!(sent.len(), received.len());
    sent.iter().zip(received).filter(|(a, b)| a.to_bits() != b.to_bits()).map(|(a, b)| (*a, *b)).collect()
}

#[tokio::test]
async fn floats_in_statistics_read_back_bit_for_bit() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (_, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let mut stats = statistics(1.0);
    stats.columns[0].numeric.as_mut().unwrap().histogram =
        Some(Histogram { counts: vec![1; AWKWARD_FLOATS.len() - 1], bin_edges: AWKWARD_FLOATS.to_vec() });
    db.store.save_statistics(v0.version_id, &stats, now()).await.unwrap();
    let found = db.store.find_statistics(v0.version_id).await;
    let found = found.unwrap_or_else(|e| panic!("the saved statistics cannot be read back: {e}")).unwrap();
    let edges = found.columns[0].numeric.as_ref().unwrap().histogram.as_ref().unwrap().bin_edges.clone();
    assert_eq!(float_differences(&AWKWARD_FLOATS, &edges), vec![], "(saved, read back)");
    assert_eq!(found, stats);
}

#[tokio::test]
async fn floats_in_preview_cells_read_back_bit_for_bit() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let dataset: DatasetId = new_id();
    let mut v0 = version_record(dataset, new_dataset(&project, "floats", None), &user, 1, 1, now());
    v0.preview = AWKWARD_FLOATS
        .iter()
        .map(|f| {
            let mut row = PreviewRow::new();
            row.insert("x".into(), serde_json::json!(f));
            row
        })
        .collect();
    db.store.insert_version(&v0).await.unwrap();
    let found = db.store.find_version(v0.version_id).await;
    let found = found.unwrap_or_else(|e| panic!("the version cannot be read back: {e}")).unwrap();
    let cells: Vec<f64> = found.preview.iter().map(|row| row["x"].as_f64().expect("a number")).collect();
    assert_eq!(float_differences(&AWKWARD_FLOATS, &cells), vec![], "(recorded, read back)");
}

#[tokio::test]
async fn a_second_save_of_statistics_is_a_no_op_and_the_first_is_kept() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let v1 = version_record(dataset, None, &user, 1, 1, now());
    db.store.insert_version(&v1).await.unwrap();
    let first = statistics(1.0);
    let second = statistics(2.0);
    assert_ne!(first, second);
    db.store.save_statistics(v0.version_id, &first, now()).await.unwrap();
    db.store.save_statistics(v0.version_id, &second, now()).await.expect("a second save is not an error");
    assert_eq!(db.store.find_statistics(v0.version_id).await.unwrap(), Some(first));
    // Statistics belong to one version only.
    assert_eq!(db.store.find_statistics(v1.version_id).await.unwrap(), None);
    db.store.save_statistics(v1.version_id, &second, now()).await.unwrap();
    assert_eq!(db.store.find_statistics(v1.version_id).await.unwrap(), Some(second));
}
