//! Webhook endpoints of a workspace (SPEC §9), admin+: create (the signing
//! secret is in that answer only), read, change, delete, and the
//! deliveries of one endpoint with their attempts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::extract::{Access, AdminRead, AdminWrite, AppJson, AppQuery, IfMatch, PageQuery};
use super::projects::created;
use super::response::{ListResponse, Versioned};
use crate::app::AppState;
use crate::domain::ids::WebhookId;
use crate::domain::time::{self, now_ms};
use crate::domain::validation::Validator;
use crate::domain::webhook;
use crate::store::webhooks::{Delivery, NewWebhook, Webhook, WebhookPatch};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
}

#[derive(Serialize, ToSchema)]
pub struct WebhookResponse {
    pub id: String,
    pub url: String,
    /// Subscribed event types: `member.added`, `member.*`, or `*`.
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why the service disabled it (repeated failed deliveries), if it did.
    pub disabled_reason: Option<String>,
    /// The signing secret (`whsec_…`): in the create answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

impl From<Webhook> for WebhookResponse {
    fn from(w: Webhook) -> Self {
        WebhookResponse {
            id: w.id.to_string(),
            url: w.url,
            events: w.events,
            enabled: w.enabled,
            disabled_reason: w.disabled_reason,
            secret: None,
            created_at: time::format(w.created_at),
            updated_at: time::format(w.updated_at),
            version: w.version,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryResponse {
    /// Also the `webhook-id` header of every attempt.
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `succeeded` or `failed` (retries exhausted after 24 h).
    pub status: String,
    pub attempts: i64,
    /// Each attempt: `{at, status_code, error, duration_ms}`, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub attempt_log: Box<RawValue>,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

impl From<Delivery> for DeliveryResponse {
    fn from(d: Delivery) -> Self {
        DeliveryResponse {
            id: d.id,
            event_id: d.event_id.to_string(),
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            attempt_log: RawValue::from_string(d.attempt_log)
                .unwrap_or_else(|_| RawValue::from_string("[]".into()).expect("valid JSON")),
            next_attempt_at: d.next_attempt_at.map(time::format),
            created_at: time::format(d.created_at),
            delivered_at: d.delivered_at.map(time::format),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// `https://…` (or `http://`); private, loopback and link-local
    /// addresses are refused unless configuration allows them.
    pub url: String,
    /// Event types to send: `member.added`, `member.*`, or `*` for all.
    pub events: Vec<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// Enabling again clears the failure count and `disabled_reason`.
    pub enabled: Option<bool>,
}

fn path_id(raw: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse(raw).ok_or_else(|| crate::domain::Error::NotFound.into())
}

/// The workspace's webhook endpoints, newest first (admin+).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/webhooks", tag = "webhooks",
    params(("workspace" = String, Path, description = "id or slug"), PageQuery),
    responses((status = 200, body = ListResponse<WebhookResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    access: Access<AdminRead>,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<ListResponse<WebhookResponse>, ApiError> {
    let page = q.page()?;
    let result = state
        .store
        .list_webhooks(&access.workspace.id, &page)
        .await?;
    Ok(ListResponse::from_page(result, WebhookResponse::from))
}

/// Creates an endpoint (admin+). The answer holds the signing `secret`,
/// shown this once.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/webhooks", tag = "webhooks",
    params(("workspace" = String, Path, description = "id or slug")), request_body = CreateWebhookRequest,
    responses((status = 201, body = WebhookResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    AppJson(req): AppJson<CreateWebhookRequest>,
) -> Result<Response, ApiError> {
    let allow_private = state.config.webhooks.allow_private_urls;
    let mut v = Validator::new();
    let url = v.check(webhook::url(&req.url, allow_private));
    let events = v.check(webhook::events(&req.events));
    v.finish()?;
    let id = WebhookId::new();
    let secret = webhook::new_secret();
    let sealed = state.cipher.seal(id.as_str().as_bytes(), secret.as_bytes());
    let new = NewWebhook {
        id,
        url: url.expect("checked"),
        events: events.expect("checked"),
        enabled: req.enabled.unwrap_or(true),
        sealed_secret: sealed,
    };
    let w = state
        .store
        .create_webhook(&access.workspace.id, new, now_ms())
        .await?;
    let location = format!("/v1/workspaces/{}/webhooks/{}", access.workspace.id, w.id);
    let version = w.version;
    let mut body = WebhookResponse::from(w);
    body.secret = Some(secret);
    Ok(created(location, version, body))
}

/// One endpoint (admin+; never its secret).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/webhooks/{id}", tag = "webhooks",
    params(("workspace" = String, Path, description = "id or slug"), ("id" = String, Path)),
    responses((status = 200, body = WebhookResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    access: Access<AdminRead>,
    Path(path): Path<(String, String)>,
) -> Result<Versioned<WebhookResponse>, ApiError> {
    let id = path_id(&path.1)?;
    let w = state
        .store
        .webhook(&access.workspace.id, id.as_str())
        .await?;
    Ok(Versioned::ok(w.version, w.into()))
}

/// Changes an endpoint (admin+).
#[utoipa::path(patch, path = "/v1/workspaces/{workspace}/webhooks/{id}", tag = "webhooks",
    params(("workspace" = String, Path, description = "id or slug"), ("id" = String, Path)),
    request_body = UpdateWebhookRequest,
    responses((status = 200, body = WebhookResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem)))]
pub async fn update_webhook(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    Path(path): Path<(String, String)>,
    if_match: IfMatch,
    AppJson(req): AppJson<UpdateWebhookRequest>,
) -> Result<Versioned<WebhookResponse>, ApiError> {
    let id = path_id(&path.1)?;
    let allow_private = state.config.webhooks.allow_private_urls;
    let mut v = Validator::new();
    let url = v.check_opt(req.url, |u| webhook::url(&u, allow_private));
    let events = v.check_opt(req.events, |e| webhook::events(&e));
    v.finish()?;
    let patch = WebhookPatch {
        url,
        events,
        enabled: req.enabled,
    };
    let w = state
        .store
        .update_webhook(
            &access.workspace.id,
            id.as_str(),
            &patch,
            if_match.0,
            now_ms(),
        )
        .await?;
    Ok(Versioned::ok(w.version, w.into()))
}

/// Deletes an endpoint and its deliveries (admin+). Answers 204.
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/webhooks/{id}", tag = "webhooks",
    params(("workspace" = String, Path, description = "id or slug"), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    Path(path): Path<(String, String)>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&path.1)?;
    state
        .store
        .delete_webhook(&access.workspace.id, id.as_str(), if_match.0)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An endpoint's deliveries, newest first, each with its attempts (admin+).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/webhooks/{id}/deliveries", tag = "webhooks",
    params(("workspace" = String, Path, description = "id or slug"), ("id" = String, Path), PageQuery),
    responses((status = 200, body = ListResponse<DeliveryResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    access: Access<AdminRead>,
    Path(path): Path<(String, String)>,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<ListResponse<DeliveryResponse>, ApiError> {
    let id = path_id(&path.1)?;
    let page = q.page()?;
    let result = state
        .store
        .list_deliveries(&access.workspace.id, id.as_str(), &page)
        .await?;
    Ok(ListResponse::from_page(result, DeliveryResponse::from))
}
