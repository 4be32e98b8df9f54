//! Projects, users, API keys and memberships.

use crate::app::{App, AppError};
use crate::domain::access::{Action, Principal, Role};
use crate::domain::ids::{ApiKeyId, ProjectId, UserId};
use crate::domain::names::{Description, Email, ProjectName, UserName};
use crate::domain::records::{Membership, Project, User};

/// A new API key: the record id and the key itself, shown once.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub id: ApiKeyId,
    pub key: String,
}

impl App {
    /// Creates a project; a non-admin creator becomes its owner.
    pub async fn create_project(
        &self,
        principal: &Principal,
        name: &str,
        description: Option<&str>,
    ) -> Result<Project, AppError> {
        let project = Project {
            id: ProjectId(self.ids.new_id()),
            name: ProjectName::parse(name)?.into_string(),
            description: Description::parse_optional(description)?.map(Description::into_string),
            created_at: self.clock.now(),
        };
        let owner = (!principal.is_admin).then(|| Membership {
            project_id: project.id,
            user_id: principal.user_id,
            role: Role::Owner,
            created_at: project.created_at,
        });
        self.metadata.insert_project(&project, owner.as_ref()).await?;
        Ok(project)
    }

    /// The projects the caller can see.
    pub async fn list_projects(&self, principal: &Principal) -> Result<Vec<Project>, AppError> {
        let member = (!principal.is_admin).then_some(principal.user_id);
        Ok(self.metadata.list_projects(member).await?)
    }

    /// Admin only.
    pub async fn create_user(&self, principal: &Principal, name: &str, email: Option<&str>) -> Result<User, AppError> {
        Self::require_admin(principal)?;
        let user = User {
            id: UserId(self.ids.new_id()),
            name: UserName::parse(name)?.into_string(),
            email: email.map(Email::parse).transpose()?.map(|e| e.as_str().to_string()),
            is_admin: false,
            created_at: self.clock.now(),
        };
        self.metadata.insert_user(&user).await?;
        Ok(user)
    }

    /// Admin only. The key is returned once and stored only as a hash.
    pub async fn issue_api_key(&self, principal: &Principal, user: UserId) -> Result<IssuedKey, AppError> {
        Self::require_admin(principal)?;
        if self.metadata.find_user(user).await?.is_none() {
            return Err(AppError::NotFound("user"));
        }
        let key = self.secrets.new_api_key();
        let record = self.add_key(user, &key).await?;
        Ok(IssuedKey { id: record.id, key })
    }

    /// Project owners and the admin.
    pub async fn add_member(
        &self,
        principal: &Principal,
        project: ProjectId,
        user: UserId,
        role: &str,
    ) -> Result<Membership, AppError> {
        let role = Role::parse(role)
            .ok_or_else(|| AppError::Invalid(format!("role must be viewer, editor or owner, not {role:?}")))?;
        self.authorize(principal, project, Action::ManageMembers).await?;
        if self.metadata.find_user(user).await?.is_none() {
            return Err(AppError::NotFound("user"));
        }
        let membership = Membership { project_id: project, user_id: user, role, created_at: self.clock.now() };
        self.metadata.upsert_membership(&membership).await?;
        Ok(membership)
    }
}
