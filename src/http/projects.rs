//! Projects of a workspace (SPEC §7): `{project}` is the id or the slug.
//! Read: any member; create, edit and delete: member+.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::extract::{Access, AppJson, AppQuery, IfMatch, MemberWrite, PageQuery, ViewerRead};
use super::response::{ListResponse, Versioned};
use crate::app::AppState;
use crate::domain::pagination::Sort;
use crate::domain::project::{self, NewProject, Project, ProjectPatch, ProjectStatus};
use crate::domain::slug::Slug;
use crate::domain::time;
use crate::domain::validation::{FieldError, Validator};
use crate::domain::workspace;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, update_project, delete_project))
}

/// Deserializes a present field (even `null`) as `Some`, so PATCH can tell
/// "absent" from "set to null".
pub(crate) fn present<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `sort` of the lists that take one: `created_at`, `-created_at`
/// (default), `name`, `-name`.
pub(crate) fn parse_sort(raw: Option<&str>) -> Result<Sort, ApiError> {
    Sort::parse(raw)
        .ok_or_else(|| ApiError::param("sort", "must be created_at, -created_at, name or -name"))
}

/// A `201 Created` with `Location` and `ETag`.
pub(crate) fn created<T: Serialize>(location: String, version: i64, body: T) -> Response {
    let mut resp = Versioned::created(version, body).into_response();
    if let Ok(v) = location.parse() {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `created_at`, `-created_at` (default), `name`, `-name`.
    pub sort: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

#[derive(Deserialize)]
pub struct ProjectPath {
    project: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectResponse {
    pub id: String,
    pub name: String,
    /// Unique in the workspace.
    pub slug: String,
    pub description: Option<String>,
    /// `active` or `archived`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

impl From<Project> for ProjectResponse {
    fn from(p: Project) -> Self {
        ProjectResponse {
            id: p.id.to_string(),
            name: p.name,
            slug: p.slug,
            description: p.description,
            status: p.status.as_str().to_owned(),
            created_at: time::format(p.created_at),
            updated_at: time::format(p.updated_at),
            version: p.version,
        }
    }
}

fn versioned(p: Project) -> Versioned<ProjectResponse> {
    Versioned::ok(p.version, p.into())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    /// 1-100 characters.
    pub name: String,
    /// Generated from the name when omitted.
    pub slug: Option<String>,
    /// At most 500 characters.
    pub description: Option<String>,
    /// `active` (default) or `archived`.
    pub status: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
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
    pub status: Option<Option<String>>,
}

/// A required field of a PATCH: absent is fine, `null` is not.
pub(crate) fn not_null(
    v: &mut Validator,
    field: &str,
    value: Option<Option<String>>,
) -> Option<String> {
    match value {
        Some(None) => {
            v.push(FieldError::new(field, "required", "cannot be null"));
            None
        }
        Some(Some(s)) => Some(s),
        None => None,
    }
}

fn slug(s: &str) -> Result<String, FieldError> {
    Slug::parse("slug", s).map(Slug::into_string)
}

/// The workspace's projects, newest first (any member).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/projects", tag = "projects",
    params(("workspace" = String, Path, description = "id or slug"), ListQuery, PageQuery),
    responses((status = 200, body = ListResponse<ProjectResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn list_projects(
    State(state): State<AppState>,
    access: Access<ViewerRead>,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<ListResponse<ProjectResponse>, ApiError> {
    let page = q.page.page()?;
    let sort = parse_sort(q.sort.as_deref())?;
    let result = state
        .store
        .list_projects(&access.workspace.id, sort, &page)
        .await?;
    Ok(ListResponse::from_page(result, ProjectResponse::from))
}

/// Creates a project (member+). The plan's `max_projects` is enforced
/// (403 `plan_limit`); a chosen slug already used in the workspace is 409
/// `slug_taken`.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/projects", tag = "projects",
    params(("workspace" = String, Path, description = "id or slug")), request_body = CreateProjectRequest,
    responses((status = 201, body = ProjectResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create_project(
    State(state): State<AppState>,
    access: Access<MemberWrite>,
    AppJson(req): AppJson<CreateProjectRequest>,
) -> Result<Response, ApiError> {
    let mut v = Validator::new();
    let name = v.check(project::name(&req.name));
    let slug = v.check_opt(req.slug, |s| slug(&s));
    let description = v.check_opt(req.description, |s| workspace::description(&s));
    let status = v
        .check_opt(req.status, |s| project::status(&s))
        .unwrap_or(ProjectStatus::Active);
    v.finish()?;
    let new = NewProject {
        name: name.expect("checked"),
        slug,
        description,
        status,
    };
    let p = state
        .store
        .create_project(&access.workspace.id, &new)
        .await?;
    let location = format!("/v1/workspaces/{}/projects/{}", access.workspace.id, p.id);
    Ok(created(location, p.version, ProjectResponse::from(p)))
}

/// One project, by id or slug (any member).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/projects/{project}", tag = "projects",
    params(("workspace" = String, Path, description = "id or slug"), ("project" = String, Path, description = "id or slug")),
    responses((status = 200, body = ProjectResponse), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_project(
    State(state): State<AppState>,
    access: Access<ViewerRead>,
    Path(path): Path<ProjectPath>,
) -> Result<Versioned<ProjectResponse>, ApiError> {
    let p = state
        .store
        .project(&access.workspace.id, &path.project)
        .await?;
    Ok(versioned(p))
}

/// Updates a project (member+); `If-Match` guards against lost updates.
#[utoipa::path(patch, path = "/v1/workspaces/{workspace}/projects/{project}", tag = "projects",
    params(("workspace" = String, Path, description = "id or slug"), ("project" = String, Path, description = "id or slug")),
    request_body = UpdateProjectRequest,
    responses((status = 200, body = ProjectResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem)))]
pub async fn update_project(
    State(state): State<AppState>,
    access: Access<MemberWrite>,
    Path(path): Path<ProjectPath>,
    if_match: IfMatch,
    AppJson(req): AppJson<UpdateProjectRequest>,
) -> Result<Versioned<ProjectResponse>, ApiError> {
    let mut v = Validator::new();
    let name = not_null(&mut v, "name", req.name).and_then(|s| v.check(project::name(&s)));
    let slug = not_null(&mut v, "slug", req.slug).and_then(|s| v.check(slug(&s)));
    let status = not_null(&mut v, "status", req.status).and_then(|s| v.check(project::status(&s)));
    let description = match req.description {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => v.check(workspace::description(&s)).map(Some),
    };
    v.finish()?;
    let patch = ProjectPatch {
        name,
        slug,
        description,
        status,
    };
    let p = state
        .store
        .update_project(&access.workspace.id, &path.project, &patch, if_match.0)
        .await?;
    Ok(versioned(p))
}

/// Deletes a project (member+). A `default_project_id` setting naming it is
/// cleared. Answers 204.
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/projects/{project}", tag = "projects",
    params(("workspace" = String, Path, description = "id or slug"), ("project" = String, Path, description = "id or slug")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_project(
    State(state): State<AppState>,
    access: Access<MemberWrite>,
    Path(path): Path<ProjectPath>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_project(&access.workspace.id, &path.project, if_match.0)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
