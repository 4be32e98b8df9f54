//! Typed identifiers. Every id is a UUID; the newtypes keep a dataset id from being passed
//! where a project id is expected.

use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }
    };
}

id_type!(
    /// A user: a person or a service that holds API keys.
    UserId
);
id_type!(
    /// An API key record (not the secret key itself).
    ApiKeyId
);
id_type!(
    /// A project: the unit of access control that owns datasets.
    ProjectId
);
id_type!(
    /// A dataset: a named, versioned table inside a project.
    DatasetId
);
id_type!(
    /// One immutable version of a dataset.
    VersionId
);
id_type!(
    /// A stored file (the original upload or its normalized Parquet copy).
    ArtifactId
);
id_type!(
    /// A training experiment that used a dataset.
    ExperimentId
);
id_type!(
    /// A model trained by an experiment.
    ModelId
);
id_type!(
    /// A deployment serving a model.
    DeploymentId
);
id_type!(
    /// A webhook: a project's subscription to events, delivered to a URL.
    WebhookId
);
id_type!(
    /// An event recorded for webhooks (sent as `webhook-id`, the same on every attempt).
    EventId
);
id_type!(
    /// One event's delivery to one webhook, with its attempts.
    DeliveryId
);
