//! Typed, prefixed, time-sortable ids (`ws_0192...`): a UUIDv7 in lowercase
//! hex behind a type prefix, so ids sort by creation time and cannot be
//! swapped between types.

use std::fmt;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id.
            pub fn new() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Accepts a string only if it has this id's prefix and shape.
            pub fn parse(s: &str) -> Option<Self> {
                let body = s.strip_prefix($prefix)?;
                (body.len() == 32 && body.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
                    .then(|| Self(s.to_owned()))
            }

            /// Wraps an id read back from the database.
            pub fn from_db(s: String) -> Self {
                Self(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&$name> for crate::store::db::Value {
            fn from(id: &$name) -> Self {
                crate::store::db::Value::Text(id.0.clone())
            }
        }
        impl From<$name> for crate::store::db::Value {
            fn from(id: $name) -> Self {
                crate::store::db::Value::Text(id.0)
            }
        }
    };
}

typed_id!(/// A user account.
    UserId, "usr_");
typed_id!(/// An organization.
    OrganizationId, "org_");
typed_id!(/// A workspace.
    WorkspaceId, "ws_");
typed_id!(/// A workspace membership.
    MembershipId, "mem_");
typed_id!(/// An invitation.
    InvitationId, "inv_");
typed_id!(/// A project.
    ProjectId, "prj_");
typed_id!(/// A codebase.
    CodebaseId, "cb_");
typed_id!(/// A bridge (integration).
    BridgeId, "brg_");
typed_id!(/// A scheduled or manual run.
    RunId, "run_");
typed_id!(/// An audit event.
    EventId, "evt_");
typed_id!(/// A webhook endpoint.
    WebhookId, "whk_");
typed_id!(/// An API token.
    TokenId, "tok_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_sort_by_creation() {
        let a = WorkspaceId::new();
        let b = WorkspaceId::new();
        assert!(a.as_str().starts_with("ws_"));
        assert!(a < b);
        assert!(WorkspaceId::parse(a.as_str()).is_some());
        assert!(WorkspaceId::parse("ws_nothex").is_none());
        assert!(UserId::parse(a.as_str()).is_none());
    }
}
