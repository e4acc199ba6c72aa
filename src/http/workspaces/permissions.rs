//! The caller's permissions, and checks for other users (SPEC §4).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::domain::ids::UserId;
use crate::domain::roles::{actions_for, min_role, Role};
use crate::domain::workspace::Status;
use crate::domain::Error;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Access, AdminRead, AppJson, ViewerRead};

#[derive(Serialize, ToSchema)]
pub struct PermissionsResponse {
    pub role: Option<Role>,
    /// Actions of the permission table this role may take.
    pub actions: Vec<&'static str>,
}

/// Your effective role and the actions it allows.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/permissions", tag = "permissions",
    params(("workspace" = String, Path, description = "id or slug")),
    responses((status = 200, body = PermissionsResponse), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_permissions(access: Access<ViewerRead>) -> axum::Json<PermissionsResponse> {
    axum::Json(PermissionsResponse {
        role: access.workspace.role,
        actions: actions_for(access.role),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckPermissionRequest {
    pub user_id: String,
    /// An action name, e.g. `workspace.update`.
    pub action: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckPermissionResponse {
    pub allowed: bool,
    /// The user's effective role; null when not a member.
    pub role: Option<Role>,
}

/// Whether another user may take an action here (admin+).
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/permissions/check", tag = "permissions",
    params(("workspace" = String, Path, description = "id or slug")), request_body = CheckPermissionRequest,
    responses((status = 200, body = CheckPermissionResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn check_permission(
    State(state): State<AppState>,
    access: Access<AdminRead>,
    AppJson(req): AppJson<CheckPermissionRequest>,
) -> Result<axum::Json<CheckPermissionResponse>, ApiError> {
    let Some(min) = min_role(&req.action) else {
        return Err(Error::field(
            "action",
            "invalid",
            "is not an action of the permission table",
        )
        .into());
    };
    let role = match UserId::parse(&req.user_id) {
        Some(uid) => state
            .store
            .workspace_for(access.workspace.id.as_str(), Some(&uid))
            .await?
            .and_then(|w| w.role),
        None => None,
    };
    let allowed = role.is_some_and(|r| r >= min) && access.workspace.status != Status::Deleted;
    Ok(axum::Json(CheckPermissionResponse { allowed, role }))
}
