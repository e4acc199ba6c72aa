//! Organizations (SPEC §6): create, list mine, get, rename, delete when
//! empty, list their workspaces; members in `org_members.rs`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Code, Problem};
use super::extract::{report_rate, AppJson, AppQuery, Caller, IfMatch, PageQuery};
use super::response::{ListResponse, Versioned};
use super::workspaces::WorkspaceResponse;
use crate::app::AppState;
use crate::domain::roles::OrgRole;
use crate::domain::slug::Slug;
use crate::domain::time;
use crate::domain::validation::{text, Validator};
use crate::domain::Error;
use crate::store::organizations::{OrgPatch, Organization};
use crate::store::ratelimit::window_start;
use crate::store::workspaces::{CountedLimit, ListFilter};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_organization, list_organizations))
        .routes(routes!(
            get_organization,
            update_organization,
            delete_organization
        ))
        .routes(routes!(list_organization_workspaces))
        .merge(super::org_members::routes())
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationResponse {
    pub id: String,
    pub name: String,
    pub slug: String,
    /// Your role: `owner`, `admin` or `member`; null for the platform admin.
    pub role: Option<OrgRole>,
    /// Workspaces in it (not counting deleted ones).
    pub workspace_count: i64,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

impl From<Organization> for OrganizationResponse {
    fn from(o: Organization) -> Self {
        OrganizationResponse {
            id: o.id.to_string(),
            name: o.name,
            slug: o.slug,
            role: o.role,
            workspace_count: o.workspace_count,
            created_at: time::format(o.created_at),
            updated_at: time::format(o.updated_at),
            version: o.version,
        }
    }
}

fn versioned(status: StatusCode, o: Organization) -> Versioned<OrganizationResponse> {
    Versioned {
        status,
        version: o.version,
        body: o.into(),
    }
}

/// Resolves `{org}` for the caller: non-members get 404; the platform admin
/// acts as owner.
pub(crate) async fn resolve(
    state: &AppState,
    caller: &Caller,
    key: &str,
) -> Result<(Organization, OrgRole), ApiError> {
    if caller.user.is_none() && !caller.is_platform_admin() {
        return Err(Error::NotFound.into());
    }
    let org = state
        .store
        .organization_for(key, caller.user_id())
        .await?
        .ok_or(Error::NotFound)?;
    let role = if caller.is_platform_admin() {
        OrgRole::Owner
    } else {
        org.role.ok_or(Error::NotFound)?
    };
    Ok((org, role))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganizationRequest {
    /// 2-80 characters.
    pub name: String,
    /// Generated from the name when omitted.
    pub slug: Option<String>,
}

/// Creates an organization; you become its owner. Rate limit
/// `organization_create`.
#[utoipa::path(post, path = "/v1/organizations", tag = "organizations",
    request_body = CreateOrganizationRequest,
    responses((status = 201, body = OrganizationResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn create_organization(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(req): AppJson<CreateOrganizationRequest>,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let mut v = Validator::new();
    let name = v.check(text("name", &req.name, 2, 80));
    let slug = v.check_opt(req.slug, |s| Slug::parse("slug", &s).map(Slug::into_string));
    v.finish()?;
    let spec = &state.config.rate_limits.organization_create;
    let key = format!("organization_create:{user}");
    let org = state
        .store
        .create_organization(
            &name.expect("checked"),
            slug.as_deref(),
            user,
            Some(CountedLimit {
                key: key.clone(),
                spec,
            }),
        )
        .await?;
    let now = time::now_ms();
    let window = window_start(*spec, now);
    if let Ok(count) = state.store.read_counter(&key, window).await {
        report_rate(crate::limits::info(*spec, count, window, now));
    }
    let location = format!("/v1/organizations/{}", org.id);
    let mut resp = versioned(StatusCode::CREATED, org).into_response();
    if let Ok(v) = location.parse() {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// The organizations you belong to, newest first.
#[utoipa::path(get, path = "/v1/organizations", tag = "organizations", params(PageQuery),
    responses((status = 200, body = ListResponse<OrganizationResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem)))]
pub async fn list_organizations(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<ListResponse<OrganizationResponse>, ApiError> {
    let user = caller.user()?;
    let page = q.page()?;
    let result = state.store.list_organizations(user, &page).await?;
    Ok(ListResponse::from_page(result, OrganizationResponse::from))
}

/// One organization, by id or slug (members only; others get 404).
#[utoipa::path(get, path = "/v1/organizations/{org}", tag = "organizations",
    params(("org" = String, Path, description = "id or slug")),
    responses((status = 200, body = OrganizationResponse), (status = 401, body = Problem),
        (status = 404, body = Problem)))]
pub async fn get_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Versioned<OrganizationResponse>, ApiError> {
    let (org, _) = resolve(&state, &caller, &key).await?;
    Ok(versioned(StatusCode::OK, org))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganizationRequest {
    pub name: Option<String>,
    pub slug: Option<String>,
}

/// Renames the organization (org owners only).
#[utoipa::path(patch, path = "/v1/organizations/{org}", tag = "organizations",
    params(("org" = String, Path, description = "id or slug")), request_body = UpdateOrganizationRequest,
    responses((status = 200, body = OrganizationResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn update_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    if_match: IfMatch,
    AppJson(req): AppJson<UpdateOrganizationRequest>,
) -> Result<Versioned<OrganizationResponse>, ApiError> {
    let (org, role) = resolve(&state, &caller, &key).await?;
    if role < OrgRole::Owner {
        return Err(owner_only());
    }
    let mut v = Validator::new();
    let patch = OrgPatch {
        name: v.check_opt(req.name, |n| text("name", &n, 2, 80)),
        slug: v.check_opt(req.slug, |s| Slug::parse("slug", &s).map(Slug::into_string)),
    };
    v.finish()?;
    state
        .store
        .update_organization(&org.id, &patch, if_match.0)
        .await?;
    let (org, _) = resolve(&state, &caller, org.id.as_str()).await?;
    Ok(versioned(StatusCode::OK, org))
}

pub(crate) fn owner_only() -> ApiError {
    ApiError::new(
        Code::NeedsOwner,
        "Only an owner of the organization may do this.",
    )
}

/// Deletes the organization (org owners only) when it holds no workspaces,
/// counting deleted ones not yet purged; else 409 `organization_not_empty`.
#[utoipa::path(delete, path = "/v1/organizations/{org}", tag = "organizations",
    params(("org" = String, Path, description = "id or slug")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    let (org, role) = resolve(&state, &caller, &key).await?;
    if role < OrgRole::Owner {
        return Err(owner_only());
    }
    state.store.delete_organization(&org.id, if_match.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organization's workspaces you can access (org members: all of them).
#[utoipa::path(get, path = "/v1/organizations/{org}/workspaces", tag = "organizations",
    params(("org" = String, Path, description = "id or slug"), PageQuery),
    responses((status = 200, body = ListResponse<WorkspaceResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_organization_workspaces(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<ListResponse<WorkspaceResponse>, ApiError> {
    let page = q.page()?;
    let (org, _) = resolve(&state, &caller, &key).await?;
    let user = caller.user()?;
    let filter = ListFilter {
        organization_id: Some(org.id.to_string()),
        ..ListFilter::default()
    };
    let result = state.store.list_workspaces(user, &filter, &page).await?;
    Ok(ListResponse::from_page(result, |w| {
        WorkspaceResponse::new(w, &state.plan_limits)
    }))
}
