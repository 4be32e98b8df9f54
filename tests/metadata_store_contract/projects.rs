//! Projects and memberships.

use super::*;

#[tokio::test]
async fn an_inserted_project_is_found_and_its_owner_has_the_owner_role() {
    let db = open().await;
    let owner = a_user(db.store.as_ref(), "owner").await;
    let stranger = a_user(db.store.as_ref(), "stranger").await;
    let project = a_project(db.store.as_ref(), &owner, &format!("p-{}", token()), now()).await;
    assert_eq!(db.store.find_project(project.id).await.unwrap(), Some(project.clone()));
    assert_eq!(db.store.role_of(owner.id, project.id).await.unwrap(), Some(Role::Owner));
    assert_eq!(db.store.role_of(stranger.id, project.id).await.unwrap(), None);
}

#[tokio::test]
async fn a_project_inserted_without_an_owner_has_no_members() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "someone").await;
    let mut project = project_record(&format!("p-{}", token()), now());
    project.description = None;
    db.store.insert_project(&project, None).await.unwrap();
    assert_eq!(db.store.find_project(project.id).await.unwrap(), Some(project.clone()));
    assert_eq!(db.store.role_of(user.id, project.id).await.unwrap(), None);
    assert!(db.store.list_projects(Some(user.id)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_project_whose_owner_cannot_be_recorded_is_not_recorded_either() {
    let db = open().await;
    let project = project_record(&format!("p-{}", token()), now());
    let ghost = user_record("never inserted", false, now());
    let result = db.store.insert_project(&project, Some(&membership(&project, &ghost, Role::Owner))).await;
    assert!(result.is_err(), "a membership of a missing user was recorded: {result:?}");
    assert_eq!(db.store.find_project(project.id).await.unwrap(), None, "insert_project is not atomic");
}

#[tokio::test]
async fn list_projects_is_ordered_oldest_first() {
    let db = open().await;
    let owner = a_user(db.store.as_ref(), "owner").await;
    let t = now();
    // Inserted in an order that is neither age order nor its reverse.
    let middle = a_project(db.store.as_ref(), &owner, "b-middle", t + Duration::milliseconds(1)).await;
    let newest = a_project(db.store.as_ref(), &owner, "a-newest", t + Duration::seconds(2)).await;
    let oldest = a_project(db.store.as_ref(), &owner, "c-oldest", t).await;
    let mine = [oldest.id, middle.id, newest.id];
    let all = db.store.list_projects(None).await.unwrap();
    assert_eq!(only(all.iter().map(|p| p.id), &mine), mine.to_vec());
    assert_eq!(db.store.list_projects(Some(owner.id)).await.unwrap(), vec![oldest, middle, newest]);
}

#[tokio::test]
async fn list_projects_of_a_member_holds_exactly_the_projects_where_they_have_a_role() {
    let db = open().await;
    let owner = a_user(db.store.as_ref(), "owner").await;
    let member = a_user(db.store.as_ref(), "member").await;
    let t = now();
    let p0 = a_project(db.store.as_ref(), &owner, "p0", t).await;
    let p1 = a_project(db.store.as_ref(), &owner, "p1", t + Duration::seconds(1)).await;
    let p2 = a_project(db.store.as_ref(), &member, "p2", t + Duration::seconds(2)).await;
    db.store.upsert_membership(&membership(&p0, &member, Role::Viewer)).await.unwrap();
    assert_eq!(db.store.list_projects(Some(member.id)).await.unwrap(), vec![p0.clone(), p2.clone()]);
    assert_eq!(db.store.list_projects(Some(owner.id)).await.unwrap(), vec![p0.clone(), p1.clone()]);
    let all = db.store.list_projects(None).await.unwrap();
    assert_eq!(only(all.iter().map(|p| p.id), &[p0.id, p1.id, p2.id]), vec![p0.id, p1.id, p2.id]);
}

#[tokio::test]
async fn upsert_membership_adds_a_member_and_then_changes_their_role() {
    let db = open().await;
    let owner = a_user(db.store.as_ref(), "owner").await;
    let member = a_user(db.store.as_ref(), "member").await;
    let project = a_project(db.store.as_ref(), &owner, "shared", now()).await;
    let other = a_project(db.store.as_ref(), &owner, "other", now()).await;
    db.store.upsert_membership(&membership(&project, &member, Role::Viewer)).await.unwrap();
    assert_eq!(db.store.role_of(member.id, project.id).await.unwrap(), Some(Role::Viewer));
    db.store.upsert_membership(&membership(&project, &member, Role::Editor)).await.unwrap();
    assert_eq!(db.store.role_of(member.id, project.id).await.unwrap(), Some(Role::Editor));
    db.store.upsert_membership(&membership(&project, &owner, Role::Viewer)).await.unwrap();
    assert_eq!(db.store.role_of(owner.id, project.id).await.unwrap(), Some(Role::Viewer));
    // Nothing else changed.
    assert_eq!(db.store.role_of(member.id, project.id).await.unwrap(), Some(Role::Editor));
    assert_eq!(db.store.role_of(owner.id, other.id).await.unwrap(), Some(Role::Owner));
    assert_eq!(db.store.role_of(member.id, other.id).await.unwrap(), None);
    assert_eq!(
        db.store.list_projects(Some(member.id)).await.unwrap().into_iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![project.id]
    );
}
