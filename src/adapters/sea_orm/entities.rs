//! Table mappings (private to this adapter).

pub mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub email: Option<String>,
        pub is_admin: bool,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub key_hash: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod project {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "projects")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub description: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod member {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "project_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub project_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        pub role: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod dataset {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "datasets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub project_id: Uuid,
        pub name: String,
        pub description: Option<String>,
        pub created_at: DateTimeUtc,
        pub latest_version_id: Uuid,
        pub latest_version: i64,
        pub row_count: i64,
        pub column_count: i64,
        /// `name` and `description` folded by `migration::fold_for_search`, for search and
        /// sorting; written with them.
        pub folded_name: String,
        pub folded_description: Option<String>,
        /// Changes since the first version (migration 010).
        pub revision: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(belongs_to = "super::project::Entity", from = "Column::ProjectId", to = "super::project::Column::Id")]
        Project,
    }

    impl Related<super::project::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Project.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod version {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "dataset_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub dataset_id: Uuid,
        pub version: i64,
        pub description: Option<String>,
        pub created_by: Uuid,
        pub row_count: i64,
        pub column_count: i64,
        pub source_format: String,
        /// A JSON document, stored as text (see migration 005).
        #[sea_orm(column_type = "Text")]
        pub columns: String,
        /// A JSON document, stored as text (see migration 005).
        #[sea_orm(column_type = "Text")]
        pub quality: String,
        /// A JSON document, stored as text (see migration 005).
        #[sea_orm(column_type = "Text")]
        pub preview: String,
        pub created_at: DateTimeUtc,
        /// The name the original file was uploaded under (migration 007).
        pub original_file_name: Option<String>,
        /// Hex SHA-256 of the uploaded bytes (migration 008).
        pub sha256: Option<String>,
        /// The hash of the normalized table (migration 008).
        pub content_hash: Option<String>,
        /// How the version fared against its dataset's contract, JSON (migration 011).
        #[sea_orm(column_type = "Text", nullable)]
        pub contract_result: Option<String>,
        /// The hints the upload was read with, JSON; null when none was given (migration 012).
        #[sea_orm(column_type = "Text", nullable)]
        pub read_hints: Option<String>,
        /// Why each column has its type, JSON; null before it was recorded (migration 012).
        #[sea_orm(column_type = "Text", nullable)]
        pub type_evidence: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(belongs_to = "super::user::Entity", from = "Column::CreatedBy", to = "super::user::Column::Id")]
        User,
    }

    impl Related<super::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod artifact {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "artifacts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub version_id: Uuid,
        pub dataset_id: Uuid,
        pub kind: String,
        pub storage_key: String,
        pub size_bytes: i64,
        pub sha256: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod statistics {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "version_statistics")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub version_id: Uuid,
        /// A JSON document, stored as text (see migration 005).
        #[sea_orm(column_type = "Text")]
        pub statistics: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod experiment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "experiments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub project_id: Uuid,
        pub name: String,
        pub dataset_id: Uuid,
        pub dataset_version_id: Option<Uuid>,
        pub target_column: Option<String>,
        pub problem_type: Option<String>,
        pub status: String,
        pub created_at: DateTimeUtc,
        /// The alias the experiment named, if it named one (migration 010).
        pub dataset_alias: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod model {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "models")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub project_id: Uuid,
        pub experiment_id: Uuid,
        pub name: String,
        pub algorithm: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod deployment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "deployments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub project_id: Uuid,
        pub model_id: Uuid,
        pub name: String,
        pub stage: String,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod idempotency_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub idem_key: String,
        pub token: Uuid,
        /// `running` or `done`.
        pub state: String,
        pub lease_until: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub created_at: DateTimeUtc,
        pub fingerprint: Option<String>,
        pub status_code: Option<i32>,
        pub content_type: Option<String>,
        pub response_body: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod alias {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "dataset_aliases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub dataset_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub alias: String,
        pub version_id: Uuid,
        pub version: i64,
        pub updated_at: DateTimeUtc,
        pub updated_by: Uuid,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod alias_move {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "dataset_alias_history")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub dataset_id: Uuid,
        pub alias: String,
        /// The dataset's revision the move made (orders the moves).
        pub revision: i64,
        pub from_version: Option<i64>,
        pub to_version: Option<i64>,
        pub to_version_id: Option<Uuid>,
        pub moved_at: DateTimeUtc,
        pub moved_by: Uuid,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod contract {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "dataset_contracts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub dataset_id: Uuid,
        /// The contract's JSON document (`domain::contracts::ContractDraft`).
        #[sea_orm(column_type = "Text", nullable)]
        pub contract: Option<String>,
        pub updated_at: DateTimeUtc,
        pub updated_by: Uuid,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod webhook {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhooks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub project_id: Uuid,
        #[sea_orm(column_type = "Text")]
        pub url: String,
        /// The event names, each between commas (`,dataset.created,version.created,`).
        #[sea_orm(column_type = "Text")]
        pub events: String,
        #[sea_orm(column_type = "Text")]
        pub description: String,
        pub secret: String,
        pub created_at: DateTimeUtc,
        pub created_by: Uuid,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod webhook_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub project_id: Uuid,
        pub event_type: String,
        /// The JSON body every attempt sends.
        #[sea_orm(column_type = "Text")]
        pub body: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod webhook_delivery {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub webhook_id: Uuid,
        pub event_id: Uuid,
        /// `pending`, `delivered` or `failed`.
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        pub lease_token: Option<Uuid>,
        pub last_status_code: Option<i32>,
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod drift_check {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_drift_checks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub version_id: Uuid,
        pub project_id: Uuid,
        pub dataset_id: Uuid,
        pub version: i64,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        pub lease_token: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
