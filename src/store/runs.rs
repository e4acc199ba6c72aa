//! Schedules and runs (SPEC §8). Every rule that must hold across replicas
//! is decided by the database:
//!
//! - one run per due tick: the scheduler claims a tick by moving the
//!   schedule's `next_run_at` forward with a compare-and-set
//!   (`UPDATE ... WHERE next_run_at = <the tick it read>`); of several
//!   replicas reading the same due row, one updates it, the others update
//!   nothing and enqueue nothing. A tick missed while everything was down is
//!   enqueued once: the next time is computed from now, not from the tick.
//! - one worker per run: a claim takes the oldest queued run and marks it
//!   running in one transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
//!   so concurrent claims take different runs; SQLite's single writer runs
//!   claims one after another).
//! - leases: a running run whose lease has lapsed goes back to the queue,
//!   or fails on its last attempt, whenever a claim or the scheduler looks.

use super::db::{Row, Tx};
use super::events::record;
use super::lists::{page_newest_first, NewestFirst};
use super::Store;
use crate::domain::error::check_version;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::{RunId, TokenId, WorkspaceId};
use crate::domain::pagination::{Page, PageRequest};
use crate::domain::run::{ImmediateRun, Run, RunStatus, Trigger, MAX_ATTEMPTS};
use crate::domain::schedule::{parse_timezone, Schedule};
use crate::domain::time::Millis;
use crate::domain::Error;
use crate::params;
use chrono_tz::Tz;
use serde_json::Value as Json;

const COLS: &str = "id, workspace_id, trigger, status, providers, attempt, scheduled_for, \
     started_at, finished_at, error, result, lease_expires_at, worker_token_id, created_at, version";

fn run_from(r: &Row) -> Result<Run, Error> {
    let decode = |i| super::db::DbError::Decode(i);
    Ok(Run {
        id: RunId::from_db(r.text(0)?),
        workspace_id: WorkspaceId::from_db(r.text(1)?),
        trigger: Trigger::parse(r.str(2)?).ok_or(decode(2))?,
        status: RunStatus::parse(r.str(3)?).ok_or(decode(3))?,
        providers: serde_json::from_str(r.str(4)?).map_err(|_| decode(4))?,
        attempt: r.int(5)?,
        scheduled_for: r.int(6)?,
        started_at: r.opt_int(7)?,
        finished_at: r.opt_int(8)?,
        error: r.opt_text(9)?,
        result: r.opt_text(10)?,
        lease_expires_at: r.opt_int(11)?,
        worker: r.opt_text(12)?.map(TokenId::from_db),
        created_at: r.int(13)?,
        version: r.int(14)?,
    })
}

/// A workspace's schedule as stored, with its latest run's time.
#[derive(Debug, Clone)]
pub struct ScheduleState {
    pub cron: Option<String>,
    pub timezone: String,
    pub next_run_at: Option<Millis>,
    /// When the workspace's latest run (of any trigger) was queued.
    pub last_run_at: Option<Millis>,
    /// 0 until a schedule is first set.
    pub version: i64,
}

/// A worker's report is taken only from the worker holding the run: the
/// same token, and (when the worker says) the same attempt, so a worker
/// whose lease lapsed cannot report on the run's next attempt even when
/// workers share a token.
fn check_held(run: &Run, worker: &TokenId, attempt: Option<i64>) -> Result<(), Error> {
    if run.status == RunStatus::Running
        && run.worker.as_ref() == Some(worker)
        && attempt.is_none_or(|a| a == run.attempt)
    {
        return Ok(());
    }
    Err(not_held(run, worker))
}

/// Why a worker's report was refused.
fn not_held(run: &Run, worker: &TokenId) -> Error {
    if run.status != RunStatus::Running {
        Error::Conflict(format!("The run is {}, not running.", run.status.as_str()))
    } else if run.worker.as_ref() != Some(worker) {
        Error::Conflict("The run is held by another worker.".into())
    } else {
        Error::Conflict(format!(
            "The run was handed out again since: it is on attempt {}.",
            run.attempt
        ))
    }
}

async fn locked_run(tx: &mut Tx, id: &str) -> Result<Run, Error> {
    let sql = format!("SELECT {COLS} FROM runs WHERE id = $1{}", tx.for_update());
    let row = tx
        .fetch_optional(&sql, params![id])
        .await?
        .ok_or(Error::NotFound)?;
    run_from(&row)
}

/// The workspace's providers, its row locked (so a providers change cannot
/// slip between reading them and queueing the run), and whether it is
/// deleted.
async fn locked_providers(tx: &mut Tx, ws: &WorkspaceId) -> Result<(Vec<String>, bool), Error> {
    let row = tx
        .fetch_optional(
            &format!(
                "SELECT providers, status FROM workspaces WHERE id = $1{}",
                tx.for_update()
            ),
            params![ws],
        )
        .await?
        .ok_or(Error::NotFound)?;
    let providers = serde_json::from_str(row.str(0)?).unwrap_or_default();
    Ok((providers, row.str(1)? == "deleted"))
}

async fn insert_run(
    tx: &mut Tx,
    ws: &WorkspaceId,
    trigger: Trigger,
    providers: &[String],
    scheduled_for: Millis,
    now: Millis,
) -> Result<Run, Error> {
    let run = Run {
        id: RunId::new(),
        workspace_id: ws.clone(),
        trigger,
        status: RunStatus::Queued,
        providers: providers.to_vec(),
        attempt: 0,
        scheduled_for,
        started_at: None,
        finished_at: None,
        error: None,
        result: None,
        lease_expires_at: None,
        worker: None,
        created_at: now,
        version: 1,
    };
    tx.execute(
        "INSERT INTO runs (id, workspace_id, trigger, status, providers, attempt, scheduled_for, created_at, version)
         VALUES ($1, $2, $3, 'queued', $4, 0, $5, $6, 1)",
        params![
            &run.id,
            ws,
            trigger.as_str(),
            serde_json::to_string(providers).expect("strings serialize"),
            scheduled_for,
            now
        ],
    )
    .await?;
    let changes = Changes::new().field("status", Json::Null, "queued");
    record(tx, run_event("run.queued", &run, changes)).await?;
    Ok(run)
}

/// A change of a run, to record.
fn run_event(kind: &'static str, run: &Run, changes: Changes) -> NewEvent {
    NewEvent::in_workspace(kind, &run.workspace_id, "run", run.id.as_str()).with_changes(changes)
}

/// Leases that lapsed by `now`: back to the queue, or failed on the last
/// attempt, each with its event, the system's (whoever's request noticed
/// the lapse). Returns how many runs moved.
async fn take_back_lapsed(tx: &mut Tx, now: Millis) -> Result<usize, Error> {
    // PostgreSQL: rows another claim or tick is taking back are skipped,
    // not waited for (that one records them).
    let lock = match tx.backend() {
        super::db::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        super::db::Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT {COLS} FROM runs WHERE status = 'running' AND lease_expires_at <= $1 ORDER BY id{lock}"
    );
    let lapsed = tx.fetch_all(&sql, params![now]).await?;
    for row in &lapsed {
        let run = run_from(row)?;
        let changes = Changes::new();
        if run.attempt < MAX_ATTEMPTS {
            tx.execute(
                "UPDATE runs SET status = 'queued', started_at = NULL, lease_expires_at = NULL,
                     worker_token_id = NULL, version = version + 1 WHERE id = $1",
                params![&run.id],
            )
            .await?;
            let changes = changes.field("status", "running", "queued");
            record(tx, run_event("run.queued", &run, changes).by_system()).await?;
        } else {
            tx.execute(
                "UPDATE runs SET status = 'failed', finished_at = $2, lease_expires_at = NULL,
                     error = 'The lease lapsed on the last attempt.', version = version + 1
                 WHERE id = $1",
                params![&run.id, now],
            )
            .await?;
            let changes = changes.field("status", "running", "failed");
            record(tx, run_event("run.failed", &run, changes).by_system()).await?;
        }
    }
    Ok(lapsed.len())
}

/// When workspace `$1`'s latest run was queued (`last_run_at`): the top of
/// `runs_ws_created_idx`.
const LAST_RUN_AT: &str = "(SELECT MAX(created_at) FROM runs WHERE workspace_id = $1)";

impl Store {
    /// The schedule and `last_run_at`, in one read (a workspace that never
    /// set a schedule has no row: the outer join answers its defaults).
    pub async fn schedule(&self, ws: &WorkspaceId) -> Result<ScheduleState, Error> {
        let r = self
            .db
            .fetch_all(
                &format!(
                    "SELECT s.cron, COALESCE(s.timezone, 'UTC'), s.next_run_at, COALESCE(s.version, 0),
                         {LAST_RUN_AT}
                     FROM (SELECT 1 AS one) o LEFT JOIN schedules s ON s.workspace_id = $1"
                ),
                params![ws],
            )
            .await?;
        let r = r.first().ok_or(Error::NotFound)?;
        Ok(ScheduleState {
            cron: r.opt_text(0)?,
            timezone: r.text(1)?,
            next_run_at: r.opt_int(2)?,
            last_run_at: r.opt_int(4)?,
            version: r.int(3)?,
        })
    }

    /// Sets (`Some`) or clears (`None`) the schedule. Setting one queues a
    /// run at once, in the same transaction (so the answer's run exists
    /// exactly when the schedule does). Without `timezone`, the one already
    /// set is kept (UTC at first), read under the schedule's lock.
    pub async fn set_schedule(
        &self,
        ws: &WorkspaceId,
        schedule: Option<&Schedule>,
        timezone: Option<Tz>,
        if_match: Option<i64>,
        now: Millis,
    ) -> Result<(ScheduleState, ImmediateRun), Error> {
        let mut tx = self.db.begin().await?;
        let (providers, deleted) = locked_providers(&mut tx, ws).await?;
        if deleted {
            return Err(Error::NotFound);
        }
        let current = tx
            .fetch_optional(
                &format!(
                    "SELECT cron, timezone, version FROM schedules WHERE workspace_id = $1{}",
                    tx.for_update()
                ),
                params![ws],
            )
            .await?;
        let (old_cron, old_tz, version) = match &current {
            Some(r) => (r.opt_text(0)?, Some(r.text(1)?), r.int(2)?),
            None => (None, None, 0),
        };
        check_version(if_match, version)?;
        // A PUT replaces the schedule: a zone not given is UTC (SPEC §8:
        // `timezone?: "UTC"`), as GET shows for a workspace never scheduled.
        let zone = timezone.unwrap_or(Tz::UTC);
        let timezone = zone.name();
        let old_tz = old_tz.unwrap_or_else(|| Tz::UTC.name().to_owned());
        let cron = schedule.map(|s| s.cron.clone());
        let next_run_at = schedule.and_then(|s| s.next_after(now, zone));
        let changed = cron != old_cron || old_tz != timezone;
        let version = if changed { version + 1 } else { version };
        // One statement on both databases: SQLite has had PostgreSQL's
        // upsert syntax since 3.24.
        tx.execute(
            "INSERT INTO schedules (workspace_id, cron, timezone, next_run_at, updated_at, version)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (workspace_id) DO UPDATE SET cron = excluded.cron,
                 timezone = excluded.timezone, next_run_at = excluded.next_run_at,
                 updated_at = excluded.updated_at, version = excluded.version",
            params![ws, cron.clone(), timezone, next_run_at, now, version],
        )
        .await?;
        if changed {
            let changes = Changes::new()
                .field("cron", old_cron.clone(), cron.clone())
                .field("timezone", old_tz.clone(), timezone);
            let event = NewEvent::in_workspace("schedule.updated", ws, "schedule", ws.as_str())
                .with_changes(changes);
            record(&mut tx, event).await?;
        }
        let immediate = match schedule {
            None => ImmediateRun::NotRequested,
            Some(_) if providers.is_empty() => ImmediateRun::Empty,
            Some(_) => {
                let run =
                    insert_run(&mut tx, ws, Trigger::ScheduleSet, &providers, now, now).await?;
                ImmediateRun::Queued(run.id)
            }
        };
        let last = tx
            .fetch_all(&format!("SELECT {LAST_RUN_AT}"), params![ws])
            .await?;
        tx.commit().await?;
        let last_run_at = last.first().map(|r| r.opt_int(0)).transpose()?.flatten();
        let state = ScheduleState {
            cron,
            timezone: timezone.to_owned(),
            next_run_at,
            last_run_at,
            version,
        };
        Ok((state, immediate))
    }

    /// Queues a manual run; 409 `conflict` when the workspace has no
    /// providers (nothing to run).
    pub async fn create_manual_run(&self, ws: &WorkspaceId, now: Millis) -> Result<Run, Error> {
        let mut tx = self.db.begin().await?;
        let (providers, deleted) = locked_providers(&mut tx, ws).await?;
        if deleted {
            return Err(Error::NotFound);
        }
        if providers.is_empty() {
            return Err(Error::Conflict(
                "The workspace has no providers enabled: there is nothing to run.".into(),
            ));
        }
        let run = insert_run(&mut tx, ws, Trigger::Manual, &providers, now, now).await?;
        tx.commit().await?;
        Ok(run)
    }

    pub async fn run(&self, ws: &WorkspaceId, id: &str) -> Result<Run, Error> {
        let row = self
            .db
            .fetch_optional(
                &format!("SELECT {COLS} FROM runs WHERE workspace_id = $1 AND id = $2"),
                params![ws, id],
            )
            .await?
            .ok_or(Error::NotFound)?;
        run_from(&row)
    }

    /// The workspace's runs, newest first, optionally of one status.
    pub async fn list_runs(
        &self,
        ws: &WorkspaceId,
        status: Option<RunStatus>,
        page: &PageRequest,
    ) -> Result<Page<Run>, Error> {
        let (from, params) = match status {
            None => ("FROM runs WHERE workspace_id = $1", params![ws]),
            Some(s) => (
                "FROM runs WHERE workspace_id = $1 AND status = $2",
                params![ws, s.as_str()],
            ),
        };
        let list = NewestFirst {
            cols: COLS,
            from,
            created_at: "created_at",
            id: "id",
            id_prefix: RunId::PREFIX,
        };
        page_newest_first(&self.db, &list, params, page, |r| run_from(&r)).await
    }

    /// Cancels a queued or running run; a finished one is 409 `conflict`.
    pub async fn cancel_run(
        &self,
        ws: &WorkspaceId,
        id: &str,
        if_match: Option<i64>,
        now: Millis,
    ) -> Result<Run, Error> {
        let mut tx = self.db.begin().await?;
        let mut run = locked_run(&mut tx, id).await?;
        if &run.workspace_id != ws {
            return Err(Error::NotFound);
        }
        check_version(if_match, run.version)?;
        if run.status.is_finished() {
            return Err(Error::Conflict(format!(
                "The run is already {}.",
                run.status.as_str()
            )));
        }
        let changes = Changes::new().field("status", run.status.as_str(), "cancelled");
        record(&mut tx, run_event("run.cancelled", &run, changes)).await?;
        run.status = RunStatus::Cancelled;
        run.finished_at = Some(now);
        run.lease_expires_at = None;
        run.version += 1;
        tx.execute(
            "UPDATE runs SET status = 'cancelled', finished_at = $2, lease_expires_at = NULL,
                 version = $3 WHERE id = $1",
            params![&run.id, now, run.version],
        )
        .await?;
        tx.commit().await?;
        Ok(run)
    }

    /// Hands the oldest due queued run to `worker` for `lease_ms`, or
    /// `None` when the queue is empty. Lapsed leases are taken back first.
    pub async fn claim_run(
        &self,
        worker: &TokenId,
        lease_ms: Millis,
        now: Millis,
    ) -> Result<Option<Run>, Error> {
        // An empty queue (the usual answer to a polling worker) is found on
        // a reader, without a write transaction.
        let work = self
            .db
            .fetch_optional(
                "SELECT 1 FROM runs WHERE status = 'queued' AND scheduled_for <= $1
                 UNION ALL
                 SELECT 1 FROM runs WHERE status = 'running' AND lease_expires_at <= $1
                 LIMIT 1",
                params![now],
            )
            .await?;
        if work.is_none() {
            return Ok(None);
        }
        let mut tx = self.db.begin().await?;
        take_back_lapsed(&mut tx, now).await?;
        // PostgreSQL: SKIP LOCKED lets concurrent claims on other replicas
        // pass over the run this one holds instead of queueing behind it.
        // SQLite: the writer runs transactions one at a time; no clause.
        let lock = match tx.backend() {
            super::db::Backend::Postgres => " FOR UPDATE OF r SKIP LOCKED",
            super::db::Backend::Sqlite => "",
        };
        // Runs of deleted workspaces wait (a restore brings them back; a
        // purge deletes them).
        let sql = format!(
            "SELECT r.id FROM runs r JOIN workspaces w ON w.id = r.workspace_id
             WHERE r.status = 'queued' AND r.scheduled_for <= $1 AND w.status <> 'deleted'
             ORDER BY r.scheduled_for, r.id LIMIT 1{lock}"
        );
        let Some(row) = tx.fetch_optional(&sql, params![now]).await? else {
            tx.commit().await?;
            return Ok(None);
        };
        let id = row.text(0)?;
        tx.execute(
            "UPDATE runs SET status = 'running', attempt = attempt + 1, started_at = $2,
                 lease_expires_at = $3, worker_token_id = $4, version = version + 1
             WHERE id = $1",
            params![&id, now, now + lease_ms, worker],
        )
        .await?;
        let run = locked_run(&mut tx, &id).await?;
        let changes = Changes::new().field("status", "queued", "running").field(
            "attempt",
            run.attempt - 1,
            run.attempt,
        );
        record(&mut tx, run_event("run.started", &run, changes)).await?;
        tx.commit().await?;
        Ok(Some(run))
    }

    /// Extends the lease of a run `worker` holds.
    pub async fn heartbeat_run(
        &self,
        id: &str,
        worker: &TokenId,
        attempt: Option<i64>,
        lease_ms: Millis,
        now: Millis,
    ) -> Result<Run, Error> {
        let mut tx = self.db.begin().await?;
        let mut run = locked_run(&mut tx, id).await?;
        check_held(&run, worker, attempt)?;
        run.lease_expires_at = Some(now + lease_ms);
        run.version += 1;
        tx.execute(
            "UPDATE runs SET lease_expires_at = $2, version = $3 WHERE id = $1",
            params![&run.id, run.lease_expires_at, run.version],
        )
        .await?;
        tx.commit().await?;
        Ok(run)
    }

    /// Finishes a run `worker` holds: `Ok(result)` succeeds it;
    /// `Err((error, retry))` fails it, or queues it again when `retry` and
    /// attempts remain.
    pub async fn finish_run(
        &self,
        id: &str,
        worker: &TokenId,
        attempt: Option<i64>,
        outcome: Result<String, (String, bool)>,
        now: Millis,
    ) -> Result<Run, Error> {
        let mut tx = self.db.begin().await?;
        let mut run = locked_run(&mut tx, id).await?;
        check_held(&run, worker, attempt)?;
        run.lease_expires_at = None;
        run.version += 1;
        match outcome {
            Ok(result) => {
                run.status = RunStatus::Succeeded;
                run.result = Some(result);
                run.error = None;
                run.finished_at = Some(now);
            }
            Err((error, retry)) => {
                run.error = Some(error);
                if retry && run.attempt < MAX_ATTEMPTS {
                    run.status = RunStatus::Queued;
                    run.started_at = None;
                    run.worker = None;
                } else {
                    run.status = RunStatus::Failed;
                    run.finished_at = Some(now);
                }
            }
        }
        let kind = match run.status {
            RunStatus::Succeeded => "run.succeeded",
            RunStatus::Queued => "run.queued",
            _ => "run.failed",
        };
        let changes = Changes::new().field("status", "running", run.status.as_str());
        record(&mut tx, run_event(kind, &run, changes)).await?;
        tx.execute(
            "UPDATE runs SET status = $2, result = $3, error = $4, started_at = $5,
                 finished_at = $6, lease_expires_at = NULL, worker_token_id = $7, version = $8
             WHERE id = $1",
            params![
                &run.id,
                run.status.as_str(),
                run.result.clone(),
                run.error.clone(),
                run.started_at,
                run.finished_at,
                run.worker.as_ref().map(|w| w.as_str()),
                run.version
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(run)
    }

    /// The scheduler's tick: takes back lapsed leases, then queues one run
    /// for each schedule due by `now` (at most `batch` of them). Returns
    /// the number of runs queued and of due schedules looked at.
    pub async fn enqueue_due(&self, now: Millis, batch: i64) -> Result<(usize, usize), Error> {
        // Looked for on a reader first: an idle tick (the usual one) then
        // costs each replica two index probes and no write transaction.
        let lapsed = self
            .db
            .fetch_optional(
                "SELECT id FROM runs WHERE status = 'running' AND lease_expires_at <= $1 LIMIT 1",
                params![now],
            )
            .await?;
        if lapsed.is_some() {
            let mut tx = self.db.begin().await?;
            take_back_lapsed(&mut tx, now).await?;
            tx.commit().await?;
        }
        let due = self
            .db
            .fetch_all(
                "SELECT workspace_id, cron, timezone, next_run_at FROM schedules
                 WHERE next_run_at <= $1 ORDER BY next_run_at LIMIT $2",
                params![now, batch],
            )
            .await?;
        let mut queued = 0;
        let looked = due.len();
        for row in due {
            let ws = WorkspaceId::from_db(row.text(0)?);
            let tick = row.int(3)?;
            // A schedule that no longer parses (its zone gone from the tz
            // data) stops rather than firing every tick.
            let next = row
                .opt_text(1)?
                .and_then(|cron| Schedule::from_db(&cron))
                .zip(parse_timezone(row.str(2)?).ok())
                .and_then(|(s, tz)| s.next_after(now, tz));
            let mut tx = self.db.begin().await?;
            // The workspace row first, as `set_schedule` locks them: the
            // same order everywhere, so two transactions never deadlock.
            let (providers, deleted) = match locked_providers(&mut tx, &ws).await {
                Err(Error::NotFound) => continue, // purged since the read
                r => r?,
            };
            let claimed = tx
                .execute(
                    "UPDATE schedules SET next_run_at = $3 WHERE workspace_id = $1 AND next_run_at = $2",
                    params![&ws, tick, next],
                )
                .await?;
            if claimed == 1 && !providers.is_empty() && !deleted {
                insert_run(&mut tx, &ws, Trigger::Schedule, &providers, tick, now).await?;
                queued += 1;
            }
            tx.commit().await?;
        }
        Ok((queued, looked))
    }

    /// Runs waiting in the queue, for `/metrics`.
    pub async fn queued_runs(&self) -> Result<i64, Error> {
        Ok(self
            .db
            .fetch_all(
                "SELECT COUNT(*) FROM runs WHERE status = 'queued'",
                params![],
            )
            .await?[0]
            .int(0)?)
    }
}
