-- Events (SPEC §9): every change, written in the transaction that makes
-- it. An event outlives what it is about (a deleted project), but not its
-- workspace: a purge takes the workspace's events with it.

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT REFERENCES workspaces (id) ON DELETE CASCADE,
    organization_id TEXT,
    type            TEXT NOT NULL,
    actor_type      TEXT NOT NULL CHECK (actor_type IN ('user', 'service', 'system')),
    actor_id        TEXT,
    target_type     TEXT NOT NULL,
    target_id       TEXT NOT NULL,
    changes         TEXT NOT NULL DEFAULT '{}',
    request_id      TEXT,
    created_at      BIGINT NOT NULL
);
-- The audit log: a workspace's events newest first, all or of one type.
CREATE INDEX events_ws_created_idx ON events (workspace_id, created_at, id);
CREATE INDEX events_ws_type_created_idx ON events (workspace_id, type, created_at, id);
