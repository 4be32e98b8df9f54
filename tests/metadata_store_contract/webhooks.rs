//! Webhooks: subscriptions, events recorded with their changes, deliveries under leases.

use super::*;

fn webhook_record(project: &Project, by: &User, events: &[EventType]) -> Webhook {
    Webhook {
        id: new_id(),
        project_id: project.id,
        url: format!("https://hooks.example.test/{}", token()),
        events: events.to_vec(),
        description: "ci".into(),
        secret: Secret::from_bytes([7; 32]),
        created_at: now(),
        created_by: by.id,
    }
}

async fn delivered_types(store: &dyn MetadataStore, webhook: &Webhook) -> Vec<EventType> {
    let (deliveries, total) = store.list_deliveries(webhook.id, Page { limit: 100, offset: 0 }).await.unwrap();
    assert_eq!(total as usize, deliveries.len());
    let mut types: Vec<EventType> = deliveries.iter().map(|d| d.event_type).collect();
    types.sort();
    types
}

#[tokio::test]
async fn a_webhook_is_stored_listed_rotated_and_deleted_with_its_deliveries() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "owner").await;
    let project = a_project(db.store.as_ref(), &user, "hooks", now()).await;
    let first = webhook_record(&project, &user, &[EventType::DatasetCreated, EventType::VersionCreated]);
    let second = webhook_record(&project, &user, &[EventType::DatasetDeleted]);
    db.store.insert_webhook(&first).await.unwrap();
    db.store.insert_webhook(&second).await.unwrap();
    assert_eq!(db.store.find_webhook(first.id).await.unwrap(), Some(first.clone()));
    let listed: Vec<WebhookId> = db.store.list_webhooks(project.id).await.unwrap().iter().map(|w| w.id).collect();
    assert!(listed.contains(&first.id) && listed.contains(&second.id), "{listed:?}");
    let rotated = Secret::from_bytes([9; 32]);
    assert!(db.store.set_webhook_secret(first.id, &rotated).await.unwrap());
    assert_eq!(db.store.find_webhook(first.id).await.unwrap().unwrap().secret, rotated);
    a_dataset(db.store.as_ref(), &project, &user).await;
    assert_eq!(delivered_types(db.store.as_ref(), &first).await.len(), 2);
    assert!(db.store.delete_webhook(first.id).await.unwrap());
    assert_eq!(db.store.find_webhook(first.id).await.unwrap(), None);
    assert!(delivered_types(db.store.as_ref(), &first).await.is_empty(), "its deliveries went with it");
    assert!(!db.store.delete_webhook(first.id).await.unwrap());
    assert!(!db.store.set_webhook_secret(first.id, &rotated).await.unwrap());
}

#[tokio::test]
async fn each_change_records_its_events_for_the_webhooks_of_its_project_that_want_them() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "owner").await;
    let project = a_project(db.store.as_ref(), &user, "events", now()).await;
    let elsewhere = a_project(db.store.as_ref(), &user, "elsewhere", now()).await;
    let versions = webhook_record(&project, &user, &[EventType::VersionCreated, EventType::DatasetCreated]);
    let removals = webhook_record(&project, &user, &[EventType::DatasetDeleted, EventType::AliasMoved]);
    let other = webhook_record(&elsewhere, &user, &EventType::ALL);
    for hook in [&versions, &removals, &other] {
        db.store.insert_webhook(hook).await.unwrap();
    }
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let v1 = version_record(dataset, None, &user, 3, 1, now());
    db.store.insert_version(&v1).await.unwrap();
    assert_eq!(
        delivered_types(db.store.as_ref(), &versions).await,
        [EventType::DatasetCreated, EventType::VersionCreated, EventType::VersionCreated]
    );
    let change = AliasChange {
        dataset_id: dataset,
        name: alias("production"),
        target: Some((v0.version_id, 0)),
        by: user.id,
        at: now(),
        if_revision: None,
    };
    db.store.change_alias(&change).await.unwrap();
    // Setting it where it already is changes nothing, and records nothing.
    db.store.change_alias(&change).await.unwrap();
    db.store.delete_dataset(dataset, None).await.unwrap();
    assert_eq!(delivered_types(db.store.as_ref(), &removals).await, [EventType::DatasetDeleted, EventType::AliasMoved]);
    assert!(delivered_types(db.store.as_ref(), &other).await.is_empty(), "another project's webhook");
    let (deliveries, _) = db.store.list_deliveries(versions.id, Page { limit: 1, offset: 0 }).await.unwrap();
    assert_eq!(deliveries.len(), 1, "paged");
    let newest = &deliveries[0];
    assert_eq!(newest.webhook_id, versions.id);
    assert!(newest.next_attempt_at.is_some() && newest.last_error.is_none());
}

/// A dataset whose version 0 is recorded at `at`, in a project with one webhook wanting
/// `version.created`: its delivery is due at `at` (a time no other test uses, so that claims
/// at that time find only this test's deliveries on a shared database).
async fn a_due_delivery(db: &TestDb, at: DateTime<Utc>) -> Webhook {
    let user = a_user(db.store.as_ref(), "owner").await;
    let project = a_project(db.store.as_ref(), &user, "claims", now()).await;
    let hook = webhook_record(&project, &user, &[EventType::VersionCreated]);
    db.store.insert_webhook(&hook).await.unwrap();
    let v = version_record(new_id(), new_dataset(&project, &format!("ds-{}", token()), None), &user, 5, 2, at);
    db.store.insert_version(&v).await.unwrap();
    hook
}

/// A moment long past, distinct per test run and caller (after 1970: MySQL's TIMESTAMP columns
/// start there).
fn long_ago(years: i64) -> DateTime<Utc> {
    now() - Duration::days(365 * years) - Duration::seconds(rand_seconds())
}

fn rand_seconds() -> i64 {
    (Uuid::new_v4().as_u128() % 1_000_000) as i64
}

/// Claims due deliveries at `at` until `hook`'s is among them (or none is left): on a shared
/// database, earlier deliveries of other tests and runs may be due first.
async fn claim_ours(db: &TestDb, hook: &Webhook, at: DateTime<Utc>, lease: Duration) -> Option<ClaimedDelivery> {
    for _ in 0..1000 {
        let claimed = db.store.claim_deliveries(at, lease, 50).await.unwrap();
        if let Some(ours) = claimed.iter().find(|c| c.webhook_id == hook.id) {
            return Some(ours.clone());
        }
        if claimed.is_empty() {
            return None;
        }
    }
    panic!("more than 50,000 deliveries due on the test database");
}

#[tokio::test]
async fn a_due_delivery_is_claimed_once_and_its_outcome_recorded_only_under_its_lease() {
    let db = open().await;
    let t = long_ago(20);
    let hook = a_due_delivery(&db, t).await;
    // Other tests' deliveries count too (on a shared database): at least this one, created at t.
    let (pending, oldest) = db.store.pending_deliveries().await.unwrap();
    assert!(pending >= 1 && oldest.is_some_and(|at| at <= t), "{pending} {oldest:?}");
    let lease = Duration::seconds(60);
    assert_eq!(claim_ours(&db, &hook, t - Duration::seconds(1), lease).await, None, "not due yet");
    let first = claim_ours(&db, &hook, t, lease).await.expect("claimed");
    assert_eq!((first.attempt, first.url.as_str(), &first.secret), (1, hook.url.as_str(), &hook.secret));
    let body: serde_json::Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(body["type"], "version.created");
    assert_eq!(claim_ours(&db, &hook, t + Duration::seconds(59), lease).await, None, "leased");
    let retry = AttemptOutcome::Failed {
        status_code: Some(500),
        error: "HTTP 500".into(),
        retry_at: Some(t + Duration::seconds(5)),
    };
    assert!(!db.store.finish_attempt(first.id, Uuid::new_v4(), &retry, t).await.unwrap(), "another lease");
    assert!(db.store.finish_attempt(first.id, first.lease_token, &retry, t).await.unwrap());
    assert!(!db.store.finish_attempt(first.id, first.lease_token, &retry, t).await.unwrap(), "the lease is spent");
    let (listed, _) = db.store.list_deliveries(hook.id, Page { limit: 10, offset: 0 }).await.unwrap();
    assert_eq!(
        (listed[0].status, listed[0].attempts, listed[0].last_status_code),
        (DeliveryStatus::Pending, 1, Some(500))
    );
    assert_eq!(listed[0].next_attempt_at, Some(t + Duration::seconds(5)));
    // Due again at its retry time: the second attempt carries the same event.
    let second = claim_ours(&db, &hook, t + Duration::seconds(5), lease).await.expect("claimed again");
    assert_eq!((second.attempt, second.event_id, &second.body), (2, first.event_id, &first.body));
    // A lease that runs out (the instance died mid-attempt) makes it due again.
    let third =
        claim_ours(&db, &hook, t + Duration::seconds(66), lease).await.expect("claimed after the lease ran out");
    assert_eq!(third.attempt, 3);
    assert!(!db.store.finish_attempt(second.id, second.lease_token, &retry, t).await.unwrap(), "its lease ran out");
    let done = AttemptOutcome::Delivered { status_code: 204 };
    assert!(db.store.finish_attempt(third.id, third.lease_token, &done, t + Duration::seconds(67)).await.unwrap());
    let (listed, _) = db.store.list_deliveries(hook.id, Page { limit: 10, offset: 0 }).await.unwrap();
    assert_eq!((listed[0].status, listed[0].attempts, listed[0].next_attempt_at), (DeliveryStatus::Delivered, 3, None));
    assert_eq!(claim_ours(&db, &hook, t + Duration::seconds(999), lease).await, None, "delivered");
    // Redelivered: pending again, due at once, attempts kept.
    let at = t + Duration::seconds(1000);
    assert_eq!(db.store.redeliver(hook.id, listed[0].id, at).await.unwrap(), Redelivered::Due);
    assert_eq!(db.store.redeliver(new_id(), listed[0].id, t).await.unwrap(), Redelivered::NotFound);
    let claim = claim_ours(&db, &hook, t + Duration::seconds(1000), lease).await.expect("redelivered");
    assert_eq!(claim.attempt, 4);
    // While an attempt holds the lease, a redelivery changes nothing.
    assert_eq!(db.store.redeliver(hook.id, listed[0].id, at).await.unwrap(), Redelivered::AttemptUnderWay);
    let failed = AttemptOutcome::Failed { status_code: None, error: "connection refused".into(), retry_at: None };
    assert!(db.store.finish_attempt(claim.id, claim.lease_token, &failed, t).await.unwrap());
    let (listed, _) = db.store.list_deliveries(hook.id, Page { limit: 10, offset: 0 }).await.unwrap();
    assert_eq!(
        (listed[0].status, listed[0].last_error.as_deref()),
        (DeliveryStatus::Failed, Some("connection refused"))
    );
}

#[tokio::test]
async fn two_stores_claiming_at_once_never_hold_the_same_attempt() {
    let db = open().await;
    let t = long_ago(40);
    let mut hooks = HashSet::new();
    for _ in 0..12 {
        hooks.insert(a_due_delivery(&db, t).await.id);
    }
    let second = connect(&db.url).await;
    let stores = [Arc::clone(&db.store), second];
    let claims = futures_util::future::join_all((0..8).map(|i| {
        let store = Arc::clone(&stores[i % 2]);
        async move { store.claim_deliveries(t, Duration::seconds(60), 3).await.unwrap() }
    }))
    .await;
    let ours: Vec<WebhookId> =
        claims.into_iter().flatten().map(|c| c.webhook_id).filter(|w| hooks.contains(w)).collect();
    let distinct: HashSet<WebhookId> = ours.iter().copied().collect();
    assert_eq!(ours.len(), distinct.len(), "a delivery claimed twice: {ours:?}");
    assert!(!ours.is_empty());
}

/// Claims due drift checks at `at` until `dataset`'s is claimed (or none is left), as
/// [`claim_ours`] does for deliveries.
async fn claim_drift_of(
    db: &TestDb,
    dataset: DatasetId,
    at: DateTime<Utc>,
    lease: Duration,
) -> Option<DriftCheckRecord> {
    for _ in 0..10_000 {
        match db.store.claim_drift_check(at, lease).await.unwrap() {
            Some(check) if check.dataset_id == dataset => return Some(check),
            Some(_) => continue,
            None => return None,
        }
    }
    panic!("more than 10,000 drift checks due on the test database");
}

#[tokio::test]
async fn a_version_after_the_first_queues_a_drift_check_that_is_claimed_once_and_ends_with_its_event() {
    let db = open().await;
    let t = long_ago(30);
    let user = a_user(db.store.as_ref(), "owner").await;
    let project = a_project(db.store.as_ref(), &user, "drift", now()).await;
    let hook = webhook_record(&project, &user, &[EventType::DriftDetected]);
    db.store.insert_webhook(&hook).await.unwrap();
    let dataset: DatasetId = new_id();
    let v0 = version_record(dataset, new_dataset(&project, &format!("ds-{}", token()), None), &user, 5, 2, t);
    db.store.insert_version(&v0).await.unwrap();
    let lease = Duration::seconds(600);
    assert_eq!(claim_drift_of(&db, dataset, t, lease).await, None, "nothing to compare the first version with");
    let v1 = version_record(dataset, None, &user, 6, 2, t);
    db.store.insert_version(&v1).await.unwrap();
    let check = claim_drift_of(&db, dataset, t, lease).await.expect("queued with the version");
    assert_eq!((check.version, check.version_id, check.attempt, check.project_id), (1, v1.version_id, 1, project.id));
    assert_eq!(claim_drift_of(&db, dataset, t + Duration::seconds(599), lease).await, None, "leased");
    let subject = Subject { project_id: project.id, dataset_id: dataset, dataset_name: "d" };
    let facts = VersionFacts { number: 1, id: v1.version_id, row_count: 6, column_count: 2 };
    let event = events::drift_detected(t, &subject, &facts, &["amount".to_string()], 0.5);
    let stale = DriftCheckRecord { lease_token: Uuid::new_v4(), ..check.clone() };
    assert!(!db.store.finish_drift_check(&stale, Some(&event), t).await.unwrap(), "another lease");
    assert!(db.store.finish_drift_check(&check, Some(&event), t).await.unwrap());
    assert!(!db.store.finish_drift_check(&check, Some(&event), t).await.unwrap(), "done once");
    assert_eq!(delivered_types(db.store.as_ref(), &hook).await, [EventType::DriftDetected]);
    assert_eq!(claim_drift_of(&db, dataset, t + Duration::seconds(10_000), lease).await, None, "removed");
}

#[tokio::test]
async fn deliveries_that_ended_long_ago_are_forgotten_with_their_events_and_pending_ones_are_kept() {
    let db = open().await;
    let t = long_ago(25);
    let ended = a_due_delivery(&db, t).await;
    let waiting = a_due_delivery(&db, t).await;
    let lease = Duration::seconds(60);
    let claim = claim_ours(&db, &ended, t, lease).await.expect("claimed");
    let done = AttemptOutcome::Delivered { status_code: 200 };
    assert!(db.store.finish_attempt(claim.id, claim.lease_token, &done, t).await.unwrap());
    db.store.delete_finished_deliveries(t - Duration::seconds(1)).await.unwrap();
    assert_eq!(delivered_types(db.store.as_ref(), &ended).await.len(), 1, "ended after the cut: kept");
    assert!(db.store.delete_finished_deliveries(t + Duration::seconds(1)).await.unwrap() >= 1);
    assert!(delivered_types(db.store.as_ref(), &ended).await.is_empty(), "forgotten");
    assert_eq!(delivered_types(db.store.as_ref(), &waiting).await, [EventType::VersionCreated], "pending: kept");
    // The pending delivery still carries its event.
    // (It may have been claimed with the first one: its lease ends at t + 60 s.)
    let again =
        claim_ours(&db, &waiting, t + Duration::seconds(61), lease).await.expect("still claimable with its event");
    assert!(again.body.contains("version.created"));
}
