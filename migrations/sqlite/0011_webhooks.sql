-- Webhooks (SPEC §9): endpoints of a workspace, and the deliveries of its
-- events to them. A delivery is written in the transaction that records
-- its event (an outbox), so an event is delivered if and only if its
-- change committed; the delivery job sends it afterwards and retries.

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    -- The subscribed types between commas (",member.*,run.failed,"), so
    -- the outbox insert matches them with LIKE on both databases.
    events        TEXT NOT NULL,
    enabled       INTEGER NOT NULL,
    -- nonce || XChaCha20-Poly1305 ciphertext of the signing secret, the
    -- webhook id as associated data.
    secret        BLOB NOT NULL,
    -- Failed attempts in a row; the endpoint is disabled at the limit.
    failures      INTEGER NOT NULL DEFAULT 0,
    -- When the current run of failures began (NULL while none).
    failing_since INTEGER,
    disabled_reason TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX webhooks_ws_created_idx ON webhooks (workspace_id, created_at, id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- JSON array of {at, status_code, error, duration_ms}, oldest first.
    attempt_log     TEXT NOT NULL DEFAULT '[]',
    next_attempt_at INTEGER,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
