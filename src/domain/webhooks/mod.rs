//! Webhooks (issue #20): what a subscription may ask for, how a delivery is signed, where it
//! may be sent and when a failed one is tried again. Pure rules; the outbox, the dispatcher and
//! the HTTP client live in the adapters.
//!
//! - [`EventType`]: the events a webhook subscribes to, by their wire names.
//! - [`signature`]: secrets (`whsec_` + base64 of 32 bytes) and the Standard Webhooks
//!   signature (`v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`).
//! - [`targets`]: a target URL (`http`/`https`, a host, no credentials) and the addresses a
//!   delivery must never reach (loopback, private, link-local, metadata, …).
//! - [`retry`]: the schedule of attempts after a failure (`WEBHOOK_RETRY_SCHEDULE`).

pub mod events;
pub mod records;
pub mod retry;
pub mod signature;
pub mod targets;

use thiserror::Error;

/// Most bytes of a webhook's description.
pub const MAX_DESCRIPTION_BYTES: usize = 1_000;

/// An event a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    DatasetCreated,
    VersionCreated,
    DatasetDeleted,
    AliasMoved,
    ContractFailed,
    DriftDetected,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::DatasetCreated,
        EventType::VersionCreated,
        EventType::DatasetDeleted,
        EventType::AliasMoved,
        EventType::ContractFailed,
        EventType::DriftDetected,
    ];

    /// The event's name on the wire (the body's `type`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::DatasetCreated => "dataset.created",
            EventType::VersionCreated => "version.created",
            EventType::DatasetDeleted => "dataset.deleted",
            EventType::AliasMoved => "alias.moved",
            EventType::ContractFailed => "contract.failed",
            EventType::DriftDetected => "drift.detected",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == raw)
    }
}

/// Why a webhook as sent cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubscriptionError {
    #[error("events must list at least one event: {}", known_events())]
    NoEvents,
    #[error("unknown event {0:?}: the events are {known}", known = known_events())]
    UnknownEvent(String),
    #[error("the description takes more than {MAX_DESCRIPTION_BYTES} bytes")]
    DescriptionTooLong,
}

fn known_events() -> String {
    EventType::ALL.map(EventType::as_str).join(", ")
}

/// The events a webhook subscribes to, each once, in a stable order.
pub fn parse_events(raw: &[String]) -> Result<Vec<EventType>, SubscriptionError> {
    if raw.is_empty() {
        return Err(SubscriptionError::NoEvents);
    }
    let mut events = raw
        .iter()
        .map(|name| EventType::parse(name).ok_or_else(|| SubscriptionError::UnknownEvent(name.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    events.sort();
    events.dedup();
    Ok(events)
}

/// A description within its limit.
pub fn check_description(description: &str) -> Result<(), SubscriptionError> {
    if description.len() > MAX_DESCRIPTION_BYTES {
        return Err(SubscriptionError::DescriptionTooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_name_parses_back_to_its_event() {
        for event in EventType::ALL {
            assert_eq!(EventType::parse(event.as_str()), Some(event));
        }
        assert_eq!(EventType::parse("Version.Created"), None);
    }

    #[test]
    fn events_are_listed_once_each_and_unknown_or_no_events_are_refused() {
        let raw = ["version.created", "dataset.created", "version.created"].map(String::from);
        assert_eq!(parse_events(&raw), Ok(vec![EventType::DatasetCreated, EventType::VersionCreated]));
        assert_eq!(parse_events(&[]), Err(SubscriptionError::NoEvents));
        let err = parse_events(&["version.made".to_string()]).unwrap_err();
        assert_eq!(err, SubscriptionError::UnknownEvent("version.made".into()));
        assert!(err.to_string().contains("drift.detected"), "{err}");
    }

    #[test]
    fn a_description_longer_than_the_limit_is_refused() {
        assert!(check_description(&"d".repeat(MAX_DESCRIPTION_BYTES)).is_ok());
        assert_eq!(
            check_description(&"d".repeat(MAX_DESCRIPTION_BYTES + 1)),
            Err(SubscriptionError::DescriptionTooLong)
        );
    }
}
