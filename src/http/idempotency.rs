//! `Idempotency-Key` (SPEC §1): the first response to a (caller, key) is kept
//! for 24 hours; a repeat of the same request (method, path, body) replays it
//! with `Idempotent-Replayed: true`; the same key on a different request is
//! 422 `idempotency_key_reused`; a repeat while the first still runs is 409
//! `idempotency_key_in_use`.
//!
//! The caller is the bearer token (its hash): two tokens of one user are two
//! callers. The token is authenticated (and counted against `requests`)
//! before anything is claimed or replayed, so a revoked or rate-limited token
//! gets its 401 or 429, never a kept answer. Answers that did not really run
//! the request (401, 429, 5xx) are not kept, so a retry runs afresh.
//!
//! A kept body is sealed with the server key (bound to the caller and the
//! key): some answers carry a secret shown once (a new token, an invitation
//! token, a webhook secret), which must not rest in the database in clear.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::{ApiError, Code};
use super::extract::{authenticate, bearer};
use crate::app::{AppState, MAX_BODY_BYTES};
use crate::domain::time::{now_ms, DAY};
use crate::store::idempotency::Claim;

pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Response headers that are part of a kept answer.
const KEPT_HEADERS: [&str; 3] = ["content-type", "etag", "location"];

/// Largest response body kept for replay.
const MAX_KEPT_BODY: usize = 4 * 1024 * 1024;

fn request_hash(method: &Method, uri: &axum::http::Uri, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update(b"\n");
    h.update(
        uri.path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .as_bytes(),
    );
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

fn valid_key(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic())).then_some(s)
}

/// Runs `next` under the `Idempotency-Key` rules. Called by the request
/// context middleware ([`super::context::observe`]) rather than being a
/// layer of its own: each `from_fn` layer costs every request a boxed
/// future and a clone of the inner service, for nothing on reads.
pub async fn idempotency(state: &AppState, req: Request, next: Next) -> Response {
    let writes = matches!(
        *req.method(),
        Method::POST | Method::PATCH | Method::PUT | Method::DELETE
    );
    let Some(raw_key) = req.headers().get(&IDEMPOTENCY_KEY).filter(|_| writes) else {
        return next.run(req).await;
    };
    let Some(key) = valid_key(raw_key).map(str::to_owned) else {
        return ApiError::param("Idempotency-Key", "must be 1-255 visible ASCII characters")
            .into_response();
    };
    let Some(token) = bearer(req.headers()) else {
        // No token: the route answers 401 and there is nothing to keep.
        return next.run(req).await;
    };
    let caller = crate::auth::token_hash(token);
    // Authenticated here, as the route would (the extractor reuses it).
    let authenticated = authenticate(state, token).await;
    let mut req = req;
    match authenticated {
        Ok(c) => {
            req.extensions_mut().insert(c);
        }
        Err(e) => return e.into_response(),
    }
    // Boxed: its state (the body, the claim, the kept answer) is ~1.7 KB,
    // which unboxed would size this future, and the request context's
    // around it, for every request, where axum moves it into its box.
    Box::pin(keyed(state, key, caller, req, next)).await
}

/// A write with an `Idempotency-Key`: claimed, run once, its answer kept
/// and replayed.
async fn keyed(
    state: &AppState,
    key: String,
    caller: String,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        return ApiError::new(Code::PayloadTooLarge, "The body is larger than 1 MiB.")
            .into_response();
    };
    let hash = request_hash(&parts.method, &parts.uri, &bytes);
    let claim = state
        .store
        .claim_idempotency_key(&caller, &key, &hash, now_ms(), DAY)
        .await;
    match claim {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Claim::Done { request_hash, .. } | Claim::InProgress { request_hash })
            if request_hash != hash =>
        {
            ApiError::new(
                Code::IdempotencyKeyReused,
                "This Idempotency-Key was used for a different request; use a new key.",
            )
            .into_response()
        }
        Ok(Claim::InProgress { .. }) => ApiError::new(
            Code::IdempotencyKeyInUse,
            "The first request with this Idempotency-Key is still running; retry shortly.",
        )
        .into_response(),
        Ok(Claim::Done {
            status,
            headers,
            body,
            ..
        }) => match body.strip_prefix(SEALED) {
            // No mark: kept in clear by a version before sealing, or sealed
            // by the one build that sealed without the mark (rows at most a
            // day old). Opened if it opens (a body kept in clear cannot:
            // it has no valid tag), else replayed as it is.
            None => match state.cipher.open(&sealing_aad(&caller, &key), &body) {
                Ok(opened) => replay(status, &headers, opened),
                Err(_) => replay(status, &headers, body),
            },
            Some(sealed) => match state.cipher.open(&sealing_aad(&caller, &key), sealed) {
                Ok(body) => replay(status, &headers, body),
                // Sealed under another server key (rotated since): not
                // replayable, and not to be run a second time either.
                Err(e) => ApiError::from(crate::domain::Error::Internal(format!(
                    "kept idempotent answer: {e}"
                )))
                .into_response(),
            },
        },
        Ok(Claim::Claimed) => {
            let resp = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            keep(state, &caller, &key, resp).await
        }
    }
}

/// Stores the answer of a claimed key (or releases the key), and returns it.
async fn keep(state: &AppState, caller: &str, key: &str, resp: Response) -> Response {
    let status = resp.status();
    let not_run = status.is_server_error()
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::TOO_MANY_REQUESTS;
    if not_run {
        if let Err(e) = state.store.release_idempotency_key(caller, key).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_KEPT_BODY).await else {
        let _ = state.store.release_idempotency_key(caller, key).await;
        return ApiError::new(Code::Internal, "The response could not be kept.").into_response();
    };
    let kept: serde_json::Map<String, serde_json::Value> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let v = parts.headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), serde_json::Value::String(v.to_owned())))
        })
        .collect();
    let headers = serde_json::Value::Object(kept).to_string();
    let sealed = [
        SEALED,
        &state.cipher.seal(&sealing_aad(caller, key), &bytes),
    ]
    .concat();
    if let Err(e) = state
        .store
        .finish_idempotent(caller, key, status.as_u16(), &headers, &sealed)
        .await
    {
        tracing::warn!(error = %e, "could not keep an idempotent response");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Marks a kept body as sealed (rows kept before sealing have none).
const SEALED: &[u8] = b"sealed:v1:";

/// What a kept body is bound to: a sealed answer copied to another
/// caller's or key's row does not open.
fn sealing_aad(caller: &str, key: &str) -> Vec<u8> {
    [caller.as_bytes(), b"\n", key.as_bytes()].concat()
}

fn replay(status: u16, headers: &str, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let kept: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(headers).unwrap_or_default();
    let h: &mut HeaderMap = resp.headers_mut();
    for (name, value) in kept {
        if let (Ok(n), Some(Ok(v))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(HeaderValue::from_str),
        ) {
            h.insert(n, v);
        }
    }
    h.insert(&REPLAYED, HeaderValue::from_static("true"));
    resp
}
