//! Schedules and runs (SPEC §8). A workspace's schedule and runs go through
//! the workspace access check like every workspace route (read: any member;
//! set the schedule, start and cancel runs: admin+). Workers are service
//! tokens with the `runs` scope (or the platform admin); they take runs
//! from every workspace through `/v1/runs/...`, never through a workspace.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Code, Problem};
use super::extract::{
    Access, AdminWrite, AppJson, AppQuery, Caller, IfMatch, OptionalJson, PageQuery, ViewerRead,
};
use super::projects::{created, present};
use super::response::{ListResponse, Versioned};
use crate::app::AppState;
use crate::domain::account::TokenKind;
use crate::domain::ids::RunId;
use crate::domain::run::{self, ImmediateRun, Run, RunStatus};
use crate::domain::schedule::{self, Schedule};
use crate::domain::time::{self, now_ms, MINUTE, SECOND};
use crate::domain::validation::Validator;
use crate::domain::Error;
use crate::store::runs::ScheduleState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_schedule, put_schedule))
        .routes(routes!(list_runs, create_run))
        .routes(routes!(get_run))
        .routes(routes!(cancel_run))
        .routes(routes!(claim_run))
        .routes(routes!(heartbeat_run))
        .routes(routes!(complete_run))
        .routes(routes!(fail_run))
}

fn opt_time(ms: Option<i64>) -> Option<String> {
    ms.map(time::format)
}

#[derive(Serialize, ToSchema)]
pub struct ScheduleResponse {
    /// Five-field cron expression; null when unscheduled.
    pub cron: Option<String>,
    /// IANA time zone the expression is read in (default `UTC`).
    pub timezone: String,
    /// Null when unscheduled.
    pub next_run_at: Option<String>,
    /// When the workspace's latest run was queued; null if never.
    pub last_run_at: Option<String>,
    /// 0 until a schedule is first set.
    pub version: i64,
}

impl From<ScheduleState> for ScheduleResponse {
    fn from(s: ScheduleState) -> Self {
        ScheduleResponse {
            cron: s.cron,
            timezone: s.timezone,
            next_run_at: opt_time(s.next_run_at),
            last_run_at: opt_time(s.last_run_at),
            version: s.version,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutScheduleRequest {
    /// A five-field cron expression (`"0 0 * * *"`), or null to clear.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required)]
    pub cron: Option<Option<String>>,
    /// IANA time zone; `UTC` when absent.
    pub timezone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImmediateRunResponse {
    /// `queued`, `empty` (no providers: nothing to run), `failed` or
    /// `not-requested` (the schedule was cleared).
    pub status: &'static str,
    /// The queued run (with `queued`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Why it failed (with `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<ImmediateRun> for ImmediateRunResponse {
    fn from(r: ImmediateRun) -> Self {
        let (status, run_id) = match r {
            ImmediateRun::Queued(id) => ("queued", Some(id.to_string())),
            ImmediateRun::Empty => ("empty", None),
            ImmediateRun::NotRequested => ("not-requested", None),
        };
        ImmediateRunResponse {
            status,
            run_id,
            error: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PutScheduleResponse {
    pub schedule: ScheduleResponse,
    pub run: ImmediateRunResponse,
}

#[derive(Serialize, ToSchema)]
pub struct RunResponse {
    pub id: String,
    pub workspace_id: String,
    /// `schedule`, `manual` or `schedule_set`.
    pub trigger: &'static str,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: &'static str,
    /// The workspace's providers when the run was queued.
    pub providers: Vec<String>,
    /// How many times a worker has taken it (at most 3).
    pub attempt: i64,
    pub scheduled_for: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    /// The worker's result, once succeeded.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Box<serde_json::value::RawValue>>,
    /// Until when the current worker holds it (while running).
    pub lease_expires_at: Option<String>,
    pub created_at: String,
    pub version: i64,
}

impl From<Run> for RunResponse {
    fn from(r: Run) -> Self {
        RunResponse {
            id: r.id.to_string(),
            workspace_id: r.workspace_id.to_string(),
            trigger: r.trigger.as_str(),
            status: r.status.as_str(),
            providers: r.providers,
            attempt: r.attempt,
            scheduled_for: time::format(r.scheduled_for),
            started_at: opt_time(r.started_at),
            finished_at: opt_time(r.finished_at),
            error: r.error,
            result: r
                .result
                .and_then(|t| serde_json::value::RawValue::from_string(t).ok()),
            lease_expires_at: opt_time(r.lease_expires_at),
            created_at: time::format(r.created_at),
            version: r.version,
        }
    }
}

fn versioned(r: Run) -> Versioned<RunResponse> {
    Versioned::ok(r.version, r.into())
}

/// A `{run}` path segment: not a run id is not found.
fn run_id(raw: &str) -> Result<RunId, ApiError> {
    RunId::parse(raw).ok_or_else(|| Error::NotFound.into())
}

/// The workspace's schedule (any member).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/schedule", tag = "runs",
    params(("workspace" = String, Path, description = "id or slug")),
    responses((status = 200, body = ScheduleResponse), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_schedule(
    State(state): State<AppState>,
    access: Access<ViewerRead>,
) -> Result<Versioned<ScheduleResponse>, ApiError> {
    let s = state.store.schedule(&access.workspace.id).await?;
    Ok(Versioned::ok(s.version, s.into()))
}

/// Sets or clears the schedule (admin+). Setting one queues a run at once
/// (`run.status` `queued` with `run_id`, or `empty` when the workspace has
/// no providers); clearing answers `not-requested`. Expressions firing
/// closer together than the configured minimum (default 5 minutes) are
/// 400 `validation_failed` (`cron`, code `too_frequent`).
#[utoipa::path(put, path = "/v1/workspaces/{workspace}/schedule", tag = "runs",
    params(("workspace" = String, Path, description = "id or slug")), request_body = PutScheduleRequest,
    responses((status = 200, body = PutScheduleResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem)))]
pub async fn put_schedule(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    if_match: IfMatch,
    AppJson(req): AppJson<PutScheduleRequest>,
) -> Result<Response, ApiError> {
    let min_interval = state.config.scheduler.min_interval_minutes * MINUTE;
    let Some(cron) = req.cron else {
        return Err(
            Error::field("cron", "required", "is required (null clears the schedule)").into(),
        );
    };
    // Without `timezone` the store uses UTC: a PUT replaces the schedule.
    let mut v = Validator::new();
    let timezone = v.check_opt(req.timezone, |tz| schedule::parse_timezone(&tz));
    let parsed = cron.and_then(|c| v.check(Schedule::new(&c, min_interval)));
    v.finish()?;
    let (s, immediate) = state
        .store
        .set_schedule(
            &access.workspace.id,
            parsed.as_ref(),
            timezone,
            if_match.0,
            now_ms(),
        )
        .await?;
    let version = s.version;
    let body = PutScheduleResponse {
        schedule: s.into(),
        run: immediate.into(),
    };
    Ok(Versioned::ok(version, body).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// Only runs of this status.
    pub status: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

/// The workspace's runs, newest first (any member).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/runs", tag = "runs",
    params(("workspace" = String, Path, description = "id or slug"), RunsQuery, PageQuery),
    responses((status = 200, body = ListResponse<RunResponse>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn list_runs(
    State(state): State<AppState>,
    access: Access<ViewerRead>,
    AppQuery(q): AppQuery<RunsQuery>,
) -> Result<ListResponse<RunResponse>, ApiError> {
    let page = q.page.page()?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(RunStatus::parse(s).ok_or_else(|| {
            ApiError::param(
                "status",
                "must be queued, running, succeeded, failed or cancelled",
            )
        })?),
    };
    let result = state
        .store
        .list_runs(&access.workspace.id, status, &page)
        .await?;
    Ok(ListResponse::from_page(result, RunResponse::from))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRunRequest {}

/// Queues a manual run (admin+), with the workspace's providers; a
/// workspace without providers has nothing to run (409 `conflict`). The
/// body is optional.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/runs", tag = "runs",
    params(("workspace" = String, Path, description = "id or slug")), request_body = Option<CreateRunRequest>,
    responses((status = 201, body = RunResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create_run(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    OptionalJson(CreateRunRequest {}): OptionalJson<CreateRunRequest>,
) -> Result<Response, ApiError> {
    let r = state
        .store
        .create_manual_run(&access.workspace.id, now_ms())
        .await?;
    let location = format!("/v1/workspaces/{}/runs/{}", access.workspace.id, r.id);
    Ok(created(location, r.version, RunResponse::from(r)))
}

/// One run (any member).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/runs/{run}", tag = "runs",
    params(("workspace" = String, Path, description = "id or slug"), ("run" = String, Path)),
    responses((status = 200, body = RunResponse), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_run(
    State(state): State<AppState>,
    access: Access<ViewerRead>,
    Path(path): Path<(String, String)>,
) -> Result<Versioned<RunResponse>, ApiError> {
    let id = run_id(&path.1)?;
    let r = state.store.run(&access.workspace.id, id.as_str()).await?;
    Ok(versioned(r))
}

/// Cancels a queued or running run (admin+); a worker holding it learns
/// from its next heartbeat (409). A finished run is 409 `conflict`.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/runs/{run}/cancel", tag = "runs",
    params(("workspace" = String, Path, description = "id or slug"), ("run" = String, Path)),
    responses((status = 200, body = RunResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn cancel_run(
    State(state): State<AppState>,
    access: Access<AdminWrite>,
    Path(path): Path<(String, String)>,
    if_match: IfMatch,
) -> Result<Versioned<RunResponse>, ApiError> {
    let id = run_id(&path.1)?;
    let r = state
        .store
        .cancel_run(&access.workspace.id, id.as_str(), if_match.0, now_ms())
        .await?;
    Ok(versioned(r))
}

/// A worker: a service token with the `runs` scope, or the platform admin;
/// anyone else is 403 (the routes are not secret). Taking this extractor is
/// how a worker route checks it, as `Access` is for workspace routes.
pub struct Worker(pub Caller);

impl FromRequestParts<AppState> for Worker {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let scoped = caller.kind == TokenKind::Service && caller.scopes.iter().any(|s| s == "runs");
        if scoped || caller.is_platform_admin() {
            Ok(Worker(caller))
        } else {
            Err(ApiError::new(
                Code::Forbidden,
                "Only a service token with the runs scope may take runs.",
            ))
        }
    }
}

fn lease_ms(seconds: Option<i64>) -> Result<i64, ApiError> {
    run::lease_seconds(seconds)
        .map(|s| s * SECOND)
        .map_err(|e| Error::Validation(vec![e]).into())
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseRequest {
    /// How long the worker holds the run before it goes back to the queue:
    /// 1-3600 seconds, default 60.
    pub lease_seconds: Option<i64>,
}

/// Takes the oldest due queued run (workers): it is now `running`, its
/// `attempt` counted, held for `lease_seconds`. 204 when the queue is
/// empty. No run is handed to two workers.
#[utoipa::path(post, path = "/v1/runs/claim", tag = "runs", request_body = Option<LeaseRequest>,
    responses((status = 200, body = RunResponse), (status = 204, description = "Nothing to run"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn claim_run(
    State(state): State<AppState>,
    Worker(caller): Worker,
    OptionalJson(req): OptionalJson<LeaseRequest>,
) -> Result<Response, ApiError> {
    let lease = lease_ms(req.lease_seconds)?;
    match state
        .store
        .claim_run(&caller.token_id, lease, now_ms())
        .await?
    {
        Some(r) => Ok(versioned(r).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// 1-3600 seconds from now, default 60.
    pub lease_seconds: Option<i64>,
    /// The attempt the worker claimed (its `attempt`): when given, a
    /// report about a later attempt is refused (409).
    pub attempt: Option<i64>,
}

/// Extends the lease of a run this worker holds (by `lease_seconds`,
/// default 60, from now). 409 `conflict` when it no longer holds it
/// (cancelled, finished, or taken back after the lease lapsed).
#[utoipa::path(post, path = "/v1/runs/{run}/heartbeat", tag = "runs",
    params(("run" = String, Path)), request_body = Option<HeartbeatRequest>,
    responses((status = 200, body = RunResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn heartbeat_run(
    State(state): State<AppState>,
    Worker(caller): Worker,
    Path(run): Path<String>,
    OptionalJson(req): OptionalJson<HeartbeatRequest>,
) -> Result<Versioned<RunResponse>, ApiError> {
    let id = run_id(&run)?;
    let lease = lease_ms(req.lease_seconds)?;
    let r = state
        .store
        .heartbeat_run(id.as_str(), &caller.token_id, req.attempt, lease, now_ms())
        .await?;
    Ok(versioned(r))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// What the run produced: an object of at most 64 KiB.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Map<String, Value>>,
    /// The attempt the worker claimed; see heartbeat.
    pub attempt: Option<i64>,
}

/// Marks a run this worker holds `succeeded`, with its `result`.
#[utoipa::path(post, path = "/v1/runs/{run}/complete", tag = "runs",
    params(("run" = String, Path)), request_body = Option<CompleteRequest>,
    responses((status = 200, body = RunResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn complete_run(
    State(state): State<AppState>,
    Worker(caller): Worker,
    Path(run): Path<String>,
    OptionalJson(req): OptionalJson<CompleteRequest>,
) -> Result<Versioned<RunResponse>, ApiError> {
    let id = run_id(&run)?;
    let result = run::result_text(&Value::Object(req.result.unwrap_or_default()))
        .map_err(|e| Error::Validation(vec![e]))?;
    let r = state
        .store
        .finish_run(
            id.as_str(),
            &caller.token_id,
            req.attempt,
            Ok(result),
            now_ms(),
        )
        .await?;
    Ok(versioned(r))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    /// What went wrong: 1-2000 characters.
    pub error: String,
    /// Queue it again (while attempts remain: 3 in all). Default false.
    #[serde(default)]
    pub retry: bool,
    /// The attempt the worker claimed; see heartbeat.
    pub attempt: Option<i64>,
}

/// Reports a failure of a run this worker holds: with `retry` and attempts
/// left it goes back to the queue, else it is `failed`.
#[utoipa::path(post, path = "/v1/runs/{run}/fail", tag = "runs",
    params(("run" = String, Path)), request_body = FailRequest,
    responses((status = 200, body = RunResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn fail_run(
    State(state): State<AppState>,
    Worker(caller): Worker,
    Path(run): Path<String>,
    AppJson(req): AppJson<FailRequest>,
) -> Result<Versioned<RunResponse>, ApiError> {
    let id = run_id(&run)?;
    let mut v = Validator::new();
    let error = v.check(run::error_text(&req.error));
    v.finish()?;
    let r = state
        .store
        .finish_run(
            id.as_str(),
            &caller.token_id,
            req.attempt,
            Err((error.expect("checked"), req.retry)),
            now_ms(),
        )
        .await?;
    Ok(versioned(r))
}
