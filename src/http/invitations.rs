//! Invitations (SPEC §5): create (one or up to 50 at once), list, revoke,
//! resend; accept and decline with the token; my pending invitations.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::extract::{Access, AdminRead, AdminWrite, AppJson, AppQuery, Caller, PageQuery};
use super::members::{actor, MemberResponse};
use super::response::ListResponse;
use super::workspaces::WorkspaceResponse;
use crate::app::AppState;
use crate::domain::ids::InvitationId;
use crate::domain::invitations::{self, Invitation, Status, MAX_BULK};
use crate::domain::members::parse_role;
use crate::domain::roles::Role;
use crate::domain::time;
use crate::domain::validation::{FieldError, Validator};
use crate::domain::Error;
use crate::store::invitations::{Accepted, MyInvitation};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_invitations, list_invitations))
        .routes(routes!(revoke_invitation))
        .routes(routes!(resend_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(decline_invitation))
        .routes(routes!(my_invitations))
}

/// An invitation. `token` appears only in the answer that created it (or a
/// resend), never again.
#[derive(Serialize, ToSchema)]
pub struct InvitationResponse {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub role: Role,
    /// `pending`, `accepted`, `declined`, `revoked` or `expired`.
    pub status: String,
    pub invited_by: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    pub responded_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// In `GET /v1/me/invitations`: the workspace's name and slug.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<InvitationWorkspace>,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationWorkspace {
    pub id: String,
    pub name: String,
    pub slug: String,
}

impl From<Invitation> for InvitationResponse {
    fn from(i: Invitation) -> Self {
        InvitationResponse {
            id: i.id.to_string(),
            workspace_id: i.workspace_id.to_string(),
            email: i.email,
            role: i.role,
            status: i.status.as_str().to_owned(),
            invited_by: i.invited_by,
            created_at: time::format(i.created_at),
            expires_at: time::format(i.expires_at),
            responded_at: time::format_opt(i.responded_at),
            token: i.token,
            workspace: None,
        }
    }
}

impl From<MyInvitation> for InvitationResponse {
    fn from(m: MyInvitation) -> Self {
        let ws = InvitationWorkspace {
            id: m.invitation.workspace_id.to_string(),
            name: m.workspace_name,
            slug: m.workspace_slug,
        };
        InvitationResponse {
            workspace: Some(ws),
            ..m.invitation.into()
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRow {
    pub email: String,
    /// `owner` (owners only), `admin`, `member` (default) or `viewer`.
    pub role: Option<String>,
    /// 1-30, default 7.
    pub expires_in_days: Option<i64>,
}

/// One invitation (`email`, ...) or up to 50 (`invitations: [...]`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    pub email: Option<String>,
    pub role: Option<String>,
    pub expires_in_days: Option<i64>,
    /// Bulk: one result per row, answered with 207.
    pub invitations: Option<Vec<InvitationRow>>,
}

/// Validates one row; field names are prefixed for bulk rows.
fn parse_row(
    prefix: &str,
    email: &str,
    role: Option<String>,
    days: Option<i64>,
) -> Result<(String, Role, i64), Error> {
    let mut v = Validator::new();
    let email = v.check(
        crate::domain::account::email(email)
            .map_err(|e| FieldError::new(format!("{prefix}email"), &e.code, e.message)),
    );
    let role = v
        .check_opt(role, |r| parse_role(&format!("{prefix}role"), &r))
        .unwrap_or(Role::Member);
    let lifetime = v.check(invitations::lifetime(
        &format!("{prefix}expires_in_days"),
        days,
    ));
    v.finish()?;
    Ok((email.expect("checked"), role, lifetime.expect("checked")))
}

/// Invites by email (admin+). The token is in this answer only. A pending
/// invitation to the same email is replaced.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/invitations", tag = "invitations",
    params(("workspace" = String, Path, description = "id or slug")), request_body = CreateInvitationRequest,
    responses((status = 201, body = InvitationResponse), (status = 207, description = "bulk: one result per row"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "already_member")))]
pub async fn create_invitations(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    AppJson(req): AppJson<CreateInvitationRequest>,
) -> Result<Response, ApiError> {
    let who = actor(&access.caller);
    let ws = &access.workspace.id;
    let Some(rows) = req.invitations else {
        let Some(email) = req.email else {
            return Err(Error::field("email", "required", "is required").into());
        };
        let (email, role, lifetime) = parse_row("", &email, req.role, req.expires_in_days)?;
        let inv = state
            .store
            .create_invitation(ws, &who, &email, role, lifetime)
            .await?;
        return Ok((
            StatusCode::CREATED,
            axum::Json(InvitationResponse::from(inv)),
        )
            .into_response());
    };
    if req.email.is_some() || req.role.is_some() || req.expires_in_days.is_some() {
        return Err(Error::field(
            "invitations",
            "invalid",
            "give invitations alone, or one email",
        )
        .into());
    }
    if rows.is_empty() || rows.len() > MAX_BULK {
        return Err(Error::field("invitations", "invalid", "must hold 1 to 50 rows").into());
    }
    let mut results = Vec::with_capacity(rows.len());
    let mut seen = std::collections::HashSet::new();
    for (i, row) in rows.into_iter().enumerate() {
        let prefix = format!("invitations[{i}].");
        let outcome = match parse_row(&prefix, &row.email, row.role, row.expires_in_days) {
            Err(e) => Err(e),
            // A later row to the same email would kill the earlier token.
            Ok((email, ..)) if !seen.insert(email.to_lowercase()) => Err(Error::Conflict(format!(
                "{email} appears more than once in this request."
            ))),
            Ok((email, role, lifetime)) => {
                state
                    .store
                    .create_invitation(ws, &who, &email, role, lifetime)
                    .await
            }
        };
        results.push(match outcome {
            Ok(inv) => {
                json!({"index": i, "status": 201, "invitation": InvitationResponse::from(inv)})
            }
            Err(e) => {
                let e = ApiError::from(e);
                json!({"index": i, "status": e.code.status().as_u16(), "problem": {
                    "status": e.code.status().as_u16(), "code": e.code.as_str(),
                    "title": e.code.title(), "detail": e.detail, "errors": e.errors}})
            }
        });
    }
    Ok((
        StatusCode::MULTI_STATUS,
        axum::Json(json!({"data": results})),
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListInvitationsQuery {
    /// `pending`, `accepted`, `declined`, `revoked` or `expired`.
    pub status: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

/// Every invitation of the workspace, newest first (admin+).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/invitations", tag = "invitations",
    params(("workspace" = String, Path, description = "id or slug"), ListInvitationsQuery, PageQuery),
    responses((status = 200, body = ListResponse<InvitationResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_invitations(
    State(state): State<AppState>,
    access: Access<AdminRead>,
    AppQuery(q): AppQuery<ListInvitationsQuery>,
) -> Result<ListResponse<InvitationResponse>, ApiError> {
    let page = q.page.page()?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ApiError::param(
                "status",
                "must be pending, accepted, declined, revoked or expired",
            )
        })?),
    };
    let result = state
        .store
        .list_invitations(&access.workspace.id, status, &page)
        .await?;
    Ok(ListResponse::from_page(result, InvitationResponse::from))
}

fn path_invitation(raw: &str) -> Result<InvitationId, ApiError> {
    InvitationId::parse(raw).ok_or_else(|| Error::NotFound.into())
}

/// Revokes a pending invitation (admin+); its token stops working.
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/invitations/{id}", tag = "invitations",
    params(("workspace" = String, Path, description = "id or slug"), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = path_invitation(&path.1)?;
    state
        .store
        .revoke_invitation(&access.workspace.id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// 1-30, default 7.
    pub expires_in_days: Option<i64>,
}

/// Issues a new token and a new expiry (admin+); the old token dies.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/invitations/{id}/resend", tag = "invitations",
    params(("workspace" = String, Path, description = "id or slug"), ("id" = String, Path)),
    request_body = Option<ResendRequest>,
    responses((status = 200, body = InvitationResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn resend_invitation(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    Path(path): Path<(String, String)>,
    super::extract::OptionalJson(req): super::extract::OptionalJson<ResendRequest>,
) -> Result<axum::Json<InvitationResponse>, ApiError> {
    let id = path_invitation(&path.1)?;
    let lifetime = invitations::lifetime("expires_in_days", req.expires_in_days)
        .map_err(|e| Error::Validation(vec![e]))?;
    let inv = state
        .store
        .resend_invitation(&access.workspace.id, &actor(&access.caller), &id, lifetime)
        .await?;
    Ok(axum::Json(inv.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The invitation token.
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct JoinedResponse {
    pub workspace: WorkspaceResponse,
    pub membership: MemberResponse,
}

/// Builds `{workspace, membership}` as the caller now sees them.
pub(crate) async fn joined(
    state: &AppState,
    caller: &Caller,
    ws: &crate::domain::ids::WorkspaceId,
    member: crate::domain::members::Member,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let workspace = state
        .store
        .workspace_for(ws.as_str(), caller.user_id())
        .await?
        .ok_or(Error::NotFound)?;
    Ok((
        status,
        axum::Json(JoinedResponse {
            workspace: WorkspaceResponse::new(workspace, &state.plan_limits),
            membership: member.into(),
        }),
    )
        .into_response())
}

/// Accepts an invitation sent to your email: 201 `{workspace, membership}`
/// (200 if you were already a member). Unknown or revoked tokens 404; used
/// or expired 410; another person's 403.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "invitations", request_body = TokenRequest,
    responses((status = 201, body = JoinedResponse), (status = 200, body = JoinedResponse),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 410, body = Problem)))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(req): AppJson<TokenRequest>,
) -> Result<Response, ApiError> {
    let user = caller.profile(&state).await?;
    match state
        .store
        .accept_invitation(req.token.trim(), &user.id, &user.email)
        .await?
    {
        Accepted::Joined(ws, m) => joined(&state, &caller, &ws, m, StatusCode::CREATED).await,
        Accepted::AlreadyMember(ws, m) => joined(&state, &caller, &ws, m, StatusCode::OK).await,
    }
}

/// Declines an invitation sent to your email.
#[utoipa::path(post, path = "/v1/invitations/decline", tag = "invitations", request_body = TokenRequest,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 410, body = Problem)))]
pub async fn decline_invitation(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(req): AppJson<TokenRequest>,
) -> Result<StatusCode, ApiError> {
    let user = caller.profile(&state).await?;
    state
        .store
        .decline_invitation(req.token.trim(), &user.email)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pending invitations to your email, newest first.
#[utoipa::path(get, path = "/v1/me/invitations", tag = "invitations", params(PageQuery),
    responses((status = 200, body = ListResponse<InvitationResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem)))]
pub async fn my_invitations(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<ListResponse<InvitationResponse>, ApiError> {
    let user = caller.profile(&state).await?;
    let page = q.page()?;
    let result = state.store.my_invitations(&user.email, &page).await?;
    Ok(ListResponse::from_page(result, InvitationResponse::from))
}
