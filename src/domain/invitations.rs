//! Invitation rules (SPEC §5): statuses, expiry bounds.

use super::ids::{InvitationId, WorkspaceId};
use super::roles::Role;
use super::time::{Millis, DAY};
use super::validation::FieldError;

pub const DEFAULT_DAYS: i64 = 7;
pub const MAX_DAYS: i64 = 30;
/// Rows of one bulk request.
pub const MAX_BULK: usize = 50;

/// What clients see. `Expired` is computed: a pending invitation past its
/// `expires_at`. A replaced invitation is stored as `Revoked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Accepted,
    Declined,
    Revoked,
    Expired,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Accepted,
        Status::Declined,
        Status::Revoked,
        Status::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Accepted => "accepted",
            Status::Declined => "declined",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The status as stored plus the clock.
    pub fn effective(stored: &str, expires_at: Millis, now: Millis) -> Status {
        match Status::parse(stored) {
            Some(Status::Pending) if expires_at <= now => Status::Expired,
            Some(s) => s,
            None => Status::Revoked,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: InvitationId,
    pub workspace_id: WorkspaceId,
    pub email: String,
    pub role: Role,
    pub status: Status,
    pub invited_by: Option<String>,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub responded_at: Option<Millis>,
    /// Only right after creation or resend: shown once.
    pub token: Option<String>,
}

/// `expires_in_days`: 1 to 30, default 7. Returns milliseconds.
pub fn lifetime(field: &str, days: Option<i64>) -> Result<Millis, FieldError> {
    match days {
        None => Ok(DEFAULT_DAYS * DAY),
        Some(d) if (1..=MAX_DAYS).contains(&d) => Ok(d * DAY),
        Some(_) => Err(FieldError::new(
            field,
            "out_of_range",
            "must be from 1 to 30 days",
        )),
    }
}

/// Why a token cannot be used.
pub fn unusable(status: Status) -> Option<super::Error> {
    match status {
        Status::Pending => None,
        Status::Revoked => Some(super::Error::NotFound),
        Status::Accepted | Status::Declined | Status::Expired => Some(super::Error::Gone(format!(
            "The invitation is {}.",
            status.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_bounded() {
        assert_eq!(lifetime("d", None).unwrap(), 7 * DAY);
        assert!(lifetime("d", Some(0)).is_err());
        assert!(lifetime("d", Some(31)).is_err());
        assert_eq!(lifetime("d", Some(30)).unwrap(), 30 * DAY);
    }

    #[test]
    fn pending_past_expiry_is_expired() {
        assert_eq!(Status::effective("pending", 10, 10), Status::Expired);
        assert_eq!(Status::effective("pending", 11, 10), Status::Pending);
        assert_eq!(Status::effective("accepted", 1, 10), Status::Accepted);
    }
}
