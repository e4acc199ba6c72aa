//! Workspace members (SPEC §4, §5): list, add, change role, remove, leave,
//! transfer ownership; and `DELETE /v1/me`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::extract::{
    Access, AdminWrite, AppJson, AppQuery, Caller, IfMatch, OwnerWrite, PageQuery, ViewerRead,
    ViewerWrite,
};
use super::response::{ListResponse, Versioned};
use super::workspaces::WorkspaceResponse;
use crate::app::AppState;
use crate::domain::ids::UserId;
use crate::domain::members::{parse_role, Actor, Change, Member};
use crate::domain::roles::Role;
use crate::domain::time;
use crate::domain::validation::{FieldError, Validator};
use crate::domain::Error;
use crate::store::members::MemberFilter;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members, add_member))
        .routes(routes!(update_member, remove_member))
        .routes(routes!(leave_workspace))
        .routes(routes!(transfer_workspace))
        .routes(routes!(delete_me))
}

#[derive(Serialize, ToSchema)]
pub struct MemberUser {
    pub id: String,
    pub email: String,
    pub name: String,
}

/// A member of a workspace.
#[derive(Serialize, ToSchema)]
pub struct MemberResponse {
    /// The membership (`mem_`).
    pub id: String,
    pub user: MemberUser,
    pub role: Role,
    pub joined_at: String,
    /// The user who added or invited this member, if any.
    pub invited_by: Option<String>,
    /// +1 on every role change; the `ETag` of `PATCH` and the member's
    /// `If-Match` on `PATCH` and `DELETE`.
    pub version: i64,
}

impl From<Member> for MemberResponse {
    fn from(m: Member) -> Self {
        MemberResponse {
            id: m.id.to_string(),
            user: MemberUser {
                id: m.user_id.to_string(),
                email: m.email,
                name: m.name,
            },
            role: m.role,
            joined_at: time::format(m.joined_at),
            invited_by: m.invited_by,
            version: m.version,
        }
    }
}

/// Who acts: the calling user, or the platform admin.
pub(crate) fn actor(caller: &Caller) -> Actor {
    match caller.user_id() {
        Some(u) => Actor::User(u.clone()),
        None => Actor::PlatformAdmin,
    }
}

/// A `{user_id}` path segment; one that cannot be an id is simply unknown.
pub(crate) fn path_user(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).ok_or_else(|| Error::NotFound.into())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListMembersQuery {
    /// Only members with this role.
    pub role: Option<String>,
    /// Case-insensitive substring of name or email (in every script: `émile`
    /// finds "Émile"; accents count).
    pub q: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

/// Members, newest first (any member may read).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/members", tag = "members",
    params(("workspace" = String, Path, description = "id or slug"), ListMembersQuery, PageQuery),
    responses((status = 200, body = ListResponse<MemberResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn list_members(
    State(state): State<AppState>,
    access: Access<ViewerRead>,
    AppQuery(q): AppQuery<ListMembersQuery>,
) -> Result<ListResponse<MemberResponse>, ApiError> {
    let page = q.page.page()?;
    let mut filter = MemberFilter::default();
    if let Some(r) = &q.role {
        filter.role =
            Some(Role::parse(r).ok_or_else(|| {
                ApiError::param("role", "must be owner, admin, member or viewer")
            })?);
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        if text.chars().count() > 100 {
            return Err(ApiError::param("q", "must be at most 100 characters"));
        }
        filter.q = Some(text.to_owned());
    }
    let result = state
        .store
        .list_members(&access.workspace.id, &filter, &page)
        .await?;
    Ok(ListResponse::from_page(result, MemberResponse::from))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// The user to add (or give `email`).
    pub user_id: Option<String>,
    /// The email of an existing user (or give `user_id`).
    pub email: Option<String>,
    /// `owner`, `admin`, `member` (default) or `viewer`.
    pub role: Option<String>,
}

/// Adds an existing user at once (admin+; granting `owner` needs an owner).
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/members", tag = "members",
    params(("workspace" = String, Path, description = "id or slug")), request_body = AddMemberRequest,
    responses((status = 201, body = MemberResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "not_found or user_not_found"),
        (status = 409, body = Problem, description = "already_member")))]
pub async fn add_member(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    AppJson(req): AppJson<AddMemberRequest>,
) -> Result<Response, ApiError> {
    let mut v = Validator::new();
    let role = v
        .check_opt(req.role, |r| parse_role("role", &r))
        .unwrap_or(Role::Member);
    let email = v.check_opt(req.email, |e| crate::domain::account::email(&e));
    match (&req.user_id, &email) {
        (Some(_), Some(_)) => v.push(FieldError::new(
            "user_id",
            "invalid",
            "give user_id or email, not both",
        )),
        (None, None) if v.is_ok() => v.push(FieldError::new(
            "user_id",
            "required",
            "give user_id or email",
        )),
        _ => {}
    }
    v.finish()?;
    let user = match (req.user_id, email) {
        (Some(id), _) => {
            let id = UserId::parse(&id).ok_or(Error::UserNotFound)?;
            state
                .store
                .user_by_id(&id)
                .await?
                .ok_or(Error::UserNotFound)?
        }
        (None, Some(email)) => {
            state
                .store
                .user_by_email(&email)
                .await?
                .ok_or(Error::UserNotFound)?
                .0
        }
        (None, None) => unreachable!("validated above"),
    };
    let member = state
        .store
        .add_member_as(&access.workspace.id, &actor(&access.caller), &user.id, role)
        .await?;
    Ok(Versioned::created(member.version, MemberResponse::from(member)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    /// `owner`, `admin`, `member` or `viewer`.
    pub role: String,
}

/// Changes a member's role (admin+ for non-owners; owners for `owner`).
/// The last owner cannot be demoted (409 `last_owner`).
#[utoipa::path(patch, path = "/v1/workspaces/{workspace}/members/{user_id}", tag = "members",
    params(("workspace" = String, Path, description = "id or slug"), ("user_id" = String, Path)),
    request_body = UpdateMemberRequest,
    responses((status = 200, body = MemberResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "last_owner"), (status = 412, body = Problem)))]
pub async fn update_member(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    if_match: IfMatch,
    Path(path): Path<(String, String)>,
    AppJson(req): AppJson<UpdateMemberRequest>,
) -> Result<Versioned<MemberResponse>, ApiError> {
    let role = parse_role("role", &req.role).map_err(|e| Error::Validation(vec![e]))?;
    let target = path_user(&path.1)?;
    let member = state
        .store
        .change_member(
            &access.workspace.id,
            &actor(&access.caller),
            &target,
            Change::SetRole(role),
            if_match.0,
        )
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Versioned::ok(member.version, member.into()))
}

/// Removes a member (admin+; removing an owner needs an owner; never the
/// last owner).
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/members/{user_id}", tag = "members",
    params(("workspace" = String, Path, description = "id or slug"), ("user_id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "last_owner"),
        (status = 412, body = Problem)))]
pub async fn remove_member(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    if_match: IfMatch,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let target = path_user(&path.1)?;
    state
        .store
        .change_member(
            &access.workspace.id,
            &actor(&access.caller),
            &target,
            Change::Remove,
            if_match.0,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leaves the workspace (anyone but the last owner; not while archived).
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/leave", tag = "members",
    params(("workspace" = String, Path, description = "id or slug")),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "last_owner, workspace_archived")))]
pub async fn leave_workspace(
    State(state): State<AppState>,
    access: Access<ViewerWrite>,
) -> Result<StatusCode, ApiError> {
    // The platform admin and inherited-only members have no membership.
    let user = access.caller.user_id().ok_or(Error::NotFound)?;
    state.store.leave(&access.workspace.id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// A member of the workspace; becomes owner, you become admin.
    pub user_id: String,
}

/// Transfers ownership (owner only). Answers the workspace.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/transfer", tag = "members",
    params(("workspace" = String, Path, description = "id or slug")), request_body = TransferRequest,
    responses((status = 200, body = WorkspaceResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn transfer_workspace(
    State(state): State<AppState>,
    access: Access<OwnerWrite>,
    if_match: IfMatch,
    AppJson(req): AppJson<TransferRequest>,
) -> Result<Versioned<WorkspaceResponse>, ApiError> {
    let target = UserId::parse(&req.user_id).ok_or_else(|| {
        Error::field("user_id", "not_member", "must be a member of the workspace")
    })?;
    let ws_id = access.workspace.id.clone();
    state
        .store
        .transfer(&ws_id, &actor(&access.caller), &target, if_match.0)
        .await?;
    let ws = state
        .store
        .workspace_for(ws_id.as_str(), access.caller.user_id())
        .await?
        .ok_or(Error::NotFound)?;
    Ok(super::workspaces::versioned(&state, StatusCode::OK, ws))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMeRequest {
    /// Your own email, to confirm.
    pub confirm: String,
}

/// Deletes your account, tokens, memberships and the pending invitations you
/// sent, and purges the workspaces where you were the only member. As the
/// last owner of a workspace with other members: 409 `last_owner` listing
/// them, and nothing is deleted.
#[utoipa::path(delete, path = "/v1/me", tag = "accounts", request_body = DeleteMeRequest,
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 409, body = Problem, description = "last_owner, with `workspaces`")))]
pub async fn delete_me(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(req): AppJson<DeleteMeRequest>,
) -> Result<StatusCode, ApiError> {
    let user = caller.profile(&state).await?;
    if !req.confirm.trim().eq_ignore_ascii_case(&user.email) {
        return Err(Error::field("confirm", "mismatch", "must be your own email").into());
    }
    state.store.delete_account(&user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
