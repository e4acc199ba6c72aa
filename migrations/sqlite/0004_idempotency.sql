-- Idempotency keys (SPEC §1): the first response to a (caller, key) is kept
-- for 24 h and replayed to repeats of the same request. `status` is NULL
-- while the first request is still running.
CREATE TABLE idempotency_keys (
    caller        TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER,
    headers       TEXT,
    body          BLOB,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX idempotency_keys_caller_key_key ON idempotency_keys (caller, key);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
