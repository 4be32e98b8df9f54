//! Authentication (API keys) and project access decisions.

use crate::app::{App, AppError};
use crate::domain::access::{Access, Action, Principal, decide, key_hash};
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::records::{ApiKeyRecord, Project, User};

/// What start-up did about the admin account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminBootstrap {
    /// `ADMIN_API_KEY` was set and now authenticates the admin.
    ConfiguredKeyActive,
    /// An admin already existed and no key was configured: nothing changed.
    AlreadyPresent,
    /// No admin existed: one was created with this key, to be shown once.
    Created { key: String },
}

impl App {
    /// The caller holding `key`, if the key is known.
    pub async fn authenticate(&self, key: &str) -> Result<Option<Principal>, AppError> {
        Ok(self.metadata.find_principal_by_key_hash(&key_hash(key)).await?)
    }

    /// Makes sure an admin can sign in: with `configured` when given, else with a new key
    /// when no admin exists yet.
    pub async fn bootstrap_admin(&self, configured: Option<&str>) -> Result<AdminBootstrap, AppError> {
        if let Some(key) = configured {
            if let Some(p) = self.authenticate(key).await? {
                if p.is_admin {
                    return Ok(AdminBootstrap::ConfiguredKeyActive);
                }
                return Err(AppError::Conflict("ADMIN_API_KEY is already the key of a non-admin user".into()));
            }
            let admin = self.admin_user().await?;
            self.add_key(admin.id, key).await?;
            return Ok(AdminBootstrap::ConfiguredKeyActive);
        }
        if self.metadata.find_admin().await?.is_some() {
            return Ok(AdminBootstrap::AlreadyPresent);
        }
        let admin = self.admin_user().await?;
        let key = self.secrets.new_api_key();
        self.add_key(admin.id, &key).await?;
        Ok(AdminBootstrap::Created { key })
    }

    /// A new API key for the admin (created when missing): recovers access when every admin
    /// key is lost. Shown once by the caller.
    pub async fn new_admin_key(&self) -> Result<String, AppError> {
        let admin = self.admin_user().await?;
        let key = self.secrets.new_api_key();
        self.add_key(admin.id, &key).await?;
        Ok(key)
    }

    async fn admin_user(&self) -> Result<User, AppError> {
        if let Some(admin) = self.metadata.find_admin().await? {
            return Ok(admin);
        }
        let admin = User {
            id: UserId(self.ids.new_id()),
            name: "admin".into(),
            email: None,
            is_admin: true,
            created_at: self.clock.now(),
        };
        self.metadata.insert_user(&admin).await?;
        Ok(admin)
    }

    pub(crate) async fn add_key(&self, user: UserId, key: &str) -> Result<ApiKeyRecord, AppError> {
        let record = ApiKeyRecord {
            id: self.ids.new_id().into(),
            user_id: user,
            key_hash: key_hash(key),
            created_at: self.clock.now(),
        };
        self.metadata.insert_api_key(&record).await?;
        Ok(record)
    }

    /// The project, when `principal` may do `action` in it. A project the caller may not see
    /// is reported exactly like a missing one.
    pub async fn authorize(
        &self,
        principal: &Principal,
        project: ProjectId,
        action: Action,
    ) -> Result<Project, AppError> {
        let Some(found) = self.metadata.find_project(project).await? else {
            return Err(AppError::NotFound("project"));
        };
        let role = if principal.is_admin { None } else { self.metadata.role_of(principal.user_id, project).await? };
        match decide(principal, role, action) {
            Access::Granted => Ok(found),
            Access::Hidden => Err(AppError::NotFound("project")),
            Access::Forbidden => Err(AppError::Forbidden(match action {
                Action::Read => "you may not read this project".into(),
                Action::Write => "viewers may not change this project's datasets".into(),
                Action::ManageMembers => "only the project's owners may manage its members".into(),
                Action::ManageWebhooks => "only the project's owners may manage its webhooks".into(),
            })),
        }
    }

    pub(crate) fn require_admin(principal: &Principal) -> Result<(), AppError> {
        if principal.is_admin { Ok(()) } else { Err(AppError::Forbidden("only the admin may do this".into())) }
    }
}
