//! Workspace settings, the "today" pin and AI providers (SPEC §7). All three
//! live on the workspace and carry its version as their ETag.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::extract::{Access, AdminWrite, AppJson, IfMatch, MemberWrite, ViewerRead};
use super::response::Versioned;
use crate::app::AppState;
use crate::domain::json::merge_patch;
use crate::domain::settings::{self, TODAY_PINNED_NOTE_ID};
use crate::domain::{providers, Error};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, replace_settings, patch_settings))
        .routes(routes!(pin_today))
        .routes(routes!(get_providers, set_providers))
}

/// The settings document: every known key (`theme`, `todo_block_ids_enabled`,
/// `default_response_mode`, `default_engagement_mode`, `today_pinned_note_id`,
/// `default_project_id`, `notifications`) with its default filled in, plus
/// any custom keys.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct SettingsDocument(pub Map<String, Value>);

fn respond(ws: crate::domain::workspace::Workspace) -> Versioned<SettingsDocument> {
    Versioned::ok(
        ws.version,
        SettingsDocument(settings::with_defaults(&ws.settings)),
    )
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(Error::field("body", "invalid_type", "must be a JSON object").into()),
    }
}

/// The workspace's settings, defaults filled in (any member).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/settings", tag = "settings",
    params(("workspace" = String, Path, description = "id or slug")),
    responses((status = 200, body = SettingsDocument), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_settings(access: Access<ViewerRead>) -> Versioned<SettingsDocument> {
    respond(*access.workspace)
}

/// Replaces the settings (admin+). Known keys are checked; other keys are
/// kept as given. Errors name the key (`theme`).
#[utoipa::path(put, path = "/v1/workspaces/{workspace}/settings", tag = "settings",
    params(("workspace" = String, Path, description = "id or slug")), request_body = SettingsDocument,
    responses((status = 200, body = SettingsDocument), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem)))]
pub async fn replace_settings(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    if_match: IfMatch,
    AppJson(body): AppJson<Value>,
) -> Result<Versioned<SettingsDocument>, ApiError> {
    let doc = object(body)?;
    let ws = state
        .store
        .update_settings(&access.workspace.id, if_match.0, |s| *s = doc)
        .await
        .map_err(named_as_sent)?;
    Ok(respond(ws))
}

/// Merges a JSON Merge Patch (RFC 7396) into the settings (admin+): `null`
/// removes a key (a known key then shows its default).
#[utoipa::path(patch, path = "/v1/workspaces/{workspace}/settings", tag = "settings",
    params(("workspace" = String, Path, description = "id or slug")), request_body = SettingsDocument,
    responses((status = 200, body = SettingsDocument), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem)))]
pub async fn patch_settings(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    if_match: IfMatch,
    AppJson(body): AppJson<Value>,
) -> Result<Versioned<SettingsDocument>, ApiError> {
    let patch = Value::Object(object(body)?);
    let ws = state
        .store
        .update_settings(&access.workspace.id, if_match.0, |s| {
            let mut doc = Value::Object(std::mem::take(s));
            merge_patch(&mut doc, &patch);
            if let Value::Object(m) = doc {
                *s = m;
            }
        })
        .await
        .map_err(named_as_sent)?;
    Ok(respond(ws))
}

/// Here the body *is* the settings document, so a bad key is named as it
/// was sent (`theme`), where `POST`/`PATCH /v1/workspaces` name it inside
/// their body (`settings.theme`): a field is always its path in the request.
fn named_as_sent(e: Error) -> Error {
    match e {
        Error::Validation(mut errors) => {
            for e in &mut errors {
                if let Some(key) = e.field.strip_prefix("settings.") {
                    e.field = key.to_owned();
                }
            }
            Error::Validation(errors)
        }
        e => e,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TodayPinRequest {
    /// The note to pin; `null` unpins.
    #[serde(deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub note_id: Option<String>,
}

/// Required but nullable: a missing field is an error, `null` is not.
fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

/// Pins a note as "today" (member+); `{"note_id": null}` unpins. Sets
/// `today_pinned_note_id` and answers the settings.
#[utoipa::path(put, path = "/v1/workspaces/{workspace}/today-pin", tag = "settings",
    params(("workspace" = String, Path, description = "id or slug")), request_body = TodayPinRequest,
    responses((status = 200, body = SettingsDocument), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem)))]
pub async fn pin_today(
    State(state): State<AppState>,
    access: Access<MemberWrite>,
    if_match: IfMatch,
    AppJson(req): AppJson<TodayPinRequest>,
) -> Result<Versioned<SettingsDocument>, ApiError> {
    let note = settings::note_id(req.note_id).map_err(|e| Error::Validation(vec![e]))?;
    let ws = state
        .store
        .update_settings(&access.workspace.id, if_match.0, |s| {
            s.insert(
                TODAY_PINNED_NOTE_ID.into(),
                note.map_or(Value::Null, Value::String),
            );
        })
        .await?;
    Ok(respond(ws))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvidersBody {
    /// Provider names from the server's configured list (by default
    /// `openai`, `anthropic`, `google`, `perplexity`, `mistral`, `cohere`).
    pub providers: Vec<String>,
}

/// The AI providers this workspace uses (any member).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/providers", tag = "settings",
    params(("workspace" = String, Path, description = "id or slug")),
    responses((status = 200, body = ProvidersBody), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_providers(
    State(state): State<AppState>,
    access: Access<ViewerRead>,
) -> Result<Versioned<ProvidersBody>, ApiError> {
    let (providers, version) = state.store.providers(&access.workspace.id).await?;
    Ok(Versioned::ok(version, ProvidersBody { providers }))
}

/// Replaces the providers (admin+): at least one, each from the configured
/// list; duplicates are folded. Unknown names are 400, each named.
#[utoipa::path(put, path = "/v1/workspaces/{workspace}/providers", tag = "settings",
    params(("workspace" = String, Path, description = "id or slug")), request_body = ProvidersBody,
    responses((status = 200, body = ProvidersBody), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem)))]
pub async fn set_providers(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    if_match: IfMatch,
    AppJson(req): AppJson<ProvidersBody>,
) -> Result<Versioned<ProvidersBody>, ApiError> {
    let allowed = &state.config.providers;
    let chosen = providers::choose(&req.providers, allowed, 1).map_err(|errors| {
        let unknown: Vec<&str> = req
            .providers
            .iter()
            .filter(|p| !allowed.contains(&p.trim().to_ascii_lowercase()))
            .map(String::as_str)
            .collect();
        let detail = if unknown.is_empty() {
            "Name at least one provider.".to_owned()
        } else {
            format!("Unknown providers: {}.", unknown.join(", "))
        };
        ApiError::with_errors(super::error::Code::ValidationFailed, detail, errors)
    })?;
    let (providers, version) = state
        .store
        .set_providers(&access.workspace.id, &chosen, if_match.0)
        .await?;
    Ok(Versioned::ok(version, ProvidersBody { providers }))
}
