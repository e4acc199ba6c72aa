//! Archive, delete, restore.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::*;
use crate::app::AppState;
use crate::domain::time::{self, DAY};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Access, AdminLifecycle, AppJson, AppQuery, IfMatch, OwnerLifecycle};
use crate::http::response::Versioned;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRequest {
    /// `true` archives (read-only), `false` unarchives.
    pub archive: bool,
}

/// Archives or unarchives (admin+). Archived workspaces are read-only.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/archive", tag = "workspaces",
    params(("workspace" = String, Path, description = "id or slug")), request_body = ArchiveRequest,
    responses((status = 200, body = WorkspaceResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn archive_workspace(
    State(state): State<AppState>,
    access: Access<AdminLifecycle>,
    if_match: IfMatch,
    AppJson(req): AppJson<ArchiveRequest>,
) -> Result<Versioned<WorkspaceResponse>, ApiError> {
    let mut ws = state
        .store
        .set_archived(&access.workspace.id, req.archive, if_match.0)
        .await?;
    ws.role = access.workspace.role;
    Ok(versioned(&state, StatusCode::OK, ws))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteWorkspaceQuery {
    /// `true` purges at once instead of soft-deleting.
    pub permanent: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeleteWorkspaceResponse {
    pub deleted: bool,
    /// When the workspace will be purged; null once purged.
    pub purge_at: Option<String>,
}

/// Deletes (owner only): soft delete with `purge_at`, restorable until then;
/// `?permanent=true` purges at once.
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}", tag = "workspaces",
    params(("workspace" = String, Path, description = "id or slug"), DeleteWorkspaceQuery),
    responses((status = 200, body = DeleteWorkspaceResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_workspace(
    State(state): State<AppState>,
    access: Access<OwnerLifecycle>,
    if_match: IfMatch,
    AppQuery(q): AppQuery<DeleteWorkspaceQuery>,
) -> Result<axum::Json<DeleteWorkspaceResponse>, ApiError> {
    let permanent = match q.permanent.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::param("permanent", "must be true or false")),
    };
    let ws = &access.workspace;
    let keep_last_for = state
        .config
        .policy
        .keep_last_workspace
        .then(|| access.caller.user_id())
        .flatten();
    if permanent {
        state
            .store
            .purge_workspace(&ws.id, keep_last_for, if_match.0)
            .await?;
        return Ok(axum::Json(DeleteWorkspaceResponse {
            deleted: true,
            purge_at: None,
        }));
    }
    let retention = state.config.retention_days * DAY;
    let ws = state
        .store
        .soft_delete_workspace(&ws.id, retention, keep_last_for, if_match.0)
        .await?;
    Ok(axum::Json(DeleteWorkspaceResponse {
        deleted: true,
        purge_at: time::format_opt(ws.purge_at),
    }))
}

/// Restores a soft-deleted workspace before its `purge_at` (owner only).
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/restore", tag = "workspaces",
    params(("workspace" = String, Path, description = "id or slug")),
    responses((status = 200, body = WorkspaceResponse), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn restore_workspace(
    State(state): State<AppState>,
    access: Access<OwnerLifecycle>,
    if_match: IfMatch,
) -> Result<Versioned<WorkspaceResponse>, ApiError> {
    let mut ws = state
        .store
        .restore_workspace(&access.workspace.id, if_match.0)
        .await?;
    ws.role = access.workspace.role;
    Ok(versioned(&state, StatusCode::OK, ws))
}
