//! Per-request context (request id, rate-limit state) and the middleware
//! that sets it up, logs the request and writes the matching headers.

use std::cell::RefCell;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;

use crate::app::AppState;
use crate::domain::error::RateInfo;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub struct RequestCtx {
    request_id: HeaderValue,
    /// The most specific rate limit seen while handling the request.
    rate: RefCell<Option<(RateInfo, bool)>>,
}

tokio::task_local! {
    static CTX: RequestCtx;
}

/// The current request's id ("" outside a request).
pub fn request_id() -> String {
    CTX.try_with(|c| c.request_id.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

/// Records a rate limit for the response headers. A route's own limit
/// (`specific`) wins over the general `requests` limit.
pub fn set_rate(info: RateInfo, specific: bool) {
    let _ = CTX.try_with(|c| {
        let mut slot = c.rate.borrow_mut();
        if specific || !slot.is_some_and(|(_, s)| s) {
            *slot = Some((info, specific));
        }
    });
}

fn valid_request_id(v: &HeaderValue) -> Option<HeaderValue> {
    let s = v.as_bytes();
    (!s.is_empty() && s.len() <= 128 && s.iter().all(u8::is_ascii_graphic)).then(|| v.clone())
}

/// A fresh request id: a UUIDv7 (time-ordered) in simple form. Its random
/// bits come from the thread's userspace generator (seeded from the OS):
/// `Uuid::now_v7` would make a `getrandom` system call for every request.
fn new_request_id() -> HeaderValue {
    let mut random = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut random);
    let mut text = [0u8; uuid::fmt::Simple::LENGTH];
    let text =
        uuid::Builder::from_unix_timestamp_millis(crate::domain::time::now_ms() as u64, &random)
            .into_uuid()
            .simple()
            .encode_lower(&mut text);
    HeaderValue::from_str(text).expect("hex digits are a valid header value")
}

static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// A header value of `n`'s digits, in one allocation: `HeaderValue::from(u64)`
/// takes two (a `BytesMut`, then the shared buffer it freezes into), and the
/// rate-limit headers are on every answer.
fn number(n: u64) -> HeaderValue {
    HeaderValue::from_bytes(itoa::Buffer::new().format(n).as_bytes())
        .expect("digits are a valid header value")
}

/// Whether a request of this method may change something, and so record
/// events: reads skip the origin scope (two allocations a request).
pub fn records_events(method: &axum::http::Method) -> bool {
    !matches!(
        *method,
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    )
}

/// Request id, rate-limit headers, and one structured log line per request;
/// runs the request under the `Idempotency-Key` rules (`idempotency.rs`).
/// Logs carry the route template, never query strings or headers (tokens).
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(valid_request_id)
        .unwrap_or_else(new_request_id);
    let method = req.method().clone();
    // A clone of the route's `Arc<str>`, not a copy of the text.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let started = Instant::now();
    let ctx = RequestCtx {
        request_id: request_id.clone(),
        rate: RefCell::new(None),
    };
    let (mut resp, rate) = CTX
        .scope(ctx, async {
            // NUL cannot be stored by PostgreSQL (SQLite would): refused in
            // the path and the query for every route, the same on both.
            let nul = |s: &str| s.contains("%00");
            let field = if nul(req.uri().path()) {
                Some("path")
            } else if req.uri().query().is_some_and(nul) {
                Some("query")
            } else {
                None
            };
            let resp = if let Some(field) = field {
                crate::http::error::ApiError::param(field, "must not contain NUL (%00)")
                    .into_response()
            } else if records_events(req.method()) {
                // The events this request records carry its id and actor.
                let id = request_id.to_str().unwrap_or_default().to_owned();
                crate::domain::event::with_request(
                    id,
                    super::idempotency::idempotency(&state, req, next),
                )
                .await
            } else {
                super::idempotency::idempotency(&state, req, next).await
            };
            let rate = CTX.with(|c| c.rate.borrow().map(|(r, _)| r));
            (resp, rate)
        })
        .await;
    let h = resp.headers_mut();
    h.insert(&REQUEST_ID, request_id.clone());
    if let Some(r) = rate {
        h.insert(&RATELIMIT_LIMIT, number(r.limit));
        h.insert(&RATELIMIT_REMAINING, number(r.remaining));
        h.insert(&RATELIMIT_RESET, number(r.reset_secs));
        if resp.status().as_u16() == 429 {
            resp.headers_mut()
                .insert("retry-after", number(r.reset_secs.max(1)));
        }
    }
    let status = resp.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    state
        .metrics
        .observe(method.as_str(), route, status, elapsed);
    let latency_ms = elapsed * 1000.0;
    let request_id = request_id.to_str().unwrap_or_default();
    if status >= 500 {
        tracing::error!(%request_id, %method, %route, status, latency_ms, "request failed");
    } else {
        tracing::info!(%request_id, %method, %route, status, latency_ms, "request");
    }
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_are_written_as_their_digits() {
        for n in [0, 7, 59, 100_000_000, u64::MAX] {
            assert_eq!(super::number(n), axum::http::HeaderValue::from(n));
        }
    }

    #[test]
    fn generated_request_ids_are_distinct_version_7_uuids() {
        let (a, b) = (super::new_request_id(), super::new_request_id());
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        assert_ne!(a, b);
        for id in [a, b] {
            let u = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(u.get_version_num(), 7);
            assert_eq!(id.len(), 32);
        }
        // Time-ordered: the millisecond prefix never goes backwards.
        assert!(a[..12] <= b[..12]);
    }
}
