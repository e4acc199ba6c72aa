//! Extractors: authentication ([`Caller`]), workspace access ([`Access`]),
//! JSON bodies ([`AppJson`]), queries ([`AppQuery`]) and `If-Match`.
//! Every rejection is a problem+json error.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{ApiError, Code};
use crate::app::AppState;
use crate::domain::account::{TokenKind, User};
use crate::domain::error::RateInfo;
use crate::domain::ids::{TokenId, UserId};
use crate::domain::json::{nesting_depth, MAX_DEPTH};
use crate::domain::roles::Role;
use crate::domain::time::{now_ms, MINUTE};
use crate::domain::validation::FieldError;
use crate::domain::workspace::{Status, Workspace};
use crate::domain::Error;

/// The authenticated caller: a user (session or personal token), the
/// platform admin, or a scoped service token. Extracting it answers 401 for
/// a missing, malformed, unknown or expired token.
///
/// Shared, not copied: the first extractor that resolves it keeps a clone
/// in the request's extensions for the ones after it, and a clone is one
/// reference count instead of a copy of each id and scope (net, one
/// allocation fewer per request for a personal token).
#[derive(Debug, Clone)]
pub struct Caller(Arc<CallerToken>);

/// What [`Caller`] dereferences to.
#[derive(Debug)]
pub struct CallerToken {
    pub token_id: TokenId,
    pub kind: TokenKind,
    /// The calling user; `None` for service tokens and the platform admin.
    pub user: Option<UserId>,
    pub scopes: Vec<String>,
}

impl std::ops::Deref for Caller {
    type Target = CallerToken;

    fn deref(&self) -> &CallerToken {
        &self.0
    }
}

impl Caller {
    pub fn is_platform_admin(&self) -> bool {
        self.kind == TokenKind::Admin
    }

    /// The calling user; service tokens have none (403).
    pub fn user(&self) -> Result<&UserId, ApiError> {
        self.user.as_ref().ok_or_else(|| {
            ApiError::new(
                Code::Forbidden,
                "This route needs a user token, not a service token.",
            )
        })
    }

    pub fn user_id(&self) -> Option<&UserId> {
        self.user.as_ref()
    }

    /// The calling user's profile, for the routes that show or check it
    /// (authentication reads the token alone). A user deleted since the
    /// token was read is unauthenticated, as its token now is.
    pub async fn profile(&self, state: &AppState) -> Result<User, ApiError> {
        let id = self.user()?;
        Ok(state
            .store
            .user_by_id(id)
            .await?
            .ok_or(Error::Unauthenticated)?)
    }
}

/// The bearer token of a request, if well-formed.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    #[tracing::instrument(name = "authenticate", skip_all)]
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        let token = bearer(&parts.headers).ok_or(Error::Unauthenticated)?;
        let caller = authenticate(state, token).await?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

pub(crate) async fn authenticate(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let hash = crate::auth::token_hash(token);
    if let Some(admin) = configured_admin(state, &hash) {
        return Ok(admin);
    }
    let now = now_ms();
    let found = state
        .store
        .authenticate(&hash, now)
        .await?
        .ok_or(Error::Unauthenticated)?;
    admit(state, found, now)
}

/// The caller of the configured platform-admin token, if `hash` is its hash.
fn configured_admin(state: &AppState, hash: &str) -> Option<Caller> {
    (state.admin_token_hash.as_deref() == Some(hash)).then(|| {
        let caller = Caller(Arc::new(CallerToken {
            token_id: TokenId::from_db("tok_configured_admin".into()),
            kind: TokenKind::Admin,
            user: None,
            scopes: Vec::new(),
        }));
        name_actor(&caller);
        caller
    })
}

/// Names the caller as the actor of the events this request records.
fn name_actor(caller: &Caller) {
    use crate::domain::event::{set_actor, Actor, ActorKind};
    set_actor(|| match &caller.user {
        Some(u) => Actor {
            kind: ActorKind::User,
            id: Some(u.to_string()),
        },
        None => Actor {
            kind: ActorKind::Service,
            id: Some(caller.token_id.to_string()),
        },
    });
}

/// Lets a resolved token in: counts it against `requests` (the platform
/// admin is exempt) and records its use at most once a minute.
fn admit(
    state: &AppState,
    t: crate::store::accounts::TokenRecord,
    now: crate::domain::time::Millis,
) -> Result<Caller, ApiError> {
    if t.kind != TokenKind::Admin {
        let info = state
            .limiter
            .check_request(t.id.as_str(), now)
            .map_err(Error::RateLimited)?;
        super::context::set_rate(info, false);
    }
    if t.last_used_at.is_none_or(|at| now - at > MINUTE) {
        let store = state.store.clone();
        let id = t.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(&id, now).await {
                tracing::warn!(error = %e, "could not record token use");
            }
        });
    }
    let caller = Caller(Arc::new(CallerToken {
        token_id: t.id,
        kind: t.kind,
        user: t.user_id,
        scopes: t.scopes,
    }));
    name_actor(&caller);
    Ok(caller)
}

/// The caller and the `{workspace}` row with the caller's roles. When the
/// request is not yet authenticated, both come from one query.
async fn caller_and_workspace(
    parts: &mut Parts,
    state: &AppState,
    key: &str,
) -> Result<(Caller, Option<Box<Workspace>>), ApiError> {
    if parts.extensions.get::<Caller>().is_none() {
        let token = bearer(&parts.headers).ok_or(Error::Unauthenticated)?;
        let hash = crate::auth::token_hash(token);
        if configured_admin(state, &hash).is_none() {
            let now = now_ms();
            let (found, ws) = state
                .store
                .authenticate_for_workspace(&hash, now, key)
                .await?
                .ok_or(Error::Unauthenticated)?;
            let caller = admit(state, found, now)?;
            parts.extensions.insert(caller.clone());
            return Ok((caller, ws));
        }
    }
    let caller = Caller::from_request_parts(parts, state).await?;
    if caller.user.is_none() && !caller.is_platform_admin() {
        return Ok((caller, None));
    }
    let ws = state
        .store
        .workspace_for(key, caller.user_id())
        .await?
        .map(Box::new);
    Ok((caller, ws))
}

/// What a route needs of the caller's role on `{workspace}`.
pub trait Policy: Send + Sync + 'static {
    const MIN_ROLE: Role;
    /// Writes are refused on archived workspaces (409).
    const WRITE: bool;
    /// Owners still reach deleted workspaces through this route.
    const DELETED_OK: bool;
}

macro_rules! policy {
    ($(#[$doc:meta])* $name:ident, $role:expr, $write:expr, $deleted:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl Policy for $name {
            const MIN_ROLE: Role = $role;
            const WRITE: bool = $write;
            const DELETED_OK: bool = $deleted;
        }
    };
}

policy!(/// Read, any member (archived included).
    ViewerRead, Role::Viewer, false, false);
policy!(/// Read; owners also see the workspace once deleted.
    ViewerReadOrDeletedOwner, Role::Viewer, false, true);
policy!(/// Write, any member (leaving: refused while archived, like every write).
    ViewerWrite, Role::Viewer, true, false);
policy!(/// Write, member and up.
    MemberWrite, Role::Member, true, false);
policy!(/// Read of admin-only data (audit log, invitations).
    AdminRead, Role::Admin, false, false);
policy!(/// Write, admin and up.
    AdminWrite, Role::Admin, true, false);
policy!(/// Archive/unarchive: admin, allowed while archived.
    AdminLifecycle, Role::Admin, false, false);
policy!(/// Write, owners only.
    OwnerWrite, Role::Owner, true, false);
policy!(/// Delete and restore: owners, archived or deleted.
    OwnerLifecycle, Role::Owner, false, true);

/// Proof that the caller may act on the `{workspace}` of the path, by policy
/// `P`: the one membership check every workspace route goes through.
/// Non-members get 404, lower roles 403, writes to archived workspaces 409.
pub struct Access<P: Policy> {
    /// Boxed: the row is 450 bytes, and this value is moved from the
    /// store through the extractor into the handler, a copy at each step.
    pub workspace: Box<Workspace>,
    /// Effective role; the platform admin acts as owner.
    pub role: Role,
    pub caller: Caller,
    _policy: PhantomData<P>,
}

impl<P: Policy> FromRequestParts<AppState> for Access<P> {
    type Rejection = ApiError;

    #[tracing::instrument(name = "access", skip_all)]
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|params| {
                params
                    .iter()
                    .find(|(k, _)| *k == "workspace")
                    .map(|(_, v)| v.to_owned())
            });
        let Some(key) = key else {
            // Authentication still comes first: 401 before 404.
            Caller::from_request_parts(parts, state).await?;
            return Err(Error::NotFound.into());
        };
        let (caller, ws) = caller_and_workspace(parts, state, &key).await?;
        if caller.user.is_none() && !caller.is_platform_admin() {
            return Err(Error::NotFound.into());
        }
        let mut ws = ws.ok_or(Error::NotFound)?;
        let role = if caller.is_platform_admin() {
            Role::Owner
        } else {
            ws.role.ok_or(Error::NotFound)?
        };
        if ws.status == Status::Deleted && !(P::DELETED_OK && role == Role::Owner) {
            return Err(Error::NotFound.into());
        }
        if role < P::MIN_ROLE {
            return Err(if P::MIN_ROLE == Role::Owner {
                Error::NeedsOwner
            } else {
                Error::Forbidden(format!(
                    "This needs the {} role or higher.",
                    P::MIN_ROLE.as_str()
                ))
            }
            .into());
        }
        if P::WRITE && ws.status == Status::Archived {
            return Err(Error::WorkspaceArchived.into());
        }
        if !caller.is_platform_admin() {
            ws.role = Some(role);
        }
        Ok(Access {
            workspace: ws,
            role,
            caller,
            _policy: PhantomData,
        })
    }
}

/// `If-Match`: `"<version>"` compares strongly; `*` matches anything; a weak
/// or malformed tag never matches. Checked by the store after every other
/// check, so a 412 never tells a stranger that something exists.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let s = v.to_str().unwrap_or("").trim();
        if s == "*" {
            return Ok(IfMatch(None));
        }
        let version = s
            .split(',')
            .map(str::trim)
            .filter_map(|t| t.strip_prefix('"')?.strip_suffix('"')?.parse::<i64>().ok())
            .next();
        // -1 is never a version: the store answers 412.
        Ok(IfMatch(Some(version.unwrap_or(-1))))
    }
}

/// A JSON body: `application/json` (or no content type), UTF-8, at most 1 MiB
/// and 32 levels deep, no unknown fields. Errors name the field.
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        check_json_type(req.headers())?;
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(AppJson)
    }
}

/// A JSON body that may be left out: none (or only whitespace) is
/// `T::default()`; a body is taken exactly as [`AppJson`] takes it.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        check_json_type(&headers)?;
        parse_json(&bytes).map(OptionalJson)
    }
}

/// `application/json`, `*+json`, or no content type.
fn check_json_type(headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !(essence == "application/json" || essence.ends_with("+json")) {
            return Err(ApiError::new(
                Code::UnsupportedMediaType,
                "Send the body as application/json.",
            ));
        }
    }
    Ok(())
}

/// The body, at most 1 MiB (413 past that).
async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(Code::PayloadTooLarge, "The body is larger than 1 MiB.")
        } else {
            ApiError::new(Code::InvalidJson, "The body could not be read.")
        }
    })
}

/// Parses a JSON body into `T`, mapping every failure to a problem.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(Code::InvalidJson, "A JSON body is required."));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::new(
            Code::InvalidJson,
            "The body is not valid UTF-8.",
        ));
    }
    if crate::domain::json::escapes_nul(bytes) {
        return Err(ApiError::new(
            Code::InvalidJson,
            "Strings must not contain NUL (\\u0000).",
        ));
    }
    if nesting_depth(bytes) > MAX_DEPTH {
        return Err(ApiError::new(
            Code::InvalidJson,
            "The body nests deeper than 32 levels.",
        ));
    }
    // Syntax first, so a truncated body is invalid JSON rather than a type
    // error at whatever the typed parse met first.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        let msg = e.to_string();
        return Err(ApiError::new(
            Code::InvalidJson,
            format!("The body is not valid JSON: {msg}."),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut *de);
    let err = match parsed {
        Ok(v) => {
            return match de.end() {
                Ok(()) => Ok(v),
                Err(e) => Err(ApiError::new(
                    Code::InvalidJson,
                    format!("The body is not valid JSON: {e}."),
                )),
            }
        }
        Err(e) => e,
    };
    let path = err.path().to_string();
    let inner = err.into_inner();
    if !matches!(inner.classify(), serde_json::error::Category::Data) {
        return Err(ApiError::new(
            Code::InvalidJson,
            format!("The body is not valid JSON: {inner}."),
        ));
    }
    let first = shape_error(&path, &inner);
    // SPEC §1: `errors` lists every invalid field at once, so the rest of
    // the body's shape errors are gathered too (only on this error path).
    let mut errors = vec![first.clone()];
    if bytes.len() <= MAX_COLLECTED_BODY {
        let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        // Each field once, and never `first` again (`more_shape_errors`).
        errors.extend(more_shape_errors::<T>(body, &first));
    }
    Err(if first.code == "unknown" {
        ApiError::with_errors(
            Code::UnknownField,
            format!("Unknown field '{}'.", first.field),
            errors,
        )
    } else {
        ApiError::from(Error::Validation(errors))
    })
}

/// The field error for one deserialization error at `path` (serde_path_to_error's
/// dotted path, `.` for the body itself).
fn shape_error(path: &str, inner: &serde_json::Error) -> FieldError {
    let msg = inner.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
    let quoted = msg.split('`').nth(1).unwrap_or("").to_owned();
    if msg.starts_with("unknown field") {
        // The path already ends at the unknown key.
        let field = if path == "." { quoted } else { path.to_owned() };
        return FieldError::new(field, "unknown", "is not a field of this request");
    }
    if msg.starts_with("missing field") {
        let field = if path == "." {
            quoted
        } else {
            format!("{path}.{quoted}")
        };
        return FieldError::new(field, "required", "is required");
    }
    let field = if path == "." {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    FieldError::new(field, "invalid_type", msg)
}

/// The largest body whose shape errors are all gathered (larger ones list
/// the first): gathering parses the body again per bad field.
const MAX_COLLECTED_BODY: usize = 64 * 1024;

/// At most this many parses to gather a body's shape errors.
const MAX_PARSES: usize = 48;

/// Values that stand in for a field while the rest of a body is checked.
fn stand_ins() -> [Value; 6] {
    [
        Value::String(String::new()),
        Value::from(0),
        Value::Bool(false),
        Value::Array(Vec::new()),
        Value::Object(serde_json::Map::new()),
        Value::Null,
    ]
}

/// Every shape error of `body` after `first`: each bad field is removed
/// (unknown) or given a stand-in of a type `T` accepts (missing or of the
/// wrong type), and `T` is parsed again, until it parses or no stand-in
/// helps. Bounded: [`MAX_PARSES`] parses of a body of at most
/// [`MAX_COLLECTED_BODY`] bytes, on the error path only.
fn more_shape_errors<T: DeserializeOwned>(mut body: Value, first: &FieldError) -> Vec<FieldError> {
    let parses = std::cell::Cell::new(0);
    let parse = |v: &Value| -> Option<FieldError> {
        parses.set(parses.get() + 1);
        serde_path_to_error::deserialize::<_, T>(v)
            .err()
            .map(|e| shape_error(&e.path().to_string(), e.inner()))
    };
    let mut found: Vec<FieldError> = Vec::new();
    let mut current = first.clone();
    while parses.get() < MAX_PARSES {
        let next = if current.code == "unknown" {
            let Some(slot) = slot_of(&mut body, &current.field) else {
                break;
            };
            slot.remove();
            parse(&body)
        } else {
            let mut fixed = None;
            for stand_in in stand_ins() {
                let Some(slot) = slot_of(&mut body, &current.field) else {
                    break;
                };
                slot.set(stand_in);
                let e = parse(&body);
                if e.as_ref().is_none_or(|e| e.field != current.field) {
                    fixed = Some(e);
                    break;
                }
            }
            match fixed {
                Some(e) => e,
                None => break,
            }
        };
        match next {
            Some(e) if e.field != first.field && !found.iter().any(|f| f.field == e.field) => {
                found.push(e.clone());
                current = e;
            }
            _ => break,
        }
    }
    found
}

/// Where a dotted field path (`organization.name`, `invitations[2].email`
/// is not followed: only object keys) points into `body`.
fn slot_of<'a>(body: &'a mut Value, field: &str) -> Option<Slot<'a>> {
    let mut parts = field.split('.').peekable();
    let mut obj = body.as_object_mut()?;
    loop {
        let key = parts.next()?;
        if key.contains('[') {
            return None;
        }
        if parts.peek().is_none() {
            return Some(Slot {
                obj,
                key: key.to_owned(),
            });
        }
        obj = obj.get_mut(key)?.as_object_mut()?;
    }
}

struct Slot<'a> {
    obj: &'a mut serde_json::Map<String, Value>,
    key: String,
}

impl Slot<'_> {
    fn remove(self) {
        self.obj.remove(&self.key);
    }
    fn set(self, v: Value) {
        self.obj.insert(self.key, v);
    }
}

/// A query string parsed into `T`; bad values are 400 `invalid_parameter`
/// naming the parameter. Unknown parameters are ignored.
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(q));
        serde_path_to_error::deserialize(de)
            .map(AppQuery)
            .map_err(|e| {
                let field = e.path().to_string();
                ApiError::param(
                    if field == "." { "query" } else { &field },
                    &e.into_inner().to_string(),
                )
            })
    }
}

fn form_urlencoded_parse(q: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(q.as_bytes())
}

/// The pagination parameters every list takes.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-100, default 10.
    pub limit: Option<String>,
    /// Opaque cursor from `meta.next_cursor` of the previous page, with the
    /// same `sort` (another is 400 `invalid_parameter`).
    pub cursor: Option<String>,
    /// Rows to skip (instead of a cursor).
    pub offset: Option<String>,
    /// `true` adds `meta.total`.
    pub include_total: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<crate::domain::pagination::PageRequest, ApiError> {
        crate::domain::pagination::PageRequest::parse(
            self.limit.as_deref(),
            self.cursor.as_deref(),
            self.offset.as_deref(),
            self.include_total.as_deref(),
        )
        .map_err(invalid_parameters)
    }
}

/// 400 `invalid_parameter` naming every bad query parameter.
pub fn invalid_parameters(errors: Vec<FieldError>) -> ApiError {
    let names: Vec<_> = errors.iter().map(|e| e.field.clone()).collect();
    ApiError::with_errors(
        Code::InvalidParameter,
        format!("Invalid parameters: {}.", names.join(", ")),
        errors,
    )
}

/// The rate-limit state to report, re-exported for handlers.
pub fn report_rate(info: RateInfo) {
    super::context::set_rate(info, true);
}

/// The socket peer address, when the server was started with connect info.
pub struct ClientAddr(pub Option<std::net::SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<super::listener::PeerAddr>>()
                .map(|c| c.0 .0),
        ))
    }
}
