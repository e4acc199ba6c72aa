//! Workspaces (SPEC §3) and the caller's permissions on them (SPEC §4).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::extract::{
    report_rate, Access, AdminLifecycle, AdminRead, AdminWrite, AppJson, AppQuery, Caller, IfMatch,
    OwnerLifecycle, PageQuery, ViewerRead, ViewerReadOrDeletedOwner,
};
use super::response::{ListResponse, Versioned};
use crate::app::AppState;
use crate::config::Template;
use crate::domain::bridge::NewBridge;
use crate::domain::ids::{BridgeId, OrganizationId, UserId};
use crate::domain::json;
use crate::domain::plans::{Limits, Plans};
use crate::domain::roles::{actions_for, min_role, Role};
use crate::domain::slug::Slug;
use crate::domain::time::{self, DAY};
use crate::domain::validation::{FieldError, Validator};
use crate::domain::workspace::{
    self, NewWorkspace, OptionalFields, OrgChoice, Status, Workspace, WorkspacePatch,
};
use crate::domain::Error;
use crate::limits;
use crate::store::organizations::OrganizationSummary;
use crate::store::ratelimit::window_start;
use crate::store::workspaces::{CountedLimit, ListFilter, Sort};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_workspace, list_workspaces))
        .routes(routes!(get_workspace, update_workspace, delete_workspace))
        .routes(routes!(archive_workspace))
        .routes(routes!(restore_workspace))
        .routes(routes!(get_permissions))
        .routes(routes!(check_permission))
}

/// A workspace as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceResponse {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub icon: Option<String>,
    pub domain: Option<String>,
    pub repo_path: Option<String>,
    pub branch: Option<String>,
    /// `active`, `archived` or `deleted`.
    pub status: String,
    pub organization_id: Option<String>,
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    #[schema(value_type = Object)]
    pub onboarding: Map<String, Value>,
    pub onboarding_completed_at: Option<String>,
    pub logo_url: Option<String>,
    pub plan: String,
    pub limits: Limits,
    pub trial_ends_at: Option<String>,
    pub member_count: i64,
    /// The caller's effective role (direct or inherited from the
    /// organization); null for the platform admin.
    pub role: Option<Role>,
    pub created_at: String,
    pub updated_at: String,
    pub archived_at: Option<String>,
    pub deleted_at: Option<String>,
    pub purge_at: Option<String>,
    pub version: i64,
    /// With `expand=organization`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<Option<OrganizationSummary>>,
    /// With `expand=codebases`: the newest 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codebases: Option<Vec<super::codebases::CodebaseResponse>>,
}

impl WorkspaceResponse {
    /// The response with `limits` from the configured plans.
    /// (There is no `From<Workspace>`: limits must come from the
    /// configured plans, never from the built-in defaults.)
    pub fn new(w: Workspace, plans: &Plans) -> Self {
        WorkspaceResponse {
            logo_url: w.logo_key.as_ref().map(|k| format!("/v1/logos/{k}")),
            limits: plans.limits(&w.plan),
            id: w.id.to_string(),
            slug: w.slug,
            name: w.name,
            description: w.description,
            icon: w.icon,
            domain: w.domain,
            repo_path: w.repo_path,
            branch: w.branch,
            status: w.status.as_str().to_owned(),
            organization_id: w.organization_id.map(|o| o.to_string()),
            settings: w.settings,
            metadata: w.metadata,
            onboarding: w.onboarding,
            onboarding_completed_at: time::format_opt(w.onboarding_completed_at),
            plan: w.plan,
            trial_ends_at: time::format_opt(w.trial_ends_at),
            member_count: w.member_count,
            role: w.role,
            created_at: time::format(w.created_at),
            updated_at: time::format(w.updated_at),
            archived_at: time::format_opt(w.archived_at),
            deleted_at: time::format_opt(w.deleted_at),
            purge_at: time::format_opt(w.purge_at),
            version: w.version,
            organization: None,
            codebases: None,
        }
    }
}

/// A workspace with its ETag; `limits` from the configured plans.
pub fn versioned(
    state: &AppState,
    status: StatusCode,
    ws: Workspace,
) -> Versioned<WorkspaceResponse> {
    Versioned {
        status,
        version: ws.version,
        body: WorkspaceResponse::new(ws, &state.config.plans),
    }
}

/// Deserializes a present field (even `null`) as `Some`, so PATCH can tell
/// "absent" from "set to null".
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganizationInline {
    /// Defaults to the workspace's name.
    pub name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspaceRequest {
    /// 2-50 characters after trimming.
    pub name: String,
    /// Generated from the name when omitted.
    pub slug: Option<String>,
    pub description: Option<String>,
    pub icon: Option<String>,
    pub domain: Option<String>,
    pub repo_path: Option<String>,
    pub branch: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Create it in this organization (the caller must be a member).
    pub organization_id: Option<String>,
    /// Create a new organization with it, in the same transaction.
    pub organization: Option<NewOrganizationInline>,
}

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

fn optional_doc(v: &mut Validator, field: &str, doc: Option<Value>) -> Map<String, Value> {
    match doc {
        None | Some(Value::Null) => Map::new(),
        Some(d) => v.check(json::object(field, d)).unwrap_or_default(),
    }
}

/// Turns a create request into a validated [`NewWorkspace`], starting from
/// the configured template (the client's settings win over its settings).
fn parse_new_workspace(
    req: CreateWorkspaceRequest,
    owner: UserId,
    template: &Template,
) -> Result<NewWorkspace, Error> {
    let mut v = Validator::new();
    let name = v.check(workspace::name(&req.name));
    let slug = v.check_opt(req.slug, |s| Slug::parse("slug", &s).map(Slug::into_string));
    let fields = OptionalFields {
        description: v.check_opt(req.description, |s| workspace::description(&s)),
        icon: v.check_opt(req.icon, |s| workspace::icon(&s)),
        domain: v.check_opt(req.domain, |s| workspace::domain(&s)),
        repo_path: v.check_opt(req.repo_path, |s| workspace::repo_path(&s)),
        branch: v.check_opt(req.branch, |s| workspace::branch(&s)),
    };
    let given = optional_doc(&mut v, "settings", req.settings);
    let mut settings = template.settings.clone();
    settings.extend(given);
    if v.is_ok() {
        if let Err(errors) = crate::domain::settings::validate(&settings) {
            errors.into_iter().for_each(|e| v.push(e));
        }
    }
    let metadata = optional_doc(&mut v, "metadata", req.metadata);
    let organization = match (req.organization_id, req.organization) {
        (Some(_), Some(_)) => {
            v.push(FieldError::new(
                "organization",
                "invalid",
                "give organization_id or organization, not both",
            ));
            None
        }
        (Some(id), None) => match OrganizationId::parse(&id) {
            Some(id) => Some(OrgChoice::Existing(id)),
            // An id that cannot exist is as unknown as one that does not.
            None => return Err(Error::NotFound),
        },
        (None, Some(org)) => {
            let raw = org.name.unwrap_or_else(|| req.name.clone());
            v.check(crate::domain::validation::text(
                "organization.name",
                &raw,
                2,
                80,
            ))
            .map(|name| OrgChoice::New { name })
        }
        (None, None) => None,
    };
    v.finish()?;
    Ok(NewWorkspace {
        name: name.expect("checked"),
        slug,
        fields,
        settings,
        metadata,
        organization,
        owner,
        providers: template.providers.clone(),
        bridges: template
            .bridges
            .iter()
            .map(|b| NewBridge {
                id: BridgeId::new(),
                kind: b.kind.clone(),
                name: b.name.trim().to_owned(),
                config: b.config.clone(),
                enabled: b.enabled,
                credentials: None,
            })
            .collect(),
    })
}

/// Creates a workspace; the caller becomes its owner. Counts against the
/// `workspace_create` rate limit.
#[utoipa::path(post, path = "/v1/workspaces", tag = "workspaces", request_body = CreateWorkspaceRequest,
    responses((status = 201, body = WorkspaceResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "slug_taken"), (status = 429, body = Problem)))]
pub async fn create_workspace(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(req): AppJson<CreateWorkspaceRequest>,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let new = parse_new_workspace(req, user.id.clone(), &state.config.template)?;
    let spec = &state.config.rate_limits.workspace_create;
    let limit = CountedLimit {
        key: format!("workspace_create:{}", user.id),
        spec,
    };
    let ws = state
        .store
        .create_workspace(
            &new,
            Some(limit),
            state.config.policy.max_owned_workspaces_per_user,
        )
        .await?;
    // The count just committed is what the window holds now (read back for
    // the headers; a racing create may have added one more).
    let now = time::now_ms();
    let window = window_start(*spec, now);
    if let Ok(count) = state
        .store
        .read_counter(&format!("workspace_create:{}", user.id), window)
        .await
    {
        report_rate(limits::info(*spec, count, window, now));
    }
    let location = format!("/v1/workspaces/{}", ws.id);
    let mut resp = versioned(&state, StatusCode::CREATED, ws).into_response();
    if let Ok(v) = location.parse() {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListWorkspacesQuery {
    /// `active`, `archived`, `deleted` (comma-separated); default active and
    /// archived. `deleted` lists those you own that can still be restored.
    pub status: Option<String>,
    pub organization_id: Option<String>,
    /// Only workspaces where your effective role is this one.
    pub role: Option<String>,
    /// Case-insensitive substring of name or slug.
    pub q: Option<String>,
    /// `created_at`, `-created_at` (default), `name`, `-name`.
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
    filter.sort = match q.sort.as_deref() {
        None | Some("-created_at") => Sort::CreatedDesc,
        Some("created_at") => Sort::CreatedAsc,
        Some("name") => Sort::NameAsc,
        Some("-name") => Sort::NameDesc,
        Some(_) => {
            return Err(ApiError::param(
                "sort",
                "must be created_at, -created_at, name or -name",
            ))
        }
    };
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
            super::error::Code::Forbidden,
            "Service tokens have no workspaces of their own; address a workspace by id.",
        ));
    };
    let result = state
        .store
        .list_workspaces(&user.id, &filter, &page)
        .await?;
    let plans = &state.config.plans;
    Ok(ListResponse::from_page(result, |w| {
        WorkspaceResponse::new(w, plans)
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
    let org = match (&access.workspace.organization_id, expand_org) {
        (Some(id), true) => Some(state.store.organization_summary(id).await?),
        (None, true) => Some(None),
        _ => None,
    };
    let codebases = if expand_codebases {
        let list = state
            .store
            .recent_codebases(&access.workspace.id, 100)
            .await?;
        Some(list.into_iter().map(Into::into).collect())
    } else {
        None
    };
    let ws = access.workspace;
    let version = ws.version;
    let mut body = WorkspaceResponse::new(ws, &state.config.plans);
    body.organization = org;
    body.codebases = codebases;
    Ok(Versioned::ok(version, body))
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
    if if_match.0.is_some_and(|v| v != ws.version) {
        return Err(Error::VersionMismatch.into());
    }
    if permanent {
        state.store.purge_workspace(&ws.id).await?;
        return Ok(axum::Json(DeleteWorkspaceResponse {
            deleted: true,
            purge_at: None,
        }));
    }
    let keep_last_for = state
        .config
        .policy
        .keep_last_workspace
        .then(|| access.caller.user_id())
        .flatten();
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
