//! Workspace logos (SPEC §3): upload raw image bytes (PNG, JPEG, WebP or
//! GIF, recognised by their bytes, at most 1 MiB); served publicly at a
//! content-addressed URL with long-lived caching headers.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Code, Problem};
use super::extract::{Access, AdminWrite, IfMatch};
use super::response::Versioned;
use super::workspaces::{versioned, WorkspaceResponse};
use crate::app::AppState;
use crate::domain::Error;

/// Logos larger than this are refused (413).
pub const MAX_LOGO_BYTES: usize = 1024 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_logo, delete_logo))
        .routes(routes!(get_logo))
}

/// The image type of `bytes`, from its magic number.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Sets the workspace's logo (admin+). The body is the image itself (any
/// `Content-Type`; the type is read from the bytes). Answers the workspace,
/// whose `logo_url` then points to the image.
#[utoipa::path(put, path = "/v1/workspaces/{workspace}/logo", tag = "workspaces",
    params(("workspace" = String, Path, description = "id or slug")),
    request_body(content = Vec<u8>, content_type = "image/png", description = "PNG, JPEG, WebP or GIF bytes, at most 1 MiB"),
    responses((status = 200, body = WorkspaceResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem)))]
pub async fn upload_logo(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    if_match: IfMatch,
    body: Result<Bytes, BytesRejection>,
) -> Result<Versioned<WorkspaceResponse>, ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(Code::PayloadTooLarge, "A logo may be at most 1 MiB.")
        } else {
            ApiError::new(Code::InvalidJson, "The body could not be read.")
        }
    })?;
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(ApiError::new(
            Code::PayloadTooLarge,
            "A logo may be at most 1 MiB.",
        ));
    }
    let content_type = sniff(&bytes).ok_or_else(|| {
        ApiError::new(
            Code::UnsupportedMediaType,
            "The logo must be a PNG, JPEG, WebP or GIF image.",
        )
    })?;
    let key = hex::encode(Sha256::digest(&bytes));
    let mut ws = state
        .store
        .set_logo(
            &access.workspace.id,
            &key,
            content_type,
            bytes.to_vec(),
            if_match.0,
        )
        .await?;
    ws.role = access.workspace.role;
    Ok(versioned(&state, StatusCode::OK, ws))
}

/// Removes the workspace's logo (admin+). Answers the workspace.
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/logo", tag = "workspaces",
    params(("workspace" = String, Path, description = "id or slug")),
    responses((status = 200, body = WorkspaceResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_logo(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    if_match: IfMatch,
) -> Result<Versioned<WorkspaceResponse>, ApiError> {
    let mut ws = state
        .store
        .clear_logo(&access.workspace.id, if_match.0)
        .await?;
    ws.role = access.workspace.role;
    Ok(versioned(&state, StatusCode::OK, ws))
}

/// A logo image. Public (no token), so it works in `<img>`; the URL names
/// the content, so it is cached for a year and never changes.
#[utoipa::path(get, path = "/v1/logos/{key}", tag = "workspaces", security(()),
    params(("key" = String, Path, description = "SHA-256 of the image, hex")),
    responses((status = 200, description = "the image", content_type = "image/*"), (status = 304),
        (status = 404, body = Problem)))]
pub async fn get_logo(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let valid = key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !valid {
        return Err(Error::NotFound.into());
    }
    let etag = format!("\"{key}\"");
    let cache = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).expect("hex is a valid header value"),
        ),
    ];
    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        // If-None-Match compares weakly: W/"x" matches "x".
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag);
    // Only an existing logo answers 304, so a made-up key still reads 404.
    let logo = state.store.logo(&key).await?.ok_or(Error::NotFound)?;
    if not_modified {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let content_type =
        HeaderValue::from_str(&logo.content_type).unwrap_or(HeaderValue::from_static("image/png"));
    Ok((
        StatusCode::OK,
        cache,
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        logo.data,
    )
        .into_response())
}
