//! Bridges (SPEC §7): integrations with other systems. Read: any member
//! (never the credentials); write: admin+. `credentials` is write-only:
//! sealed with the server key (the bridge id as associated data) before it
//! reaches the store, never answered, never logged (no request type here
//! derives `Debug`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::extract::{Access, AdminWrite, AppJson, AppQuery, IfMatch, PageQuery, ViewerRead};
use super::projects::{created, not_null, parse_sort, present, ListQuery};
use super::response::{ListResponse, Versioned};
use crate::app::AppState;
use crate::crypto::Cipher;
use crate::domain::bridge::{self, Bridge, BridgePatch, NewBridge, SealedCredentials};
use crate::domain::ids::BridgeId;
use crate::domain::validation::{text, FieldError, Validator};
use crate::domain::{json, time};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_bridges, create_bridge))
        .routes(routes!(get_bridge, update_bridge, delete_bridge))
}

#[derive(Deserialize)]
pub struct BridgePath {
    id: String,
}

#[derive(Serialize, ToSchema)]
pub struct BridgeResponse {
    pub id: String,
    /// `notion`, `sharepoint`, `google_drive`, `github`, `webhook` or `custom`.
    pub kind: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    pub enabled: bool,
    /// Whether credentials are stored (they are never shown).
    pub has_credentials: bool,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

impl From<Bridge> for BridgeResponse {
    fn from(b: Bridge) -> Self {
        BridgeResponse {
            id: b.id.to_string(),
            kind: b.kind,
            name: b.name,
            config: b.config,
            enabled: b.enabled,
            has_credentials: b.has_credentials,
            created_at: time::format(b.created_at),
            updated_at: time::format(b.updated_at),
            version: b.version,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBridgeRequest {
    pub kind: String,
    /// 1-100 characters.
    pub name: String,
    /// Settings of the integration (not secret), at most 16 KiB.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Secrets (tokens, keys), at most 16 KiB: stored encrypted, never
    /// returned.
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBridgeRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// Replaces the config.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    pub enabled: Option<Option<bool>>,
    /// Replaces the credentials; `null` removes them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Value>,
}

fn name(raw: &str) -> Result<String, FieldError> {
    text("name", raw, 1, 100)
}

/// Checks a credentials object and seals it for `id`.
fn seal(cipher: &Cipher, id: &BridgeId, v: Value) -> Result<SealedCredentials, FieldError> {
    let map = json::object("credentials", v)?;
    let plain = serde_json::to_vec(&map).expect("a JSON map serializes");
    Ok(SealedCredentials(
        cipher.seal(id.as_str().as_bytes(), &plain),
    ))
}

/// The workspace's bridges, newest first (any member; no credentials).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/bridges", tag = "bridges",
    params(("workspace" = String, Path, description = "id or slug"), ListQuery, PageQuery),
    responses((status = 200, body = ListResponse<BridgeResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn list_bridges(
    State(state): State<AppState>,
    access: Access<ViewerRead>,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<ListResponse<BridgeResponse>, ApiError> {
    let page = q.page.page()?;
    let sort = parse_sort(q.sort.as_deref())?;
    let result = state
        .store
        .list_bridges(&access.workspace.id, sort, &page)
        .await?;
    Ok(ListResponse::from_page(result, BridgeResponse::from))
}

/// Adds a bridge (admin+). `credentials` are encrypted at rest and never
/// answered; `has_credentials` tells whether some are stored.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/bridges", tag = "bridges",
    params(("workspace" = String, Path, description = "id or slug")), request_body = CreateBridgeRequest,
    responses((status = 201, body = BridgeResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create_bridge(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    AppJson(req): AppJson<CreateBridgeRequest>,
) -> Result<Response, ApiError> {
    let id = BridgeId::new();
    let mut v = Validator::new();
    let kind = v.check(bridge::kind(&req.kind));
    let name = v.check(name(&req.name));
    let config = match req.config {
        None | Some(Value::Null) => Some(Map::new()),
        Some(c) => v.check(json::object("config", c)),
    };
    let credentials = match req.credentials {
        None | Some(Value::Null) => None,
        Some(c) => v.check(seal(&state.cipher, &id, c)),
    };
    v.finish()?;
    let new = NewBridge {
        id,
        kind: kind.expect("checked"),
        name: name.expect("checked"),
        config: config.expect("checked"),
        enabled: req.enabled.unwrap_or(true),
        credentials,
    };
    let b = state
        .store
        .create_bridge(&access.workspace.id, &new)
        .await?;
    let location = format!("/v1/workspaces/{}/bridges/{}", access.workspace.id, b.id);
    Ok(created(location, b.version, BridgeResponse::from(b)))
}

/// One bridge (any member; no credentials).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/bridges/{id}", tag = "bridges",
    params(("workspace" = String, Path, description = "id or slug"), ("id" = String, Path)),
    responses((status = 200, body = BridgeResponse), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_bridge(
    State(state): State<AppState>,
    access: Access<ViewerRead>,
    Path(path): Path<BridgePath>,
) -> Result<Versioned<BridgeResponse>, ApiError> {
    let b = state.store.bridge(&access.workspace.id, &path.id).await?;
    Ok(Versioned::ok(b.version, b.into()))
}

/// Updates a bridge (admin+). `config` and `credentials` are replaced
/// whole; `"credentials": null` removes them. `kind` cannot change.
#[utoipa::path(patch, path = "/v1/workspaces/{workspace}/bridges/{id}", tag = "bridges",
    params(("workspace" = String, Path, description = "id or slug"), ("id" = String, Path)),
    request_body = UpdateBridgeRequest,
    responses((status = 200, body = BridgeResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem)))]
pub async fn update_bridge(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    Path(path): Path<BridgePath>,
    if_match: IfMatch,
    AppJson(req): AppJson<UpdateBridgeRequest>,
) -> Result<Versioned<BridgeResponse>, ApiError> {
    let Some(id) = BridgeId::parse(&path.id) else {
        return Err(crate::domain::Error::NotFound.into());
    };
    let mut v = Validator::new();
    let new_name = not_null(&mut v, "name", req.name).and_then(|s| v.check(name(&s)));
    let config = match req.config {
        None => None,
        Some(Value::Null) => Some(Map::new()),
        Some(c) => v.check(json::object("config", c)),
    };
    let enabled = match req.enabled {
        Some(None) => {
            v.push(FieldError::new("enabled", "required", "cannot be null"));
            None
        }
        other => other.flatten(),
    };
    let credentials = match req.credentials {
        None => None,
        Some(Value::Null) => Some(None),
        Some(c) => v.check(seal(&state.cipher, &id, c)).map(Some),
    };
    v.finish()?;
    let patch = BridgePatch {
        name: new_name,
        config,
        enabled,
        credentials,
    };
    let b = state
        .store
        .update_bridge(&access.workspace.id, &path.id, &patch, if_match.0)
        .await?;
    Ok(Versioned::ok(b.version, b.into()))
}

/// Deletes a bridge and its credentials (admin+). Answers 204.
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/bridges/{id}", tag = "bridges",
    params(("workspace" = String, Path, description = "id or slug"), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_bridge(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    Path(path): Path<BridgePath>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_bridge(&access.workspace.id, &path.id, if_match.0)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
