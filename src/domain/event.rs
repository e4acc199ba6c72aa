//! Events (SPEC §9): every change is recorded, in the transaction that
//! makes it, as `{type, workspace_id, organization_id, actor, target,
//! changes, request_id}`. The audit log reads them back.
//!
//! Who acted and under which request is the same for every change a request
//! makes, so it travels with the request rather than through every store
//! call: the HTTP layer opens an [`Origin`] scope per request (with its
//! request id) and names the actor once the token is known; the store reads
//! it when it records an event. Outside a request (the scheduler, the
//! purge), the actor is the system.

use std::cell::RefCell;

use serde_json::{Map, Value};

use super::ids::{OrganizationId, WorkspaceId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Service,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Service => "service",
            ActorKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => ActorKind::User,
            "service" => ActorKind::Service,
            "system" => ActorKind::System,
            _ => return None,
        })
    }
}

/// Who made a change: a user (`usr_…`), a service token or the platform
/// admin (`tok_…`), or the system (no id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<String>,
}

impl Actor {
    pub const SYSTEM: Actor = Actor {
        kind: ActorKind::System,
        id: None,
    };
}

/// The request a change comes from.
#[derive(Debug, Clone)]
pub struct Origin {
    pub actor: Actor,
    pub request_id: Option<String>,
}

impl Origin {
    /// No request: the system's own doing.
    pub const SYSTEM: Origin = Origin {
        actor: Actor::SYSTEM,
        request_id: None,
    };
}

tokio::task_local! {
    static ORIGIN: RefCell<Origin>;
}

/// Runs `fut` as request `request_id`; its actor is the system until
/// [`set_actor`] names one.
pub async fn with_request<F: std::future::Future>(request_id: String, fut: F) -> F::Output {
    let origin = Origin {
        request_id: Some(request_id),
        ..Origin::SYSTEM
    };
    ORIGIN.scope(RefCell::new(origin), fut).await
}

/// Names the actor of the current request (no effect outside one, nor in
/// a read, which the HTTP layer runs without an origin scope).
pub fn set_actor(actor: impl FnOnce() -> Actor) {
    let _ = ORIGIN.try_with(|o| o.borrow_mut().actor = actor());
}

/// The current request's origin; the system outside a request.
pub fn origin() -> Origin {
    ORIGIN
        .try_with(|o| o.borrow().clone())
        .unwrap_or(Origin::SYSTEM)
}

/// `{field: [before, after]}`, with only the fields that changed.
#[derive(Debug, Default, Clone)]
pub struct Changes(Map<String, Value>);

impl Changes {
    pub fn new() -> Self {
        Changes::default()
    }

    /// Adds `field` when `before` and `after` differ.
    pub fn field(mut self, field: &str, before: impl Into<Value>, after: impl Into<Value>) -> Self {
        let (b, a) = (before.into(), after.into());
        if b != a {
            self.0.insert(field.to_owned(), Value::Array(vec![b, a]));
        }
        self
    }

    /// Adds `field` even when the two sides read the same (a secret
    /// replaced: both sides are shown redacted).
    pub fn always(
        mut self,
        field: &str,
        before: impl Into<Value>,
        after: impl Into<Value>,
    ) -> Self {
        self.0.insert(
            field.to_owned(),
            Value::Array(vec![before.into(), after.into()]),
        );
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// `<resource>.<verb>`: `workspace.created`, `member.role_changed`, …
    pub kind: &'static str,
    pub workspace_id: Option<WorkspaceId>,
    pub organization_id: Option<OrganizationId>,
    pub target_type: &'static str,
    pub target_id: String,
    pub changes: Changes,
    /// Made by the system even inside a request (a claim taking back
    /// another worker's lapsed lease).
    pub by_system: bool,
}

impl NewEvent {
    /// An event about something of workspace `ws`.
    pub fn in_workspace(
        kind: &'static str,
        ws: &WorkspaceId,
        target_type: &'static str,
        target_id: impl Into<String>,
    ) -> Self {
        NewEvent {
            kind,
            workspace_id: Some(ws.clone()),
            organization_id: None,
            target_type,
            target_id: target_id.into(),
            changes: Changes::new(),
            by_system: false,
        }
    }

    /// An event about organization `org` itself.
    pub fn in_organization(
        kind: &'static str,
        org: &OrganizationId,
        target_type: &'static str,
        target_id: impl Into<String>,
    ) -> Self {
        NewEvent {
            kind,
            workspace_id: None,
            organization_id: Some(org.clone()),
            target_type,
            target_id: target_id.into(),
            changes: Changes::new(),
            by_system: false,
        }
    }

    pub fn by_system(mut self) -> Self {
        self.by_system = true;
        self
    }

    pub fn with_changes(mut self, changes: Changes) -> Self {
        self.changes = changes;
        self
    }

    pub fn in_org(mut self, org: Option<OrganizationId>) -> Self {
        self.organization_id = org;
        self
    }
}

/// Every event type the service records (SPEC §9), for the `type` filter
/// and the webhook subscriptions.
pub const TYPES: &[&str] = &[
    "workspace.created",
    "workspace.updated",
    "workspace.archived",
    "workspace.unarchived",
    "workspace.deleted",
    "workspace.restored",
    // Listed and subscribable (SPEC §9), never delivered: a purge deletes
    // the workspace's events and webhooks with it (docs/events.md).
    "workspace.purged",
    "workspace.transferred",
    "member.added",
    "member.joined",
    "member.role_changed",
    "member.removed",
    "member.left",
    "invitation.created",
    "invitation.accepted",
    "invitation.declined",
    "invitation.revoked",
    "join_code.rotated",
    "join_code.disabled",
    "settings.updated",
    "providers.updated",
    "schedule.updated",
    "run.queued",
    "run.started",
    "run.succeeded",
    "run.failed",
    "run.cancelled",
    "project.created",
    "project.updated",
    "project.deleted",
    "codebase.created",
    "codebase.updated",
    "codebase.deleted",
    "bridge.created",
    "bridge.updated",
    "bridge.deleted",
    "webhook.created",
    "webhook.updated",
    "webhook.deleted",
    "organization.created",
    "organization.updated",
    "organization.deleted",
    "organization.member_added",
    "organization.member_role_changed",
    "organization.member_removed",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_keep_only_what_changed() {
        let c = Changes::new()
            .field("name", "A", "B")
            .field("slug", "a", "a")
            .field("description", Value::Null, "x");
        assert_eq!(
            Value::Object(c.into_map()),
            json!({"name": ["A", "B"], "description": [null, "x"]})
        );
    }

    #[tokio::test]
    async fn the_origin_is_the_request_s_and_the_system_outside_one() {
        assert_eq!(origin().actor, Actor::SYSTEM);
        let inside = with_request("req-1".into(), async {
            set_actor(|| Actor {
                kind: ActorKind::User,
                id: Some("usr_1".into()),
            });
            origin()
        })
        .await;
        assert_eq!(inside.actor.kind, ActorKind::User);
        assert_eq!(inside.request_id.as_deref(), Some("req-1"));
        assert_eq!(origin().request_id, None);
    }
}
