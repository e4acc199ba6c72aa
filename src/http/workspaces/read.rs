//! Listing and reading workspaces.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::*;
use crate::app::AppState;
use crate::domain::roles::Role;
use crate::domain::workspace::Status;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Access, AppQuery, Caller, PageQuery, ViewerReadOrDeletedOwner};
use crate::http::response::{ListResponse, Versioned};
use crate::store::workspaces::ListFilter;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListWorkspacesQuery {
    /// `active`, `archived`, `deleted` (comma-separated); default active and
    /// archived. `deleted` lists those you own that can still be restored.
    pub status: Option<String>,
    pub organization_id: Option<String>,
    /// Only workspaces where your effective role is this one.
    pub role: Option<String>,
    /// Case-insensitive substring of name or slug (in every script: `ünï`
    /// finds "Café Ünïcode"; accents count).
    pub q: Option<String>,
    /// `created_at`, `-created_at` (default), `name`, `-name` (folded case,
    /// then code point order).
    pub sort: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

fn parse_list_filter(q: &ListWorkspacesQuery) -> Result<ListFilter, ApiError> {
    let mut filter = ListFilter::default();
    if let Some(s) = &q.status {
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            filter.statuses.push(
                Status::parse(part).ok_or_else(|| {
                    ApiError::param("status", "must be active, archived or deleted")
                })?,
            );
        }
    }
    if let Some(r) = &q.role {
        filter.role =
            Some(Role::parse(r).ok_or_else(|| {
                ApiError::param("role", "must be owner, admin, member or viewer")
            })?);
    }
    if let Some(o) = &q.organization_id {
        filter.organization_id = Some(o.clone());
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        if text.chars().count() > 100 {
            return Err(ApiError::param("q", "must be at most 100 characters"));
        }
        filter.q = Some(text.to_owned());
    }
    filter.sort = crate::http::projects::parse_sort(q.sort.as_deref())?;
    Ok(filter)
}

/// The workspaces you can access (directly or through an organization).
#[utoipa::path(get, path = "/v1/workspaces", tag = "workspaces", params(ListWorkspacesQuery, PageQuery),
    responses((status = 200, body = ListResponse<WorkspaceResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem)))]
pub async fn list_workspaces(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<ListWorkspacesQuery>,
) -> Result<ListResponse<WorkspaceResponse>, ApiError> {
    let page = q.page.page()?;
    let filter = parse_list_filter(&q)?;
    let Some(user) = caller.user.as_ref() else {
        return Err(ApiError::new(
            crate::http::error::Code::Forbidden,
            "Service tokens have no workspaces of their own; address a workspace by id.",
        ));
    };
    let result = state.store.list_workspaces(user, &filter, &page).await?;
    Ok(ListResponse::from_page(result, |w| {
        WorkspaceResponse::new(w, &state.plan_limits)
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetWorkspaceQuery {
    /// `organization` embeds the organization, `codebases` the newest 100
    /// codebases (comma-separated for both).
    pub expand: Option<String>,
}

/// One workspace, by id or slug. Non-members get 404.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}", tag = "workspaces",
    params(("workspace" = String, Path, description = "id or slug"), GetWorkspaceQuery),
    responses((status = 200, body = WorkspaceResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_workspace(
    State(state): State<AppState>,
    access: Access<ViewerReadOrDeletedOwner>,
    AppQuery(q): AppQuery<GetWorkspaceQuery>,
) -> Result<Versioned<WorkspaceResponse>, ApiError> {
    let (mut expand_org, mut expand_codebases) = (false, false);
    for part in q
        .expand
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match part {
            "organization" => expand_org = true,
            "codebases" => expand_codebases = true,
            _ => {
                return Err(ApiError::param(
                    "expand",
                    "may only name organization and codebases",
                ))
            }
        }
    }
    // The expansions' queries are boxed: rare, and unboxed they would size
    // this handler's future, which axum moves into its box on every request.
    let org = match (&access.workspace.organization_id, expand_org) {
        (Some(id), true) => Some(Box::pin(state.store.organization_summary(id)).await?),
        (None, true) => Some(None),
        _ => None,
    };
    let codebases = if expand_codebases {
        let list = Box::pin(state.store.recent_codebases(&access.workspace.id, 100)).await?;
        Some(list.into_iter().map(Into::into).collect())
    } else {
        None
    };
    let ws = *access.workspace;
    let version = ws.version;
    let mut body = WorkspaceResponse::new(ws, &state.plan_limits);
    body.organization = org;
    body.codebases = codebases;
    Ok(Versioned::ok(version, body))
}
