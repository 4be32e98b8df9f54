//! The events a webhook receives, and the body sent for each: `{"type", "timestamp", "data"}`,
//! where `data` names the project, the dataset and, for version events, the version
//! (`version`, `dataset_version_id`). The body is written once, when the event is recorded with
//! the change it describes; every attempt sends the same bytes.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::EventType;
use crate::domain::ids::{DatasetId, ProjectId, VersionId};

/// An event as recorded: its type and the body every attempt sends.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBody {
    pub event_type: EventType,
    pub body: String,
}

/// The dataset an event is about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub project_id: ProjectId,
    pub dataset_id: DatasetId,
    pub dataset_name: &'a str,
}

impl Subject<'_> {
    fn data(&self) -> Map<String, Value> {
        let mut data = Map::new();
        data.insert("project_id".into(), json!(self.project_id.0));
        data.insert("dataset_id".into(), json!(self.dataset_id.0));
        data.insert("dataset_name".into(), json!(self.dataset_name));
        data
    }
}

/// A version of the subject's dataset.
#[derive(Debug, Clone, Copy)]
pub struct VersionFacts {
    pub number: i64,
    pub id: VersionId,
    pub row_count: u64,
    pub column_count: usize,
}

fn with_version(mut data: Map<String, Value>, version: &VersionFacts) -> Map<String, Value> {
    data.insert("version".into(), json!(version.number));
    data.insert("dataset_version_id".into(), json!(version.id.0));
    data.insert("row_count".into(), json!(version.row_count));
    data.insert("column_count".into(), json!(version.column_count));
    data
}

fn body(event_type: EventType, at: DateTime<Utc>, data: Map<String, Value>) -> EventBody {
    let body = json!({
        "type": event_type.as_str(),
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "data": data,
    });
    EventBody { event_type, body: body.to_string() }
}

/// `dataset.created`: the dataset and its first version.
pub fn dataset_created(at: DateTime<Utc>, subject: &Subject<'_>, version: &VersionFacts) -> EventBody {
    body(EventType::DatasetCreated, at, with_version(subject.data(), version))
}

/// `version.created`: a new version (the first one too).
pub fn version_created(at: DateTime<Utc>, subject: &Subject<'_>, version: &VersionFacts) -> EventBody {
    body(EventType::VersionCreated, at, with_version(subject.data(), version))
}

/// `contract.failed`: a version that did not meet its dataset's contract (kept, in `warn` mode).
pub fn contract_failed(
    at: DateTime<Utc>,
    subject: &Subject<'_>,
    version: &VersionFacts,
    violations: usize,
) -> EventBody {
    let mut data = with_version(subject.data(), version);
    data.insert("violations".into(), json!(violations));
    body(EventType::ContractFailed, at, data)
}

/// `drift.detected`: a new version drifted from the one before it (`/compare`'s default rule,
/// `dataset_drift: true`).
pub fn drift_detected(
    at: DateTime<Utc>,
    subject: &Subject<'_>,
    version: &VersionFacts,
    drifted_columns: &[String],
    drift_share: f64,
) -> EventBody {
    let mut data = with_version(subject.data(), version);
    data.insert("compared_with_version".into(), json!(version.number - 1));
    data.insert("drifted_columns".into(), json!(drifted_columns));
    data.insert("drift_share".into(), json!(drift_share));
    body(EventType::DriftDetected, at, data)
}

/// `dataset.deleted`: the dataset and all its versions are gone.
pub fn dataset_deleted(at: DateTime<Utc>, subject: &Subject<'_>) -> EventBody {
    body(EventType::DatasetDeleted, at, subject.data())
}

/// `alias.moved`: an alias set, moved or removed (`to` is null once removed).
pub fn alias_moved(
    at: DateTime<Utc>,
    subject: &Subject<'_>,
    alias: &str,
    from: Option<i64>,
    to: Option<(VersionId, i64)>,
) -> EventBody {
    let mut data = subject.data();
    data.insert("alias".into(), json!(alias));
    data.insert("from_version".into(), json!(from));
    data.insert("version".into(), json!(to.map(|(_, n)| n)));
    data.insert("dataset_version_id".into(), json!(to.map(|(id, _)| id.0)));
    body(EventType::AliasMoved, at, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn subject() -> Subject<'static> {
        Subject {
            project_id: ProjectId(Uuid::from_u128(1)),
            dataset_id: DatasetId(Uuid::from_u128(2)),
            dataset_name: "sales \"EU\"",
        }
    }

    #[test]
    fn a_version_event_names_the_project_the_dataset_and_the_version() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T10:00:00.5Z").unwrap().with_timezone(&Utc);
        let version = VersionFacts { number: 3, id: VersionId(Uuid::from_u128(3)), row_count: 10, column_count: 2 };
        let event = version_created(at, &subject(), &version);
        assert_eq!(event.event_type, EventType::VersionCreated);
        let body: Value = serde_json::from_str(&event.body).unwrap();
        assert_eq!(body["type"], "version.created");
        assert_eq!(body["timestamp"], "2026-12-05T10:00:00.500000Z");
        assert_eq!(body["data"]["project_id"], "00000000-0000-0000-0000-000000000001");
        assert_eq!(body["data"]["dataset_id"], "00000000-0000-0000-0000-000000000002");
        assert_eq!(body["data"]["dataset_name"], "sales \"EU\"");
        assert_eq!(body["data"]["version"], 3);
        assert_eq!(body["data"]["dataset_version_id"], "00000000-0000-0000-0000-000000000003");
        assert_eq!(body["data"]["row_count"], 10);
        let failed = contract_failed(at, &subject(), &version, 4);
        assert_eq!(serde_json::from_str::<Value>(&failed.body).unwrap()["data"]["violations"], 4);
    }

    #[test]
    fn a_removed_alias_names_no_version_and_a_deleted_dataset_none_at_all() {
        let at = Utc::now();
        let moved = alias_moved(at, &subject(), "production", Some(2), None);
        let body: Value = serde_json::from_str(&moved.body).unwrap();
        assert_eq!(body["data"]["alias"], "production");
        assert_eq!(body["data"]["from_version"], 2);
        assert_eq!(body["data"]["version"], Value::Null);
        let deleted: Value = serde_json::from_str(&dataset_deleted(at, &subject()).body).unwrap();
        assert_eq!(deleted["type"], "dataset.deleted");
        assert!(deleted["data"].get("version").is_none());
    }
}
