-- The lookups every request makes find their row in one B-tree descent.
--
-- A table keyed by a TEXT id is a rowid table plus an automatic index on
-- the id: every lookup descends the index to find the rowid, then the table
-- to find the row. WITHOUT ROWID tables are stored in the order of their
-- primary key, so the key's descent ends at the row. Only tables whose rows
-- stay small are converted (SQLite's advice: under a twentieth of a page);
-- workspaces, with their JSON settings, stay rowid tables.
--
--   memberships  keyed by (workspace_id, user_id), the membership check of
--                every workspace route; `id` keeps a unique index. A
--                workspace's members are now also stored together.
--   users        keyed by id (the caller's user, joined on every request).
--   tokens       keyed by token_hash (every request's authentication);
--                `id` keeps a unique index.
--
-- The rebuild follows SQLite's procedure for schema changes (create, copy,
-- drop, rename, recreate indexes), run with foreign key enforcement off by
-- the migration runner (store/sqlite), which checks foreign keys afterwards.

CREATE TABLE users_new (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    email_lower   TEXT NOT NULL,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
INSERT INTO users_new (id, email, email_lower, name, password_hash, created_at, updated_at, version)
    SELECT id, email, email_lower, name, password_hash, created_at, updated_at, version FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE UNIQUE INDEX users_email_lower_key ON users (email_lower);

CREATE TABLE tokens_new (
    token_hash   TEXT PRIMARY KEY,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('session', 'personal', 'admin', 'service')),
    user_id      TEXT REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    scopes       TEXT NOT NULL DEFAULT '[]',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER
) WITHOUT ROWID;
INSERT INTO tokens_new (token_hash, id, kind, user_id, name, scopes, created_at, expires_at, last_used_at)
    SELECT token_hash, id, kind, user_id, name, scopes, created_at, expires_at, last_used_at FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
CREATE UNIQUE INDEX tokens_id_key ON tokens (id);
CREATE INDEX tokens_user_idx ON tokens (user_id, kind, created_at);

CREATE TABLE memberships_new (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    role          INTEGER NOT NULL CHECK (role IN (1, 2, 3, 4)),
    -- copy of workspaces.created_at: "my workspaces, newest first" is then a
    -- keyset walk of one index, whatever the page depth.
    ws_created_at INTEGER NOT NULL,
    invited_by    TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
) WITHOUT ROWID;
INSERT INTO memberships_new (workspace_id, user_id, id, role, ws_created_at, invited_by, created_at)
    SELECT workspace_id, user_id, id, role, ws_created_at, invited_by, created_at FROM memberships
    ORDER BY workspace_id, user_id;
DROP TABLE memberships;
ALTER TABLE memberships_new RENAME TO memberships;
CREATE UNIQUE INDEX memberships_id_key ON memberships (id);
CREATE INDEX memberships_user_idx ON memberships (user_id, ws_created_at, workspace_id, role);
CREATE INDEX memberships_ws_role_idx ON memberships (workspace_id, role);
CREATE INDEX memberships_ws_created_idx ON memberships (workspace_id, created_at, id);
