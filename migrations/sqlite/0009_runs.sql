-- Schedules and runs (SPEC §8). One schedule row per workspace that has
-- ever set one (cron NULL once cleared, keeping its time zone); runs are
-- the queue workers claim from, and the workspace's history of runs.

CREATE TABLE schedules (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    cron         TEXT,
    timezone     TEXT NOT NULL,
    -- The next fire time; NULL while unscheduled. The scheduler claims a
    -- tick by moving it forward with a compare-and-set, so one replica
    -- enqueues each tick.
    next_run_at  INTEGER,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX schedules_due_idx ON schedules (next_run_at);

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    trigger          TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual', 'schedule_set')),
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    providers        TEXT NOT NULL,
    attempt          INTEGER NOT NULL DEFAULT 0,
    scheduled_for    INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    error            TEXT,
    result           TEXT,
    lease_expires_at INTEGER,
    worker_token_id  TEXT,
    created_at       INTEGER NOT NULL,
    version          INTEGER NOT NULL DEFAULT 1
);
-- The workspace's runs, newest first, and its latest run's time.
CREATE INDEX runs_ws_created_idx ON runs (workspace_id, created_at, id);
-- The same, of one status (`?status=`).
CREATE INDEX runs_ws_status_created_idx ON runs (workspace_id, status, created_at, id);
-- The queue, oldest due first; and the leases to take back. Partial: the
-- finished runs, nearly all of them in time, are in neither.
CREATE INDEX runs_queued_idx ON runs (scheduled_for, id) WHERE status = 'queued';
CREATE INDEX runs_leased_idx ON runs (lease_expires_at) WHERE status = 'running';
