//! The audit log (SPEC §9): a workspace's events, newest first (admin+).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::extract::{Access, AdminRead, AppQuery, PageQuery};
use super::response::ListResponse;
use crate::app::AppState;
use crate::domain::event::TYPES;
use crate::domain::time;
use crate::store::events::Event;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

#[derive(Serialize, ToSchema)]
pub struct EventActor {
    /// `user`, `service` or `system`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `usr_…` for a user, `tok_…` for a service token or the platform
    /// admin; null for the system.
    pub id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EventTarget {
    /// What changed: `workspace`, `member`, `project`, `run`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Serialize, ToSchema)]
pub struct EventResponse {
    pub id: String,
    /// `<resource>.<verb>`, e.g. `workspace.created`, `member.role_changed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub workspace_id: Option<String>,
    pub organization_id: Option<String>,
    pub actor: EventActor,
    pub target: EventTarget,
    /// `{field: [before, after]}` for the fields that changed.
    #[schema(value_type = Object)]
    pub changes: Box<RawValue>,
    /// The request that made the change; null for the system's.
    pub request_id: Option<String>,
    pub created_at: String,
}

impl From<Event> for EventResponse {
    fn from(e: Event) -> Self {
        EventResponse {
            id: e.id.to_string(),
            kind: e.kind,
            workspace_id: e.workspace_id.map(String::from),
            organization_id: e.organization_id.map(String::from),
            actor: EventActor {
                kind: e.actor.kind.as_str(),
                id: e.actor.id,
            },
            target: EventTarget {
                kind: e.target_type,
                id: e.target_id,
            },
            changes: RawValue::from_string(e.changes)
                .unwrap_or_else(|_| RawValue::from_string("{}".into()).expect("valid JSON")),
            request_id: e.request_id,
            created_at: time::format(e.created_at),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events of this type (`member.added`, …).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

/// The workspace's audit log, newest first (admin+).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/events", tag = "events",
    params(("workspace" = String, Path, description = "id or slug"), EventsQuery, PageQuery),
    responses((status = 200, body = ListResponse<EventResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_events(
    State(state): State<AppState>,
    access: Access<AdminRead>,
    AppQuery(q): AppQuery<EventsQuery>,
) -> Result<ListResponse<EventResponse>, ApiError> {
    let page = q.page.page()?;
    if let Some(k) = q.kind.as_deref() {
        if !TYPES.contains(&k) {
            return Err(ApiError::param(
                "type",
                "must be an event type such as workspace.updated",
            ));
        }
    }
    let result = state
        .store
        .list_events(&access.workspace.id, q.kind.as_deref(), &page)
        .await?;
    Ok(ListResponse::from_page(result, EventResponse::from))
}
