//! What the domain and the store can refuse. The HTTP layer maps each variant
//! once to a status and a stable `code` (`http/error.rs`).

use super::validation::FieldError;

/// Rate-limit state for the headers of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window resets.
    pub reset_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A query parameter the store can only judge with the data at hand (a
    /// cursor of another list or sort order): 400 `invalid_parameter`.
    #[error("invalid parameter")]
    InvalidParameter(Vec<FieldError>),
    #[error("authentication required")]
    Unauthenticated,
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("only an owner may do this")]
    NeedsOwner,
    #[error("slug {0} is taken")]
    SlugTaken(String),
    #[error("the last owner cannot be removed or demoted")]
    LastOwner(Vec<String>),
    #[error("already a member")]
    AlreadyMember,
    #[error("no user with that email")]
    UserNotFound,
    #[error("workspace is archived")]
    WorkspaceArchived,
    #[error("conflict: {0}")]
    Conflict(String),
    /// A unique value (other than a slug) is in use: 409 `conflict`.
    #[error("{} is taken", .0.field)]
    Taken(FieldError),
    #[error("gone")]
    Gone(String),
    #[error("version mismatch")]
    VersionMismatch,
    #[error("rate limited")]
    RateLimited(RateInfo),
    #[error("plan limit reached: {0}")]
    PlanLimit(String),
    #[error("owned workspace limit reached")]
    OwnedWorkspaceLimit,
    #[error("cannot delete the last workspace")]
    LastWorkspace,
    #[error("organization is not empty")]
    OrganizationNotEmpty,
    /// The database aborted the transaction for a concurrent one (a
    /// deadlock, a serialization failure, a lock held too long): nothing
    /// was written; retry.
    #[error("busy: retry")]
    Busy,
    #[error("internal error: {0}")]
    Internal(String),
}

/// `If-Match` (SPEC §1): with a tag, the resource must be at that version
/// (412 `version_mismatch` otherwise); without one, any version.
pub fn check_version(if_match: Option<i64>, current: i64) -> Result<(), Error> {
    match if_match {
        Some(v) if v != current => Err(Error::VersionMismatch),
        _ => Ok(()),
    }
}

impl Error {
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn param(field: &str, code: &str, message: impl Into<String>) -> Self {
        Error::InvalidParameter(vec![FieldError::new(field, code, message)])
    }
}

impl From<crate::store::db::DbError> for Error {
    fn from(e: crate::store::db::DbError) -> Self {
        match e {
            // A deadlock or serialization failure (PostgreSQL) or a busy
            // database (SQLite shared by another process): nothing was
            // written, the client may simply retry (503 `busy`).
            crate::store::db::DbError::Retry => Error::Busy,
            e => Error::Internal(e.to_string()),
        }
    }
}
