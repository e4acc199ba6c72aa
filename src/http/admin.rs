//! Platform administration over HTTP: setting a workspace's plan.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Code, Problem};
use super::extract::{AppJson, Caller, IfMatch};
use super::response::Versioned;
use super::workspaces::{versioned, WorkspaceResponse};
use crate::app::AppState;
use crate::domain::workspace::Status;
use crate::domain::Error;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(set_plan))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPlanRequest {
    /// A configured plan (`free`, `pro`, or one from `[plans.<name>]`).
    pub plan: String,
}

#[derive(Deserialize)]
pub struct AdminWorkspacePath {
    workspace: String,
}

/// Puts a workspace on a plan (platform admin only). A plan with
/// `trial_days` sets `trial_ends_at`; answers the workspace.
#[utoipa::path(put, path = "/v1/admin/workspaces/{workspace}/plan", tag = "admin",
    params(("workspace" = String, Path, description = "id or slug")), request_body = SetPlanRequest,
    responses((status = 200, body = WorkspaceResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn set_plan(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path(path): Path<AdminWorkspacePath>,
    AppJson(req): AppJson<SetPlanRequest>,
) -> Result<Versioned<WorkspaceResponse>, ApiError> {
    if !caller.is_platform_admin() {
        return Err(ApiError::new(
            Code::Forbidden,
            "Only the platform admin may set plans.",
        ));
    }
    let ws = state
        .store
        .workspace_for(&path.workspace, None)
        .await?
        .filter(|w| w.status != Status::Deleted)
        .ok_or(Error::NotFound)?;
    let ws = state
        .store
        .set_plan(&ws.id, req.plan.trim(), if_match.0)
        .await?;
    Ok(versioned(&state, StatusCode::OK, ws))
}
