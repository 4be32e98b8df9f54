//! Schema and connection: migrations and pings.

use super::*;

#[tokio::test]
async fn migrate_is_idempotent_and_the_schema_works_after_running_it_twice_more() {
    let db = open().await;
    migrate(db.store.as_ref()).await.expect("a second migration succeeds");
    migrate(db.store.as_ref()).await.expect("a third migration succeeds");
    let user = a_user(db.store.as_ref(), "after-migrations").await;
    assert_eq!(db.store.find_user(user.id).await.unwrap(), Some(user));
}

#[tokio::test]
async fn a_second_connection_migrates_an_already_migrated_database() {
    let db = open().await;
    let other = connect(&db.url).await;
    migrate(other.as_ref()).await.expect("migrating again from a new connection succeeds");
}

#[tokio::test]
async fn ping_answers_when_the_database_is_reachable() {
    let db = open().await;
    db.store.ping().await.expect("ping answers");
}
