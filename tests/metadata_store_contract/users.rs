//! Users and API keys.

use super::*;

#[tokio::test]
async fn an_inserted_user_is_found_by_id_with_every_field() {
    let db = open().await;
    let mut user = user_record("Ada Lövelace", false, now());
    user.email = None;
    db.store.insert_user(&user).await.unwrap();
    assert_eq!(db.store.find_user(user.id).await.unwrap(), Some(user.clone()));
    let other = user_record("Grace", true, now() - Duration::microseconds(1));
    db.store.insert_user(&other).await.unwrap();
    assert_eq!(db.store.find_user(other.id).await.unwrap(), Some(other));
}

#[tokio::test]
async fn an_api_key_hash_finds_the_principal_of_its_user() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "key-holder").await;
    let hash = key_hash(&format!("key-{}", Uuid::new_v4()));
    let record = ApiKeyRecord { id: new_id::<ApiKeyId>(), user_id: user.id, key_hash: hash.clone(), created_at: now() };
    db.store.insert_api_key(&record).await.unwrap();
    assert_eq!(
        db.store.find_principal_by_key_hash(&hash).await.unwrap(),
        Some(Principal { user_id: user.id, name: "key-holder".into(), is_admin: false })
    );
    // A second key of the same user finds the same principal.
    let second = key_hash(&format!("key-{}", Uuid::new_v4()));
    db.store
        .insert_api_key(&ApiKeyRecord { id: new_id(), user_id: user.id, key_hash: second.clone(), created_at: now() })
        .await
        .unwrap();
    assert_eq!(db.store.find_principal_by_key_hash(&second).await.unwrap().map(|p| p.user_id), Some(user.id));
}

#[tokio::test]
async fn an_admin_key_gives_an_admin_principal() {
    let db = open().await;
    // Not older than the existing admins: this test does not change which admin is oldest.
    let admin = user_record("admin", true, now());
    db.store.insert_user(&admin).await.unwrap();
    let hash = key_hash(&format!("admin-key-{}", Uuid::new_v4()));
    db.store
        .insert_api_key(&ApiKeyRecord { id: new_id(), user_id: admin.id, key_hash: hash.clone(), created_at: now() })
        .await
        .unwrap();
    let principal = db.store.find_principal_by_key_hash(&hash).await.unwrap().expect("the admin's principal");
    assert!(principal.is_admin);
    assert_eq!(principal.user_id, admin.id);
}

#[tokio::test]
async fn a_duplicate_key_hash_is_a_conflict_and_the_first_key_keeps_its_user() {
    let db = open().await;
    let first = a_user(db.store.as_ref(), "first").await;
    let second = a_user(db.store.as_ref(), "second").await;
    let hash = key_hash(&format!("key-{}", Uuid::new_v4()));
    db.store
        .insert_api_key(&ApiKeyRecord { id: new_id(), user_id: first.id, key_hash: hash.clone(), created_at: now() })
        .await
        .unwrap();
    let again = db
        .store
        .insert_api_key(&ApiKeyRecord { id: new_id(), user_id: second.id, key_hash: hash.clone(), created_at: now() })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "expected a conflict, got {again:?}");
    assert_eq!(db.store.find_principal_by_key_hash(&hash).await.unwrap().map(|p| p.user_id), Some(first.id));
}

#[tokio::test]
async fn an_unknown_key_hash_finds_no_principal() {
    let db = open().await;
    let unknown = key_hash(&format!("never-stored-{}", Uuid::new_v4()));
    assert_eq!(db.store.find_principal_by_key_hash(&unknown).await.unwrap(), None);
}

#[tokio::test]
async fn find_admin_returns_the_oldest_admin_and_ignores_older_non_admins() {
    let db = open().await;
    // Older than every admin already recorded (a shared database may hold some).
    let oldest_so_far = db.store.find_admin().await.unwrap().map(|a| a.created_at).unwrap_or_else(now);
    let base = DateTime::from_timestamp_micros((oldest_so_far - Duration::days(1)).timestamp_micros()).unwrap();
    let newer = user_record("admin", true, base);
    let older = user_record("admin", true, base - Duration::milliseconds(1500));
    let non_admin_older_still = user_record("not-admin", false, base - Duration::days(1));
    // Inserted newest first, so that insertion order cannot pass for age order.
    db.store.insert_user(&newer).await.unwrap();
    db.store.insert_user(&older).await.unwrap();
    db.store.insert_user(&non_admin_older_still).await.unwrap();
    let found = db.store.find_admin().await.unwrap().expect("an admin");
    if found.id == older.id {
        assert_eq!(found, older);
    } else {
        // Only another process inserting an even older admin meanwhile may explain this.
        assert!(found.is_admin && found.created_at < older.created_at, "{found:?} is not the oldest admin ({older:?})");
    }
}
