//! Runs (SPEC §8): what a schedule, a manual request or a schedule change
//! queues, and the life of a run as workers take it.
//!
//! ```text
//! queued ──claim──▶ running ──complete──▶ succeeded
//!   ▲                  │ ──fail (no retry, or 3rd attempt)──▶ failed
//!   └──fail (retry) / lease lapsed (attempt < 3)──┘
//! queued | running ──cancel──▶ cancelled
//! ```

use super::ids::{RunId, TokenId, WorkspaceId};
use super::time::Millis;
use super::validation::FieldError;

/// A run is handed out at most this many times; the lease lapsing on the
/// last attempt fails it.
pub const MAX_ATTEMPTS: i64 = 3;

/// `lease_seconds` when a worker does not say: a minute.
pub const DEFAULT_LEASE_SECONDS: i64 = 60;
pub const MAX_LEASE_SECONDS: i64 = 3_600;

/// `result` of a completed run, once serialized.
pub const MAX_RESULT_BYTES: usize = 64 * 1024;
pub const MAX_ERROR_CHARS: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Manual,
    ScheduleSet,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::ScheduleSet => "schedule_set",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "schedule" => Trigger::Schedule,
            "manual" => Trigger::Manual,
            "schedule_set" => Trigger::ScheduleSet,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Succeeded, failed and cancelled runs never change again.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

#[derive(Debug, Clone)]
pub struct Run {
    pub id: RunId,
    pub workspace_id: WorkspaceId,
    pub trigger: Trigger,
    pub status: RunStatus,
    /// The workspace's providers when the run was queued.
    pub providers: Vec<String>,
    /// How many times a worker has taken it.
    pub attempt: i64,
    pub scheduled_for: Millis,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    pub error: Option<String>,
    /// The worker's `result` (JSON text), once succeeded.
    pub result: Option<String>,
    /// Until when the current worker holds it (running only).
    pub lease_expires_at: Option<Millis>,
    /// The service token that holds it (running only).
    pub worker: Option<TokenId>,
    pub created_at: Millis,
    pub version: i64,
}

/// What setting a schedule did about its immediate run.
#[derive(Debug, Clone)]
pub enum ImmediateRun {
    Queued(RunId),
    /// The workspace has no providers: nothing to run.
    Empty,
    /// The schedule was cleared (`cron: null`).
    NotRequested,
}

/// `lease_seconds`: 1 to 3,600; a minute when absent.
pub fn lease_seconds(v: Option<i64>) -> Result<i64, FieldError> {
    match v {
        None => Ok(DEFAULT_LEASE_SECONDS),
        Some(s) if (1..=MAX_LEASE_SECONDS).contains(&s) => Ok(s),
        Some(_) => Err(FieldError::new(
            "lease_seconds",
            "out_of_range",
            format!("must be between 1 and {MAX_LEASE_SECONDS}"),
        )),
    }
}

/// The `error` a worker reports: 1 to 2,000 characters, line breaks
/// allowed (a stack trace's first lines).
pub fn error_text(raw: &str) -> Result<String, FieldError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(FieldError::new("error", "required", "must not be empty"));
    }
    if s.chars().count() > MAX_ERROR_CHARS {
        return Err(FieldError::new(
            "error",
            "too_long",
            format!("must be at most {MAX_ERROR_CHARS} characters"),
        ));
    }
    Ok(s.to_owned())
}

/// The `result` a worker reports: any JSON value up to 64 KiB.
pub fn result_text(value: &serde_json::Value) -> Result<String, FieldError> {
    let text = value.to_string();
    if text.len() > MAX_RESULT_BYTES {
        return Err(FieldError::new(
            "result",
            "too_large",
            format!(
                "must be at most {} KiB once serialized",
                MAX_RESULT_BYTES / 1024
            ),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_triggers_round_trip() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        for t in [Trigger::Schedule, Trigger::Manual, Trigger::ScheduleSet] {
            assert_eq!(Trigger::parse(t.as_str()), Some(t));
        }
        assert!(RunStatus::Cancelled.is_finished() && !RunStatus::Running.is_finished());
    }

    #[test]
    fn leases_are_bounded() {
        assert_eq!(lease_seconds(None).unwrap(), 60);
        assert_eq!(lease_seconds(Some(1)).unwrap(), 1);
        assert!(lease_seconds(Some(0)).is_err());
        assert!(lease_seconds(Some(3_601)).is_err());
    }
}
