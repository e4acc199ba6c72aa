//! Problem+json (RFC 9457) errors: one table of code -> status -> title, and
//! the single mapping from domain errors to it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::context;
use crate::domain::error::RateInfo;
use crate::domain::validation::FieldError;
use crate::domain::Error;

macro_rules! codes {
    ($($variant:ident => ($status:literal, $code:literal, $title:literal)),+ $(,)?) => {
        /// Every `code` a client can receive.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code { $($variant),+ }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            pub fn status(self) -> StatusCode {
                match self { $(Code::$variant => StatusCode::from_u16($status).expect("valid status")),+ }
            }
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code),+ }
            }
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title),+ }
            }
        }
    };
}

codes! {
    InvalidJson => (400, "invalid_json", "Malformed JSON"),
    ValidationFailed => (400, "validation_failed", "Validation failed"),
    UnknownField => (400, "unknown_field", "Unknown field"),
    InvalidParameter => (400, "invalid_parameter", "Invalid query parameter"),
    LastWorkspace => (400, "last_workspace", "Cannot delete the last workspace"),
    Unauthenticated => (401, "unauthenticated", "Authentication required"),
    Forbidden => (403, "forbidden", "Forbidden"),
    NeedsOwner => (403, "needs_owner", "Only an owner may do this"),
    PlanLimit => (403, "plan_limit", "Plan limit reached"),
    OwnedWorkspaceLimit => (403, "owned_workspace_limit", "Owned workspace limit reached"),
    NotFound => (404, "not_found", "Not found"),
    UserNotFound => (404, "user_not_found", "User not found"),
    MethodNotAllowed => (405, "method_not_allowed", "Method not allowed"),
    SlugTaken => (409, "slug_taken", "Slug already taken"),
    LastOwner => (409, "last_owner", "Last owner"),
    AlreadyMember => (409, "already_member", "Already a member"),
    WorkspaceArchived => (409, "workspace_archived", "Workspace is archived"),
    OrganizationNotEmpty => (409, "organization_not_empty", "Organization is not empty"),
    Conflict => (409, "conflict", "Conflict"),
    Gone => (410, "gone", "Gone"),
    VersionMismatch => (412, "version_mismatch", "Version mismatch"),
    IdempotencyKeyInUse => (409, "idempotency_key_in_use", "Idempotency key in use"),
    PayloadTooLarge => (413, "payload_too_large", "Payload too large"),
    UnsupportedMediaType => (415, "unsupported_media_type", "Unsupported media type"),
    IdempotencyKeyReused => (422, "idempotency_key_reused", "Idempotency key reused"),
    RateLimited => (429, "rate_limited", "Too many requests"),
    Internal => (500, "internal", "Internal error"),
    Busy => (503, "busy", "Busy; retry"),
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Extra members of the problem object (e.g. `workspaces` for last_owner).
    pub extra: Option<(&'static str, serde_json::Value)>,
    pub rate: Option<RateInfo>,
}

impl ApiError {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            extra: None,
            rate: None,
        }
    }

    pub fn with_errors(code: Code, detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        ApiError {
            errors,
            ..ApiError::new(code, detail)
        }
    }

    pub fn param(field: &str, message: &str) -> Self {
        ApiError::with_errors(
            Code::InvalidParameter,
            format!("Query parameter '{field}' {message}."),
            vec![FieldError::new(field, "invalid", message)],
        )
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Absent for the default `about:blank`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub status: u16,
    /// Stable, machine-readable error code (see docs/errors.md).
    pub code: String,
    pub title: String,
    pub detail: String,
    /// Every invalid field, when the error is about fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    pub request_id: String,
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Validation(errors) => {
                let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
                let detail = format!("Invalid fields: {}.", names.join(", "));
                ApiError::with_errors(Code::ValidationFailed, detail, errors)
            }
            Error::InvalidParameter(errors) => super::extract::invalid_parameters(errors),
            Error::Unauthenticated => {
                ApiError::new(Code::Unauthenticated, "A valid bearer token is required.")
            }
            Error::NotFound => ApiError::new(
                Code::NotFound,
                "The resource does not exist or you cannot see it.",
            ),
            Error::Forbidden(why) => ApiError::new(Code::Forbidden, why),
            Error::NeedsOwner => ApiError::new(
                Code::NeedsOwner,
                "Only an owner of the workspace may do this.",
            ),
            Error::SlugTaken(slug) => ApiError::with_errors(
                Code::SlugTaken,
                format!("The slug '{slug}' is already in use."),
                vec![FieldError::new("slug", "taken", "already in use")],
            ),
            Error::LastOwner(workspaces) => ApiError {
                extra: (!workspaces.is_empty())
                    .then(|| ("workspaces", serde_json::json!(workspaces))),
                ..ApiError::new(Code::LastOwner, "A workspace must keep at least one owner.")
            },
            Error::AlreadyMember => {
                ApiError::new(Code::AlreadyMember, "The user is already a member.")
            }
            Error::UserNotFound => ApiError::new(
                Code::UserNotFound,
                "No user has that email; send an invitation.",
            ),
            Error::WorkspaceArchived => ApiError::new(
                Code::WorkspaceArchived,
                "The workspace is archived and read-only; unarchive it first.",
            ),
            Error::Conflict(why) => ApiError::new(Code::Conflict, why),
            Error::Taken(field) => ApiError::with_errors(
                Code::Conflict,
                format!("The {} is already in use.", field.field),
                vec![field],
            ),
            Error::Gone(why) => ApiError::new(Code::Gone, why),
            Error::VersionMismatch => ApiError::new(
                Code::VersionMismatch,
                "If-Match does not match the current version.",
            ),
            Error::RateLimited(info) => ApiError {
                rate: Some(info),
                ..ApiError::new(
                    Code::RateLimited,
                    format!("Rate limit exceeded; retry in {} seconds.", info.reset_secs),
                )
            },
            Error::PlanLimit(what) => ApiError::new(
                Code::PlanLimit,
                format!("The workspace's plan allows no more {what}."),
            ),
            Error::OwnedWorkspaceLimit => ApiError::new(
                Code::OwnedWorkspaceLimit,
                "You own as many workspaces as the policy allows.",
            ),
            Error::LastWorkspace => ApiError::new(
                Code::LastWorkspace,
                "You cannot delete your last workspace.",
            ),
            Error::OrganizationNotEmpty => ApiError::new(
                Code::OrganizationNotEmpty,
                "Move or delete the organization's workspaces first.",
            ),
            Error::Busy => ApiError::new(
                Code::Busy,
                "The request met a concurrent change and was not applied; retry it.",
            ),
            Error::Internal(cause) => {
                // Logged once here with its cause; the client sees nothing of it.
                tracing::error!(error = %cause, "internal error");
                ApiError::new(
                    Code::Internal,
                    "Internal error; quote the request id when reporting it.",
                )
            }
        }
    }
}

impl From<crate::store::db::DbError> for ApiError {
    fn from(e: crate::store::db::DbError) -> Self {
        Error::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let mut body = serde_json::to_value(Problem {
            kind: None,
            status: status.as_u16(),
            code: self.code.as_str().to_owned(),
            title: self.code.title().to_owned(),
            detail: self.detail,
            errors: self.errors,
            request_id: context::request_id(),
        })
        .expect("problem serializes");
        if let (Some((k, v)), Some(obj)) = (self.extra, body.as_object_mut()) {
            obj.insert(k.to_owned(), v);
        }
        if let Some(info) = self.rate {
            context::set_rate(info, true);
        }
        let mut resp = (status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.code == Code::Unauthenticated {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.code == Code::Busy {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
            assert!(c.status().is_client_error() || c.status().is_server_error());
        }
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e: ApiError = Error::Internal("relation \"users\" does not exist".into()).into();
        assert_eq!(e.code, Code::Internal);
        assert!(!e.detail.contains("users"));
    }

    #[test]
    fn a_concurrency_failure_is_a_retryable_503_not_a_500() {
        let e: ApiError = crate::store::db::DbError::Retry.into();
        assert_eq!(e.code, Code::Busy);
        assert_eq!(e.code.status(), StatusCode::SERVICE_UNAVAILABLE);
        let resp = e.into_response();
        assert_eq!(resp.headers()["retry-after"], "1");
        let e: ApiError = crate::store::db::DbError::Decode(3).into();
        assert_eq!(e.code, Code::Internal);
    }
}
