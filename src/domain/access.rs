//! Who may do what. Projects are the unit of access: the admin sees everything; any other user
//! sees only the projects they are a member of, with a role that bounds what they may do.

use crate::domain::ids::UserId;

/// A member's role in a project, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// May read datasets, versions, statistics and lineage.
    Viewer,
    /// May also upload datasets and versions, delete datasets and record lineage.
    Editor,
    /// May also add members to the project.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub name: String,
    pub is_admin: bool,
}

/// What the caller wants to do inside a project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
    ManageMembers,
    /// Register, change and delete webhooks, and see their deliveries.
    ManageWebhooks,
}

/// The outcome of an access decision. `Hidden` must be reported exactly like a missing
/// resource (404), so that a caller cannot learn that a project exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Granted,
    Forbidden,
    Hidden,
}

/// Decides `action` for `principal`, whose membership role in the project is `role` (none when
/// not a member).
pub fn decide(principal: &Principal, role: Option<Role>, action: Action) -> Access {
    if principal.is_admin {
        return Access::Granted;
    }
    let Some(role) = role else { return Access::Hidden };
    let needed = match action {
        Action::Read => Role::Viewer,
        Action::Write => Role::Editor,
        Action::ManageMembers | Action::ManageWebhooks => Role::Owner,
    };
    if role >= needed { Access::Granted } else { Access::Forbidden }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn user(is_admin: bool) -> Principal {
        Principal { user_id: UserId(Uuid::nil()), name: "u".into(), is_admin }
    }

    #[test]
    fn admin_may_do_everything_without_membership() {
        for action in [Action::Read, Action::Write, Action::ManageMembers] {
            assert_eq!(decide(&user(true), None, action), Access::Granted);
        }
    }

    #[test]
    fn non_members_see_nothing() {
        assert_eq!(decide(&user(false), None, Action::Read), Access::Hidden);
        assert_eq!(decide(&user(false), None, Action::Write), Access::Hidden);
    }

    #[test]
    fn viewers_read_but_cannot_write() {
        assert_eq!(decide(&user(false), Some(Role::Viewer), Action::Read), Access::Granted);
        assert_eq!(decide(&user(false), Some(Role::Viewer), Action::Write), Access::Forbidden);
    }

    #[test]
    fn editors_write_but_only_owners_manage_members() {
        assert_eq!(decide(&user(false), Some(Role::Editor), Action::Write), Access::Granted);
        assert_eq!(decide(&user(false), Some(Role::Editor), Action::ManageMembers), Access::Forbidden);
        assert_eq!(decide(&user(false), Some(Role::Owner), Action::ManageMembers), Access::Granted);
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [Role::Viewer, Role::Editor, Role::Owner] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}

/// The stored form of an API key: lower-case hex SHA-256 of the key's bytes. Keys are random
/// with 256 bits of entropy, so a fast hash is enough (no password stretching needed).
pub fn key_hash(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod key_hash_tests {
    #[test]
    fn key_hash_is_the_hex_sha256_of_the_key() {
        assert_eq!(super::key_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
