//! Updating workspace fields.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::*;
use crate::app::AppState;
use crate::domain::json;
use crate::domain::slug::Slug;
use crate::domain::time;
use crate::domain::validation::{FieldError, Validator};
use crate::domain::workspace::{self, WorkspacePatch};
use crate::domain::Error;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Access, AdminWrite, AppJson, IfMatch};
use crate::http::response::Versioned;

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspaceRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub slug: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub icon: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub domain: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub repo_path: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub branch: Option<Option<String>>,
    /// JSON Merge Patch (RFC 7396) applied to the stored settings.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    /// JSON Merge Patch (RFC 7396) applied to the stored metadata.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Replaces the onboarding document.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub onboarding: Option<Value>,
    /// RFC 3339 time, or null.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub onboarding_completed_at: Option<Option<String>>,
}

fn parse_patch(req: UpdateWorkspaceRequest) -> Result<WorkspacePatch, Error> {
    let mut v = Validator::new();
    let required = |v: &mut Validator, field: &str, value: Option<Option<String>>| match value {
        Some(None) => {
            v.push(FieldError::new(field, "required", "cannot be null"));
            None
        }
        Some(Some(s)) => Some(s),
        None => None,
    };
    let name = required(&mut v, "name", req.name).and_then(|s| v.check(workspace::name(&s)));
    let slug = required(&mut v, "slug", req.slug)
        .and_then(|s| v.check(Slug::parse("slug", &s).map(Slug::into_string)));
    let nullable = |v: &mut Validator,
                    value: Option<Option<String>>,
                    f: fn(&str) -> Result<String, FieldError>| match value {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => v.check(f(&s)).map(Some),
    };
    let description = nullable(&mut v, req.description, workspace::description);
    let icon = nullable(&mut v, req.icon, workspace::icon);
    let domain = nullable(&mut v, req.domain, workspace::domain);
    let repo_path = nullable(&mut v, req.repo_path, workspace::repo_path);
    let branch = nullable(&mut v, req.branch, workspace::branch);
    for (field, doc) in [("settings", &req.settings), ("metadata", &req.metadata)] {
        if let Some(d) = doc {
            if !(d.is_object() || d.is_null()) {
                v.push(FieldError::new(
                    field,
                    "invalid_type",
                    "must be an object (a JSON Merge Patch)",
                ));
            }
        }
    }
    let onboarding = match req.onboarding {
        None => None,
        Some(Value::Null) => Some(Map::new()),
        Some(d) => v.check(json::object("onboarding", d)),
    };
    let onboarding_completed_at = match req.onboarding_completed_at {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => v
            .check(time::parse(&s).ok_or_else(|| {
                FieldError::new(
                    "onboarding_completed_at",
                    "invalid",
                    "must be an RFC 3339 time",
                )
            }))
            .map(Some),
    };
    v.finish()?;
    Ok(WorkspacePatch {
        name,
        slug,
        description,
        icon,
        domain,
        repo_path,
        branch,
        settings: req.settings,
        metadata: req.metadata,
        onboarding,
        onboarding_completed_at,
    })
}

/// Updates fields (admin+). `settings` and `metadata` merge as JSON Merge
/// Patch; `If-Match` guards against lost updates.
#[utoipa::path(patch, path = "/v1/workspaces/{workspace}", tag = "workspaces",
    params(("workspace" = String, Path, description = "id or slug")), request_body = UpdateWorkspaceRequest,
    responses((status = 200, body = WorkspaceResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem)))]
pub async fn update_workspace(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    if_match: IfMatch,
    AppJson(req): AppJson<UpdateWorkspaceRequest>,
) -> Result<Versioned<WorkspaceResponse>, ApiError> {
    let patch = parse_patch(req)?;
    let mut ws = state
        .store
        .update_workspace(&access.workspace.id, &patch, if_match.0)
        .await?;
    ws.role = access.workspace.role;
    Ok(versioned(&state, StatusCode::OK, ws))
}
