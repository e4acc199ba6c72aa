//! Codebases of a workspace (SPEC §7): a local path or a GitHub repository.
//! Read: any member; create, edit and delete: member+.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::extract::{Access, AppJson, AppQuery, IfMatch, MemberWrite, PageQuery, ViewerRead};
use super::projects::{created, not_null, parse_sort, present, ListQuery};
use super::response::{ListResponse, Versioned};
use crate::app::AppState;
use crate::domain::project::{self, check_source, Codebase, CodebaseFields, SourceType};
use crate::domain::time;
use crate::domain::validation::Validator;
use crate::domain::{workspace, Error};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_codebases, create_codebase))
        .routes(routes!(get_codebase, update_codebase, delete_codebase))
}

#[derive(Deserialize)]
pub struct CodebasePath {
    id: String,
}

#[derive(Serialize, ToSchema)]
pub struct CodebaseResponse {
    pub id: String,
    pub name: String,
    /// `local` or `github`.
    pub source_type: String,
    /// Absolute path (local codebases).
    pub path: Option<String>,
    /// `owner/name` (GitHub codebases).
    pub repository: Option<String>,
    pub branch: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

impl From<Codebase> for CodebaseResponse {
    fn from(c: Codebase) -> Self {
        CodebaseResponse {
            id: c.id.to_string(),
            name: c.name,
            source_type: c.source_type.as_str().to_owned(),
            path: c.path,
            repository: c.repository,
            branch: c.branch,
            created_at: time::format(c.created_at),
            updated_at: time::format(c.updated_at),
            version: c.version,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCodebaseRequest {
    /// 1-100 characters.
    pub name: String,
    /// `local` or `github`.
    pub source_type: String,
    /// Required for `local`: an absolute path.
    pub path: Option<String>,
    /// Required for `github`: `owner/name`.
    pub repository: Option<String>,
    /// A valid git branch name.
    pub branch: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCodebaseRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// Changing it drops the other type's field unless this request sets it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub source_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub path: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub repository: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub branch: Option<Option<String>>,
}

/// The codebases of the workspace, newest first (any member).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/codebases", tag = "codebases",
    params(("workspace" = String, Path, description = "id or slug"), ListQuery, PageQuery),
    responses((status = 200, body = ListResponse<CodebaseResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn list_codebases(
    State(state): State<AppState>,
    access: Access<ViewerRead>,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<ListResponse<CodebaseResponse>, ApiError> {
    let page = q.page.page()?;
    let sort = parse_sort(q.sort.as_deref())?;
    let result = state
        .store
        .list_codebases(&access.workspace.id, sort, &page)
        .await?;
    Ok(ListResponse::from_page(result, CodebaseResponse::from))
}

/// Adds a codebase (member+): `path` for `local`, `repository` for `github`.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/codebases", tag = "codebases",
    params(("workspace" = String, Path, description = "id or slug")), request_body = CreateCodebaseRequest,
    responses((status = 201, body = CodebaseResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create_codebase(
    State(state): State<AppState>,
    access: Access<MemberWrite>,
    AppJson(req): AppJson<CreateCodebaseRequest>,
) -> Result<Response, ApiError> {
    let mut v = Validator::new();
    let name = v.check(project::name(&req.name));
    let source_type = v.check(project::source_type(&req.source_type));
    let path = v.check_opt(req.path, |s| project::path(&s));
    let repository = v.check_opt(req.repository, |s| project::repository(&s));
    let branch = v.check_opt(req.branch, |s| workspace::branch(&s));
    v.finish()?;
    let fields = CodebaseFields {
        name: name.expect("checked"),
        source_type: source_type.expect("checked"),
        path,
        repository,
        branch,
    };
    let errors = check_source(&fields);
    if !errors.is_empty() {
        return Err(Error::Validation(errors).into());
    }
    let c = state
        .store
        .create_codebase(&access.workspace.id, &fields)
        .await?;
    let location = format!("/v1/workspaces/{}/codebases/{}", access.workspace.id, c.id);
    Ok(created(location, c.version, CodebaseResponse::from(c)))
}

/// One codebase (any member).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/codebases/{id}", tag = "codebases",
    params(("workspace" = String, Path, description = "id or slug"), ("id" = String, Path)),
    responses((status = 200, body = CodebaseResponse), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_codebase(
    State(state): State<AppState>,
    access: Access<ViewerRead>,
    Path(path): Path<CodebasePath>,
) -> Result<Versioned<CodebaseResponse>, ApiError> {
    let c = state.store.codebase(&access.workspace.id, &path.id).await?;
    Ok(Versioned::ok(c.version, c.into()))
}

/// Updates a codebase (member+). The result must fit its source type.
#[utoipa::path(patch, path = "/v1/workspaces/{workspace}/codebases/{id}", tag = "codebases",
    params(("workspace" = String, Path, description = "id or slug"), ("id" = String, Path)),
    request_body = UpdateCodebaseRequest,
    responses((status = 200, body = CodebaseResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem)))]
pub async fn update_codebase(
    State(state): State<AppState>,
    access: Access<MemberWrite>,
    Path(path): Path<CodebasePath>,
    if_match: IfMatch,
    AppJson(req): AppJson<UpdateCodebaseRequest>,
) -> Result<Versioned<CodebaseResponse>, ApiError> {
    let mut v = Validator::new();
    let name = not_null(&mut v, "name", req.name).and_then(|s| v.check(project::name(&s)));
    let source_type = not_null(&mut v, "source_type", req.source_type)
        .and_then(|s| v.check(project::source_type(&s)));
    let mut nullable =
        |value: Option<Option<String>>,
         f: fn(&str) -> Result<String, crate::domain::validation::FieldError>| {
            match value {
                None => None,
                Some(None) => Some(None),
                Some(Some(s)) => v.check(f(&s)).map(Some),
            }
        };
    let new_path = nullable(req.path, project::path);
    let repository = nullable(req.repository, project::repository);
    let branch = nullable(req.branch, workspace::branch);
    v.finish()?;
    let c = state
        .store
        .update_codebase(&access.workspace.id, &path.id, if_match.0, |cur| {
            let mut f = cur.clone();
            if let Some(n) = name {
                f.name = n;
            }
            if let Some(t) = source_type {
                if t != cur.source_type {
                    // Switching type drops the old type's field unless the
                    // request says what it should be.
                    match t {
                        SourceType::Github if new_path.is_none() => f.path = None,
                        SourceType::Local if repository.is_none() => f.repository = None,
                        _ => {}
                    }
                }
                f.source_type = t;
            }
            if let Some(p) = new_path {
                f.path = p;
            }
            if let Some(r) = repository {
                f.repository = r;
            }
            if let Some(b) = branch {
                f.branch = b;
            }
            let errors = check_source(&f);
            if errors.is_empty() {
                Ok(f)
            } else {
                Err(Error::Validation(errors))
            }
        })
        .await?;
    Ok(Versioned::ok(c.version, c.into()))
}

/// Deletes a codebase (member+). Answers 204.
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/codebases/{id}", tag = "codebases",
    params(("workspace" = String, Path, description = "id or slug"), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_codebase(
    State(state): State<AppState>,
    access: Access<MemberWrite>,
    Path(path): Path<CodebasePath>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_codebase(&access.workspace.id, &path.id, if_match.0)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
