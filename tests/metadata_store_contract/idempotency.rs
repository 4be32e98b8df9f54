//! Idempotency keys.

use super::*;

fn key_owner(user: &User, key: &str) -> KeyOwner {
    KeyOwner { user: user.id, key: IdempotencyKey::parse(key.as_bytes()).expect("a valid key") }
}

fn key_claim(owner: &KeyOwner, at: DateTime<Utc>, lease_seconds: i64) -> KeyClaim {
    KeyClaim {
        owner: owner.clone(),
        token: Uuid::new_v4(),
        now: at,
        lease_until: at + Duration::seconds(lease_seconds),
        expires_at: at + Duration::hours(24),
    }
}

fn an_answer(fingerprint: &str) -> StoredAnswer {
    StoredAnswer {
        fingerprint: fingerprint.into(),
        status: 201,
        content_type: Some("application/json; charset=utf-8".into()),
        body: format!("{{\"id\": \"{}\", \"text\": \"é ✓\"}}", "x".repeat(70_000)),
    }
}

#[tokio::test]
async fn a_claimed_key_is_running_until_its_answer_is_recorded_then_replayed() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "client").await;
    let owner = key_owner(&user, &format!("key-{}", token()));
    let first = key_claim(&owner, now(), 60);
    assert_eq!(db.store.claim_idempotency_key(&first).await.unwrap(), KeyState::Claimed);
    let second = key_claim(&owner, now(), 60);
    assert_eq!(
        db.store.claim_idempotency_key(&second).await.unwrap(),
        KeyState::Running { lease_until: first.lease_until }
    );
    assert!(!db.store.renew_idempotency_lease(&owner, second.token, now()).await.unwrap(), "not the holder");
    let later = first.lease_until + Duration::seconds(30);
    assert!(db.store.renew_idempotency_lease(&owner, first.token, later).await.unwrap());
    assert!(!db.store.complete_idempotency_key(&owner, second.token, &an_answer("f")).await.unwrap());
    // An answer longer than 64 KiB (MySQL's TEXT) with non-ASCII text is kept whole.
    let answer = an_answer("f");
    assert!(db.store.complete_idempotency_key(&owner, first.token, &answer).await.unwrap());
    assert_eq!(db.store.claim_idempotency_key(&key_claim(&owner, now(), 60)).await.unwrap(), KeyState::Done(answer));
}

#[tokio::test]
async fn keys_are_per_user_and_case_sensitive() {
    let db = open().await;
    let (alice, bob) = (a_user(db.store.as_ref(), "alice").await, a_user(db.store.as_ref(), "bob").await);
    let key = format!("Key-{}", token());
    for owner in [key_owner(&alice, &key), key_owner(&bob, &key), key_owner(&alice, &key.to_lowercase())] {
        assert_eq!(db.store.claim_idempotency_key(&key_claim(&owner, now(), 60)).await.unwrap(), KeyState::Claimed);
    }
}

#[tokio::test]
async fn a_released_key_an_expired_key_and_a_lapsed_lease_are_free_again() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "client").await;
    let owner = key_owner(&user, &format!("key-{}", token()));
    let first = key_claim(&owner, now(), 60);
    db.store.claim_idempotency_key(&first).await.unwrap();
    db.store.release_idempotency_key(&owner, first.token).await.unwrap();
    assert_eq!(db.store.claim_idempotency_key(&key_claim(&owner, now(), 60)).await.unwrap(), KeyState::Claimed);

    // The holder died: its lease lapses and the next attempt takes the key over.
    let dead = key_claim(&key_owner(&user, &format!("lapsed-{}", token())), now() - Duration::seconds(120), 60);
    db.store.claim_idempotency_key(&dead).await.unwrap();
    let next = key_claim(&dead.owner, now(), 60);
    assert_eq!(db.store.claim_idempotency_key(&next).await.unwrap(), KeyState::Claimed);
    assert!(!db.store.complete_idempotency_key(&dead.owner, dead.token, &an_answer("late")).await.unwrap());
    assert!(db.store.complete_idempotency_key(&dead.owner, next.token, &an_answer("on time")).await.unwrap());

    // An answered key past its expiry is forgotten: by a claim, or by the sweep.
    let mut old = key_claim(&key_owner(&user, &format!("old-{}", token())), now() - Duration::hours(25), 60);
    old.expires_at = now() - Duration::hours(1);
    db.store.claim_idempotency_key(&old).await.unwrap();
    db.store.complete_idempotency_key(&old.owner, old.token, &an_answer("old")).await.unwrap();
    assert_eq!(db.store.claim_idempotency_key(&key_claim(&old.owner, now(), 60)).await.unwrap(), KeyState::Claimed);
    let mut swept = key_claim(&key_owner(&user, &format!("swept-{}", token())), now() - Duration::hours(25), 60);
    swept.expires_at = now() - Duration::hours(1);
    db.store.claim_idempotency_key(&swept).await.unwrap();
    assert!(db.store.delete_expired_idempotency_keys(now()).await.unwrap() >= 1);
    assert!(!db.store.renew_idempotency_lease(&swept.owner, swept.token, now()).await.unwrap(), "forgotten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_sixteen_claims_at_once_through_two_connections_exactly_one_holds_the_key() {
    let db = open().await;
    let second = connect(&db.url).await;
    let user = a_user(db.store.as_ref(), "client").await;
    let owner = key_owner(&user, &format!("race-{}", token()));
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = if i % 2 == 0 { db.store.clone() } else { second.clone() };
            let (claim, barrier) = (key_claim(&owner, now(), 60), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.claim_idempotency_key(&claim).await
            })
        })
        .collect();
    let mut claimed = 0;
    for task in tasks {
        match task.await.unwrap().unwrap_or_else(|e| panic!("a concurrent claim failed: {e}")) {
            KeyState::Claimed => claimed += 1,
            KeyState::Running { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(claimed, 1);
}
