//! Response shapes shared by every resource: list envelopes and ETags.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::pagination::Page;

/// `{"data": [...], "meta": {...}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ListResponse<T> {
    pub data: Vec<T>,
    pub meta: ListMeta,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ListMeta {
    pub limit: i64,
    pub has_more: bool,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// Only with `include_total=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

impl<T> ListResponse<T> {
    pub fn from_page<U>(page: Page<U>, f: impl FnMut(U) -> T) -> Self {
        ListResponse {
            data: page.items.into_iter().map(f).collect(),
            meta: ListMeta {
                limit: page.limit,
                has_more: page.has_more,
                next_cursor: page.next_cursor,
                total: page.total,
            },
        }
    }
}

impl<T: Serialize> IntoResponse for ListResponse<T> {
    fn into_response(self) -> Response {
        json(StatusCode::OK, &self, 1024 * (self.data.len() + 1))
    }
}

/// Serializes (with [`super::json`]) into a buffer sized for the body at
/// once (`axum::Json` starts at 128 bytes and regrows several times for a
/// workspace).
pub fn json<T: Serialize>(status: StatusCode, body: &T, capacity: usize) -> Response {
    match super::json::to_vec(body, capacity) {
        Ok(buf) => {
            let mut resp = Response::new(Body::from(buf));
            *resp.status_mut() = status;
            let headers = resp.headers_mut();
            // Room for what every answer gets (content type, ETag, request
            // id, three rate-limit headers) without growing the map twice.
            headers.reserve(8);
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "response did not serialize");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A single resource with its strong `ETag: "<version>"`.
pub struct Versioned<T> {
    pub status: StatusCode,
    pub version: i64,
    pub body: T,
}

impl<T> Versioned<T> {
    pub fn ok(version: i64, body: T) -> Self {
        Versioned {
            status: StatusCode::OK,
            version,
            body,
        }
    }
    pub fn created(version: i64, body: T) -> Self {
        Versioned {
            status: StatusCode::CREATED,
            version,
            body,
        }
    }
}

impl<T: Serialize> IntoResponse for Versioned<T> {
    fn into_response(self) -> Response {
        let mut resp = json(self.status, &self.body, 1024);
        resp.headers_mut()
            .insert(header::ETAG, strong_etag(self.version));
        resp
    }
}

/// `"<version>"`, written with `itoa` into a buffer on the stack (`format!`
/// cost ~470 instructions of every point read: the formatting machinery
/// and a `String`, then the header value's own copy).
fn strong_etag(version: i64) -> HeaderValue {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(version).as_bytes();
    let mut tag = [b'"'; 22]; // a quote, at most 20 characters, a quote
    tag[1..=digits.len()].copy_from_slice(digits);
    HeaderValue::from_bytes(&tag[..digits.len() + 2]).expect("digits and quotes are visible ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_quote_the_version_as_format_does() {
        for v in [0, 1, 42, 1_000_000, i64::MAX, i64::MIN] {
            assert_eq!(strong_etag(v), format!("\"{v}\"").as_str());
        }
    }
}
