//! Projects, users, API keys and memberships.

use super::time::UtcTime;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::errors::ApiError;
use super::idempotency::{Created, KeyHeader};
use super::text::{DescriptionRule, EmailRule, NameRule, RuledText};
use crate::app::App;
use crate::domain::access::Role;
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::records::{Project, User};

#[derive(Object, Debug)]
pub struct CreateProject {
    /// 1–200 characters.
    pub name: RuledText<NameRule>,
    /// At most 10,000 characters; tab and line breaks allowed.
    #[oai(nullable)]
    pub description: Option<RuledText<DescriptionRule>>,
}

#[derive(Object, Debug)]
pub struct ProjectDto {
    pub id: Uuid,
    pub name: String,
    #[oai(nullable)]
    pub description: Option<String>,
    pub created_at: UtcTime,
}

impl From<Project> for ProjectDto {
    fn from(p: Project) -> Self {
        Self { id: p.id.0, name: p.name, description: p.description, created_at: p.created_at.into() }
    }
}

#[derive(Object, Debug)]
pub struct ProjectList {
    pub items: Vec<ProjectDto>,
}

#[derive(Object, Debug)]
pub struct CreateUser {
    /// 1–200 characters.
    pub name: RuledText<NameRule>,
    /// `local@domain`.
    #[oai(nullable)]
    pub email: Option<RuledText<EmailRule>>,
}

#[derive(Object, Debug)]
pub struct UserDto {
    pub id: Uuid,
    pub name: String,
    #[oai(nullable)]
    pub email: Option<String>,
    pub is_admin: bool,
    pub created_at: UtcTime,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self { id: u.id.0, name: u.name, email: u.email, is_admin: u.is_admin, created_at: u.created_at.into() }
    }
}

/// A new API key. `key` is shown only in this response; the server keeps only its hash.
#[derive(Object, Debug)]
pub struct ApiKeyDto {
    pub id: Uuid,
    pub key: String,
}

/// A member's role: `viewer` reads, `editor` also uploads and deletes, `owner` also manages members.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum RoleDto {
    Viewer,
    Editor,
    Owner,
}

impl RoleDto {
    fn as_str(self) -> &'static str {
        match self {
            RoleDto::Viewer => "viewer",
            RoleDto::Editor => "editor",
            RoleDto::Owner => "owner",
        }
    }

    fn from_role(role: Role) -> Self {
        match role {
            Role::Viewer => RoleDto::Viewer,
            Role::Editor => RoleDto::Editor,
            Role::Owner => RoleDto::Owner,
        }
    }
}

#[derive(Object, Debug)]
pub struct AddMember {
    pub user_id: Uuid,
    pub role: RoleDto,
}

#[derive(Object, Debug)]
pub struct MemberDto {
    pub project_id: Uuid,
    pub user_id: Uuid,
    pub role: RoleDto,
    pub created_at: UtcTime,
}

#[derive(ApiResponse)]
pub enum UserCreated {
    #[oai(status = 201)]
    Created(Json<UserDto>),
}

#[derive(ApiResponse)]
pub enum KeyCreated {
    #[oai(status = 201)]
    Created(Json<ApiKeyDto>),
}

#[derive(ApiResponse)]
pub enum MemberAdded {
    #[oai(status = 201)]
    Added(Json<MemberDto>),
}

pub struct ProjectsApi;

#[OpenApi(tag = "ApiTags::Projects")]
impl ProjectsApi {
    /// Create a project
    ///
    /// Creates a project. A non-admin creator becomes its `owner`.
    #[oai(path = "/api/projects", method = "post", operation_id = "create_project")]
    async fn create_project(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        body: Json<CreateProject>,
        /// Makes the request safe to retry: the same key with the same request within
        /// `IDEMPOTENCY_TTL_SECONDS` replays the first answer (`Idempotent-Replayed: true`)
        /// and creates nothing; with another request, `422 idempotency_key_reused`; while the
        /// first still runs, `409` with `Retry-After`. 1–255 visible ASCII characters.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: KeyHeader,
    ) -> Result<Created<ProjectDto>, ApiError> {
        let project = app.create_project(&auth.0, &body.name, body.description.as_deref()).await?;
        Ok(Created::new(project.into()))
    }

    /// List projects
    ///
    /// The projects the caller can see (all of them for the admin), oldest first.
    #[oai(path = "/api/projects", method = "get", operation_id = "list_projects")]
    async fn list_projects(&self, auth: BearerAuth, app: Data<&App>) -> Result<Json<ProjectList>, ApiError> {
        let items = app.list_projects(&auth.0).await?.into_iter().map(ProjectDto::from).collect();
        Ok(Json(ProjectList { items }))
    }

    /// Add or change a project member
    ///
    /// Gives `user_id` the `role` in the project (replacing an earlier role). Project owners
    /// and the admin only.
    #[oai(path = "/api/projects/:project_id/members", method = "post", operation_id = "add_project_member")]
    async fn add_member(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        project_id: Path<Uuid>,
        body: Json<AddMember>,
    ) -> Result<MemberAdded, ApiError> {
        let m = app.add_member(&auth.0, ProjectId(project_id.0), UserId(body.user_id), body.role.as_str()).await?;
        Ok(MemberAdded::Added(Json(MemberDto {
            project_id: m.project_id.0,
            user_id: m.user_id.0,
            role: RoleDto::from_role(m.role),
            created_at: m.created_at.into(),
        })))
    }
}

pub struct UsersApi;

#[OpenApi(tag = "ApiTags::Users")]
impl UsersApi {
    /// Create a user
    ///
    /// Admin only. The user can sign in once an API key is issued for them.
    #[oai(path = "/api/users", method = "post", operation_id = "create_user")]
    async fn create_user(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        body: Json<CreateUser>,
    ) -> Result<UserCreated, ApiError> {
        let user = app.create_user(&auth.0, &body.name, body.email.as_deref()).await?;
        Ok(UserCreated::Created(Json(user.into())))
    }

    /// Issue an API key
    ///
    /// Admin only. The plaintext key is in this response only; the server stores its hash.
    #[oai(path = "/api/users/:user_id/api-keys", method = "post", operation_id = "create_api_key")]
    async fn create_api_key(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        user_id: Path<Uuid>,
    ) -> Result<KeyCreated, ApiError> {
        let issued = app.issue_api_key(&auth.0, UserId(user_id.0)).await?;
        Ok(KeyCreated::Created(Json(ApiKeyDto { id: issued.id.0, key: issued.key })))
    }
}
