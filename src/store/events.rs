//! Events (SPEC §9): [`record`] writes one in the caller's transaction, so
//! a change and its event commit or roll back together; the audit log
//! lists a workspace's events newest first.

use serde_json::Value;

use super::db::{Row, Tx};
use super::lists::{page_newest_first, NewestFirst};
use super::Store;
use crate::domain::event::{origin, Actor, ActorKind, NewEvent};
use crate::domain::ids::{EventId, OrganizationId, WorkspaceId};
use crate::domain::pagination::{Page, PageRequest};
use crate::domain::time::{now_ms, Millis};
use crate::domain::Error;
use crate::params;

/// An event as stored.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: EventId,
    pub kind: String,
    pub workspace_id: Option<WorkspaceId>,
    pub organization_id: Option<OrganizationId>,
    pub actor: Actor,
    pub target_type: String,
    pub target_id: String,
    /// `{field: [before, after]}` as JSON text.
    pub changes: String,
    pub request_id: Option<String>,
    pub created_at: Millis,
}

const COLS: &str = "id, type, workspace_id, organization_id, actor_type, actor_id, \
     target_type, target_id, changes, request_id, created_at";

fn event_from(mut r: Row) -> Result<Event, Error> {
    Ok(Event {
        id: EventId::from_db(r.take_text(0)?),
        kind: r.take_text(1)?,
        workspace_id: r.take_opt_text(2)?.map(WorkspaceId::from_db),
        organization_id: r.take_opt_text(3)?.map(OrganizationId::from_db),
        actor: Actor {
            kind: ActorKind::parse(r.str(4)?).ok_or(super::db::DbError::Decode(4))?,
            id: r.take_opt_text(5)?,
        },
        target_type: r.take_text(6)?,
        target_id: r.take_text(7)?,
        changes: r.take_text(8)?,
        request_id: r.take_opt_text(9)?,
        created_at: r.int(10)?,
    })
}

/// Records `event` in `tx`, as the current request's actor (or the system).
/// The organization, when not given, is the workspace's.
pub(crate) async fn record(tx: &mut Tx, event: NewEvent) -> Result<(), Error> {
    // An update that changed nothing is not an event.
    if event.kind.ends_with(".updated") && event.changes.is_empty() {
        return Ok(());
    }
    let o = if event.by_system {
        crate::domain::event::Origin::SYSTEM
    } else {
        origin()
    };
    let (id, now) = (EventId::new(), now_ms());
    let scope = match (&event.workspace_id, &event.organization_id) {
        (Some(ws), _) => Some(super::webhooks::Subscribers::Workspace(ws.clone())),
        // Who belongs to an organization is for its members to see (its
        // member list is 404 to others), and a workspace's admins need
        // not be: only the organization's own changes (created, renamed,
        // deleted: what any member sees through `expand=organization`) go
        // to its workspaces' endpoints.
        (None, Some(org)) if !event.kind.starts_with("organization.member_") => {
            Some(super::webhooks::Subscribers::Organization(org.clone()))
        }
        (None, Some(_)) => None,
        (None, None) => None,
    };
    tx.execute(
        "INSERT INTO events (id, workspace_id, organization_id, type, actor_type, actor_id,
             target_type, target_id, changes, request_id, created_at)
         VALUES ($1, $2, COALESCE($3, (SELECT organization_id FROM workspaces WHERE id = $2)),
             $4, $5, $6, $7, $8, $9, $10, $11)",
        params![
            &id,
            event.workspace_id.map(String::from),
            event.organization_id.map(String::from),
            event.kind,
            o.actor.kind.as_str(),
            o.actor.id,
            event.target_type,
            event.target_id,
            Value::Object(event.changes.into_map()).to_string(),
            o.request_id,
            now
        ],
    )
    .await?;
    // The webhooks that want it: queued in this transaction.
    if let Some(scope) = scope {
        super::webhooks::enqueue_deliveries(tx, &scope, &id, event.kind, now).await?;
    }
    Ok(())
}

/// One event, read in `tx` (for a delivery's payload).
pub(crate) async fn event_by_id(tx: &mut Tx, id: &str) -> Result<Event, Error> {
    let row = tx
        .fetch_optional(
            &format!("SELECT {COLS} FROM events WHERE id = $1"),
            params![id],
        )
        .await?
        .ok_or(Error::NotFound)?;
    event_from(row)
}

impl Store {
    /// A workspace's events, newest first, optionally of one type.
    pub async fn list_events(
        &self,
        ws: &WorkspaceId,
        kind: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Event>, Error> {
        let (from, params) = match kind {
            None => ("FROM events WHERE workspace_id = $1", params![ws]),
            Some(k) => (
                "FROM events WHERE workspace_id = $1 AND type = $2",
                params![ws, k],
            ),
        };
        let list = NewestFirst {
            cols: COLS,
            from,
            created_at: "created_at",
            id: "id",
            id_prefix: EventId::PREFIX,
        };
        page_newest_first(&self.db, &list, params, page, event_from).await
    }
}
