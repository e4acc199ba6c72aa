//! Organization members (SPEC §6): org admins manage non-owner members, org
//! owners manage owners; the last owner stays (decided under a lock).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::extract::{AppJson, AppQuery, Caller, PageQuery};
use super::members::{actor, path_user, MemberUser};
use super::organizations::resolve;
use super::response::ListResponse;
use crate::app::AppState;
use crate::domain::ids::UserId;
use crate::domain::roles::OrgRole;
use crate::domain::time;
use crate::domain::validation::{FieldError, Validator};
use crate::domain::Error;
use crate::store::org_members::{OrgChange, OrgMember};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_org_members, add_org_member))
        .routes(routes!(update_org_member, remove_org_member))
}

#[derive(Serialize, ToSchema)]
pub struct OrgMemberResponse {
    pub user: MemberUser,
    pub role: OrgRole,
    pub joined_at: String,
}

impl From<OrgMember> for OrgMemberResponse {
    fn from(m: OrgMember) -> Self {
        OrgMemberResponse {
            user: MemberUser {
                id: m.user_id.to_string(),
                email: m.email,
                name: m.name,
            },
            role: m.role,
            joined_at: time::format(m.joined_at),
        }
    }
}

/// Store errors in organization words (the shared mapping speaks of
/// workspaces).
fn org_error(e: Error) -> ApiError {
    match e {
        Error::NeedsOwner => super::organizations::owner_only(),
        Error::LastOwner(_) => ApiError::new(
            super::error::Code::LastOwner,
            "An organization must keep at least one owner.",
        ),
        other => other.into(),
    }
}

fn parse_org_role(raw: &str) -> Result<OrgRole, FieldError> {
    OrgRole::parse(raw)
        .ok_or_else(|| FieldError::new("role", "invalid", "must be owner, admin or member"))
}

/// Members of the organization, newest first (any org member).
#[utoipa::path(get, path = "/v1/organizations/{org}/members", tag = "organizations",
    params(("org" = String, Path, description = "id or slug"), PageQuery),
    responses((status = 200, body = ListResponse<OrgMemberResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn list_org_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<ListResponse<OrgMemberResponse>, ApiError> {
    let page = q.page()?;
    let (org, _) = resolve(&state, &caller, &key).await?;
    let result = state.store.list_org_members(&org.id, &page).await?;
    Ok(ListResponse::from_page(result, OrgMemberResponse::from))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddOrgMemberRequest {
    pub user_id: Option<String>,
    pub email: Option<String>,
    /// `owner` (owners only), `admin` or `member` (default).
    pub role: Option<String>,
}

/// Adds an existing user (org admin+; adding an owner needs an org owner).
#[utoipa::path(post, path = "/v1/organizations/{org}/members", tag = "organizations",
    params(("org" = String, Path, description = "id or slug")), request_body = AddOrgMemberRequest,
    responses((status = 201, body = OrgMemberResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn add_org_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    AppJson(req): AppJson<AddOrgMemberRequest>,
) -> Result<(StatusCode, axum::Json<OrgMemberResponse>), ApiError> {
    let (org, role) = resolve(&state, &caller, &key).await?;
    if role < OrgRole::Admin {
        return Err(
            Error::Forbidden("This needs the organization admin role or higher.".into()).into(),
        );
    }
    let mut v = Validator::new();
    let new_role = v
        .check_opt(req.role, |r| parse_org_role(&r))
        .unwrap_or(OrgRole::Member);
    let email = v.check_opt(req.email, |e| crate::domain::account::email(&e));
    if req.user_id.is_some() == email.is_some() && v.is_ok() {
        v.push(FieldError::new(
            "user_id",
            "invalid",
            "give user_id or email",
        ));
    }
    v.finish()?;
    let user_id: UserId = match (req.user_id, email) {
        (Some(id), _) => {
            let id = UserId::parse(&id).ok_or(Error::UserNotFound)?;
            state
                .store
                .user_by_id(&id)
                .await?
                .ok_or(Error::UserNotFound)?
                .id
        }
        (None, Some(e)) => {
            state
                .store
                .user_by_email(&e)
                .await?
                .ok_or(Error::UserNotFound)?
                .0
                .id
        }
        (None, None) => unreachable!("validated above"),
    };
    let m = state
        .store
        .add_org_member(&org.id, &actor(&caller), &user_id, new_role)
        .await
        .map_err(org_error)?;
    Ok((StatusCode::CREATED, axum::Json(m.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgMemberRequest {
    /// `owner`, `admin` or `member`.
    pub role: String,
}

/// Changes an org member's role; the last owner cannot be demoted.
#[utoipa::path(patch, path = "/v1/organizations/{org}/members/{user_id}", tag = "organizations",
    params(("org" = String, Path, description = "id or slug"), ("user_id" = String, Path)),
    request_body = UpdateOrgMemberRequest,
    responses((status = 200, body = OrgMemberResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn update_org_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<(String, String)>,
    AppJson(req): AppJson<UpdateOrgMemberRequest>,
) -> Result<axum::Json<OrgMemberResponse>, ApiError> {
    let (org, _) = resolve(&state, &caller, &path.0).await?;
    let role = parse_org_role(&req.role).map_err(|e| Error::Validation(vec![e]))?;
    let target = path_user(&path.1)?;
    let m = state
        .store
        .change_org_member(&org.id, &actor(&caller), &target, OrgChange::SetRole(role))
        .await
        .map_err(org_error)?
        .ok_or(Error::NotFound)?;
    Ok(axum::Json(m.into()))
}

/// Removes an org member (or yourself: leave); never the last owner.
#[utoipa::path(delete, path = "/v1/organizations/{org}/members/{user_id}", tag = "organizations",
    params(("org" = String, Path, description = "id or slug"), ("user_id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove_org_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (org, _) = resolve(&state, &caller, &path.0).await?;
    let target = path_user(&path.1)?;
    state
        .store
        .change_org_member(&org.id, &actor(&caller), &target, OrgChange::Remove)
        .await
        .map_err(org_error)?;
    Ok(StatusCode::NO_CONTENT)
}
