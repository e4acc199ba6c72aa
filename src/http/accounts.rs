//! Accounts (SPEC §2): signup, login, logout, `/v1/me`, personal access
//! tokens, and platform-admin service tokens.

use std::net::SocketAddr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Code, Problem};
use super::extract::{report_rate, AppJson, AppQuery, Caller, ClientAddr, IfMatch, PageQuery};
use super::response::{ListResponse, Versioned};
use crate::app::AppState;
use crate::auth;
use crate::domain::account::{self, TokenKind, User, SERVICE_SCOPES};
use crate::domain::error::check_version;
use crate::domain::error::RateInfo;
use crate::domain::time::{self, now_ms, DAY};
use crate::domain::validation::{FieldError, Validator};
use crate::domain::Error;
use crate::store::accounts::{NewToken, TokenRecord};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(get_me, update_me))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(create_service_token))
}

#[derive(Serialize, ToSchema)]
pub struct UserResponse {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> Self {
        UserResponse {
            id: u.id.to_string(),
            email: u.email.clone(),
            name: u.name.clone(),
            created_at: time::format(u.created_at),
            updated_at: time::format(u.updated_at),
            version: u.version,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    pub user: UserResponse,
    /// The session token, shown this once.
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    // Optional to serde, required by the validator: a missing field is
    // listed with every other invalid one (SPEC §1).
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(required = true)]
    pub password: Option<String>,
    #[schema(required = true)]
    pub name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    pub name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub name: String,
    /// 1-3650; omitted, the token does not expire.
    pub expires_in_days: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceTokenRequest {
    pub name: String,
    /// Allowed: `runs`.
    pub scopes: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub id: String,
    pub name: String,
    /// Present only in the answer to the create call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

impl TokenResponse {
    fn from_record(t: &TokenRecord, secret: Option<String>) -> Self {
        TokenResponse {
            id: t.id.to_string(),
            name: t.name.clone(),
            token: secret,
            scopes: (t.kind == TokenKind::Service || t.kind == TokenKind::Admin)
                .then(|| t.scopes.clone()),
            created_at: time::format(t.created_at),
            expires_at: time::format_opt(t.expires_at),
            last_used_at: time::format_opt(t.last_used_at),
        }
    }
}

async fn new_session(state: &AppState, user: &User) -> Result<String, ApiError> {
    let token = auth::new_token();
    state
        .store
        .create_token(NewToken {
            kind: TokenKind::Session,
            user_id: Some(&user.id),
            name: "session",
            hash: &auth::token_hash(&token),
            scopes: &[],
            expires_at: Some(now_ms() + state.config.session_ttl_days * DAY),
        })
        .await?;
    Ok(token)
}

/// Creates an account and a session. Passwords need at least 10 characters.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "accounts", security(()),
    request_body = SignupRequest,
    responses((status = 201, body = SessionResponse), (status = 400, body = Problem),
        (status = 403, body = Problem, description = "signup is turned off"),
        (status = 409, body = Problem, description = "email taken")))]
pub async fn signup(
    State(state): State<AppState>,
    AppJson(req): AppJson<SignupRequest>,
) -> Result<(StatusCode, axum::Json<SessionResponse>), ApiError> {
    if !state.config.signup_enabled {
        return Err(ApiError::new(
            Code::Forbidden,
            "Signup is turned off on this server.",
        ));
    }
    let mut v = Validator::new();
    let email = v
        .required("email", req.email.as_deref())
        .and_then(|e| v.check(account::email(e)));
    let password = v
        .required("password", req.password.as_deref())
        .and_then(|p| v.check(account::password(p)));
    let name = v
        .required("name", req.name.as_deref())
        .and_then(|n| v.check(account::user_name(n)));
    v.finish()?;
    let (email, password, name) = (
        email.expect("checked"),
        password.expect("checked"),
        name.expect("checked"),
    );
    let hash = auth::hash_password(password).await?;
    let user = state.store.create_user(&email, &name, &hash).await?;
    let token = new_session(&state, &user).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(SessionResponse {
            user: UserResponse::from(&user),
            token,
        }),
    ))
}

/// The client address for the login limit: the socket peer, or the first
/// untrusted hop of `X-Forwarded-For` when the peer is a trusted proxy.
fn client_addr(
    state: &AppState,
    peer: Option<SocketAddr>,
    headers: &axum::http::HeaderMap,
) -> String {
    let Some(peer) = peer.map(|p| p.ip()) else {
        return "unknown".into();
    };
    if !state.config.trusted_proxies.contains(&peer) {
        return peer.to_string();
    }
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    forwarded
        .split(',')
        .rev()
        .map(str::trim)
        .filter_map(|s| s.parse::<std::net::IpAddr>().ok())
        .find(|ip| !state.config.trusted_proxies.contains(ip))
        .map_or_else(|| peer.to_string(), |ip| ip.to_string())
}

/// Exchanges email and password for a session token. Failed attempts are
/// limited per email and per client address (`login`).
#[utoipa::path(post, path = "/v1/auth/login", tag = "accounts", security(()),
    request_body = LoginRequest,
    responses((status = 200, body = SessionResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    headers: axum::http::HeaderMap,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<axum::Json<SessionResponse>, ApiError> {
    let spec = state.config.rate_limits.login;
    let by_email = format!("login:email:{}", req.email.trim().to_lowercase());
    let by_addr = format!("login:addr:{}", client_addr(&state, peer, &headers));
    // Every attempt takes its place in both limits before its password is
    // checked, and gives it back if the password is right: concurrent
    // guesses never check more passwords than the limit allows. (A request
    // dropped in between, its client gone, keeps its places: counted as
    // a failure, the safe side.)
    let by_email = state.limiter.reserve(&by_email, spec).await?;
    let by_addr = match state.limiter.reserve(&by_addr, spec).await {
        Ok(r) => r,
        Err(e) => {
            state.limiter.release(by_email).await;
            return Err(e.into());
        }
    };
    let found = match state.store.user_by_email(req.email.trim()).await {
        Ok(found) => found,
        Err(e) => {
            // No password was checked: not a failed login.
            state.limiter.release(by_email).await;
            state.limiter.release(by_addr).await;
            return Err(e.into());
        }
    };
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    if auth::verify_password(req.password, hash).await {
        let user = user.expect("verified against a stored hash");
        let a = state.limiter.release(by_email).await;
        let b = state.limiter.release(by_addr).await;
        report_rate(tighter(a, b));
        let token = new_session(&state, &user).await?;
        return Ok(axum::Json(SessionResponse {
            user: UserResponse::from(&user),
            token,
        }));
    }
    report_rate(tighter(by_email.info, by_addr.info));
    Err(ApiError::new(
        Code::Unauthenticated,
        "The email or the password is wrong.",
    ))
}

/// Of two limits' states, the one with fewer requests left.
fn tighter(a: RateInfo, b: RateInfo) -> RateInfo {
    if a.remaining <= b.remaining {
        a
    } else {
        b
    }
}

/// Revokes the token this request presents.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "accounts",
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_token(caller.token_id.as_str(), None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calling user.
#[utoipa::path(get, path = "/v1/me", tag = "accounts",
    responses((status = 200, body = UserResponse), (status = 401, body = Problem)))]
pub async fn get_me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Versioned<UserResponse>, ApiError> {
    let user = caller.profile(&state).await?;
    Ok(Versioned::ok(user.version, UserResponse::from(&user)))
}

/// Renames the calling user.
#[utoipa::path(patch, path = "/v1/me", tag = "accounts", request_body = UpdateMeRequest,
    responses((status = 200, body = UserResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 412, body = Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    AppJson(req): AppJson<UpdateMeRequest>,
) -> Result<Versioned<UserResponse>, ApiError> {
    let id = caller.user()?;
    let Some(raw) = req.name else {
        let user = caller.profile(&state).await?;
        check_version(if_match.0, user.version)?;
        return Ok(Versioned::ok(user.version, UserResponse::from(&user)));
    };
    let name = account::user_name(&raw).map_err(|e| Error::Validation(vec![e]))?;
    let user = state.store.rename_user(id, &name, if_match.0).await?;
    Ok(Versioned::ok(user.version, UserResponse::from(&user)))
}

/// The caller's personal access tokens (never their secrets), newest first.
/// Session tokens are not listed.
#[utoipa::path(get, path = "/v1/me/tokens", tag = "accounts", params(PageQuery),
    responses((status = 200, body = ListResponse<TokenResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<ListResponse<TokenResponse>, ApiError> {
    let user = caller.user()?;
    let page = q.page()?;
    let result = state.store.list_personal_tokens(user, &page).await?;
    Ok(ListResponse::from_page(result, |t| {
        TokenResponse::from_record(&t, None)
    }))
}

/// Creates a personal access token; `token` is shown in this answer only.
#[utoipa::path(post, path = "/v1/me/tokens", tag = "accounts", request_body = CreateTokenRequest,
    responses((status = 201, body = TokenResponse), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(req): AppJson<CreateTokenRequest>,
) -> Result<(StatusCode, axum::Json<TokenResponse>), ApiError> {
    let user = caller.user()?;
    let mut v = Validator::new();
    let name = v.check(account::token_name(&req.name));
    if let Some(d) = req.expires_in_days {
        if !(1..=3650).contains(&d) {
            v.push(FieldError::new(
                "expires_in_days",
                "invalid",
                "must be 1-3650",
            ));
        }
    }
    v.finish()?;
    let secret = auth::new_token();
    let record = state
        .store
        .create_token(NewToken {
            kind: TokenKind::Personal,
            user_id: Some(user),
            name: &name.expect("checked"),
            hash: &auth::token_hash(&secret),
            scopes: &[],
            expires_at: req.expires_in_days.map(|d| now_ms() + d * DAY),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenResponse::from_record(&record, Some(secret))),
    ))
}

/// Revokes one of the caller's personal access tokens.
#[utoipa::path(delete, path = "/v1/me/tokens/{id}", tag = "accounts",
    params(("id" = String, Path, description = "tok_ id")),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller.user()?;
    if state.store.delete_token(&id, Some(user)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound.into())
    }
}

/// Platform admin only: creates a scoped service token (e.g. for run workers).
#[utoipa::path(post, path = "/v1/admin/tokens", tag = "admin", request_body = CreateServiceTokenRequest,
    responses((status = 201, body = TokenResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn create_service_token(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(req): AppJson<CreateServiceTokenRequest>,
) -> Result<(StatusCode, axum::Json<TokenResponse>), ApiError> {
    if !caller.is_platform_admin() {
        return Err(ApiError::new(
            Code::Forbidden,
            "Only the platform admin may create service tokens.",
        ));
    }
    let mut v = Validator::new();
    let name = v.check(account::token_name(&req.name));
    let unknown: Vec<_> = req
        .scopes
        .iter()
        .filter(|s| !SERVICE_SCOPES.contains(&s.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        v.push(FieldError::new(
            "scopes",
            "invalid",
            format!("unknown scopes: {}", unknown.join(", ")),
        ));
    }
    if req.scopes.is_empty() {
        v.push(FieldError::new(
            "scopes",
            "required",
            "name at least one scope",
        ));
    }
    v.finish()?;
    let mut scopes = req.scopes.clone();
    scopes.sort();
    scopes.dedup();
    let secret = auth::new_token();
    let record = state
        .store
        .create_token(NewToken {
            kind: TokenKind::Service,
            user_id: None,
            name: &name.expect("checked"),
            hash: &auth::token_hash(&secret),
            scopes: &scopes,
            expires_at: None,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenResponse::from_record(&record, Some(secret))),
    ))
}
