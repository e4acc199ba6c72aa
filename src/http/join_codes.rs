//! Join codes (SPEC §5): one per workspace, managed by admins; anyone with
//! the code joins with `POST /v1/join` (rate-limited per user, counting
//! every attempt).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::extract::{report_rate, Access, AdminRead, AdminWrite, AppJson, Caller};
use super::invitations::{joined, JoinedResponse};
use crate::app::AppState;
use crate::domain::join_code;
use crate::domain::roles::Role;
use crate::domain::time::{self, DAY};
use crate::domain::validation::{FieldError, Validator};
use crate::domain::Error;
use crate::store::join_codes::{JoinCode, JoinOutcome};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_join_code, create_join_code, delete_join_code))
        .routes(routes!(join))
}

#[derive(Serialize, ToSchema)]
pub struct JoinCodeResponse {
    /// 12 characters (no 0/O, 1/I/L); matched case-insensitively, hyphens and spaces ignored.
    pub code: String,
    /// `member` or `viewer`.
    pub role: Role,
    pub expires_at: Option<String>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub created_at: String,
}

impl From<JoinCode> for JoinCodeResponse {
    fn from(c: JoinCode) -> Self {
        JoinCodeResponse {
            code: c.code,
            role: c.role,
            expires_at: time::format_opt(c.expires_at),
            max_uses: c.max_uses,
            uses: c.uses,
            created_at: time::format(c.created_at),
        }
    }
}

/// The workspace's join code (admin+); 404 when none is set.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/join-code", tag = "join codes",
    params(("workspace" = String, Path, description = "id or slug")),
    responses((status = 200, body = JoinCodeResponse), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_join_code(
    State(state): State<AppState>,
    access: Access<AdminRead>,
) -> Result<axum::Json<JoinCodeResponse>, ApiError> {
    let code = state
        .store
        .join_code(&access.workspace.id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(axum::Json(code.into()))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateJoinCodeRequest {
    /// `member` (default) or `viewer`.
    pub role: Option<String>,
    /// 1-365; absent: never expires.
    pub expires_in_days: Option<i64>,
    /// 1-100000; absent: unlimited.
    pub max_uses: Option<i64>,
}

/// Creates or rotates the join code (admin+); the old code stops working.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/join-code", tag = "join codes",
    params(("workspace" = String, Path, description = "id or slug")), request_body = CreateJoinCodeRequest,
    responses((status = 201, body = JoinCodeResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn create_join_code(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    // The body is optional: `{}` and nothing mean the defaults.
    super::extract::OptionalJson(req): super::extract::OptionalJson<CreateJoinCodeRequest>,
) -> Result<(StatusCode, axum::Json<JoinCodeResponse>), ApiError> {
    let mut v = Validator::new();
    let role = match req.role.as_deref() {
        None | Some("member") => Some(Role::Member),
        Some("viewer") => Some(Role::Viewer),
        Some(_) => {
            v.push(FieldError::new(
                "role",
                "invalid",
                "must be member or viewer",
            ));
            None
        }
    };
    let expires_at = match req.expires_in_days {
        None => None,
        Some(d) if (1..=365).contains(&d) => Some(time::now_ms() + d * DAY),
        Some(_) => {
            v.push(FieldError::new(
                "expires_in_days",
                "out_of_range",
                "must be from 1 to 365",
            ));
            None
        }
    };
    if req.max_uses.is_some_and(|n| !(1..=100_000).contains(&n)) {
        v.push(FieldError::new(
            "max_uses",
            "out_of_range",
            "must be from 1 to 100000",
        ));
    }
    v.finish()?;
    let code = state
        .store
        .set_join_code(
            &access.workspace.id,
            access.caller.user_id(),
            role.expect("checked"),
            expires_at,
            req.max_uses,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(code.into())))
}

/// Disables the join code (admin+).
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/join-code", tag = "join codes",
    params(("workspace" = String, Path, description = "id or slug")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn delete_join_code(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_join_code(&access.workspace.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound.into())
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The code, any case, hyphens optional.
    pub code: String,
}

/// Joins a workspace with its code: 201 `{workspace, membership}`; 200 with
/// the existing membership if you already belong. Unknown, rotated or
/// disabled codes 404; expired or used-up 410. Rate limit `join` counts
/// every attempt.
#[utoipa::path(post, path = "/v1/join", tag = "join codes", request_body = JoinRequest,
    responses((status = 201, body = JoinedResponse), (status = 200, body = JoinedResponse),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 410, body = Problem), (status = 429, body = Problem)))]
pub async fn join(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(req): AppJson<JoinRequest>,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let info = state
        .limiter
        .hit(&format!("join:{user}"), state.config.rate_limits.join)
        .await?;
    report_rate(info);
    let code = join_code::normalize(&req.code).ok_or(Error::NotFound)?;
    match state.store.join_with_code(&code, user).await? {
        JoinOutcome::Joined(ws, m) => joined(&state, &caller, &ws, m, StatusCode::CREATED).await,
        JoinOutcome::AlreadyMember(ws, m) => joined(&state, &caller, &ws, m, StatusCode::OK).await,
    }
}
