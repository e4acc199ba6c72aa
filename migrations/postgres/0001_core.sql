-- Core schema: accounts, tokens, organizations, workspaces, memberships,
-- rate-limit counters. Times are Unix milliseconds (BIGINT); ids are
-- prefixed time-sortable strings; JSON is TEXT. Roles are stored as ranks
-- (1 viewer, 2 member, 3 admin, 4 owner) so the effective role is a max().
-- Unique indexes are named <table>_<cols>_key, as PostgreSQL names them.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    email_lower   TEXT NOT NULL,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    version       BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_email_lower_key ON users (email_lower);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('session', 'personal', 'admin', 'service')),
    user_id      TEXT REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    scopes       TEXT NOT NULL DEFAULT '[]',
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT
);
CREATE UNIQUE INDEX tokens_token_hash_key ON tokens (token_hash);
CREATE INDEX tokens_user_idx ON tokens (user_id, kind, created_at);

CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    slug       TEXT COLLATE "C" NOT NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug);

CREATE TABLE org_members (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            BIGINT NOT NULL CHECK (role IN (2, 3, 4)),
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX org_members_organization_id_user_id_key ON org_members (organization_id, user_id);
CREATE INDEX org_members_user_idx ON org_members (user_id);

CREATE TABLE workspaces (
    id                      TEXT PRIMARY KEY,
    slug                    TEXT COLLATE "C" NOT NULL,
    name                    TEXT NOT NULL,
    description             TEXT,
    icon                    TEXT,
    domain                  TEXT,
    repo_path               TEXT,
    branch                  TEXT,
    status                  TEXT NOT NULL CHECK (status IN ('active', 'archived', 'deleted')),
    organization_id         TEXT REFERENCES organizations (id),
    settings                TEXT NOT NULL DEFAULT '{}',
    metadata                TEXT NOT NULL DEFAULT '{}',
    onboarding              TEXT NOT NULL DEFAULT '{}',
    onboarding_completed_at BIGINT,
    logo_key                TEXT,
    plan                    TEXT NOT NULL DEFAULT 'free',
    trial_ends_at           BIGINT,
    member_count            BIGINT NOT NULL DEFAULT 0,
    created_by              TEXT,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    archived_at             BIGINT,
    deleted_at              BIGINT,
    purge_at                BIGINT,
    version                 BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX workspaces_slug_key ON workspaces (slug);
CREATE INDEX workspaces_org_idx ON workspaces (organization_id, created_at, id);
CREATE INDEX workspaces_purge_idx ON workspaces (purge_at);

CREATE TABLE memberships (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          BIGINT NOT NULL CHECK (role IN (1, 2, 3, 4)),
    -- copy of workspaces.created_at: "my workspaces, newest first" is then a
    -- keyset walk of one index, whatever the page depth.
    ws_created_at BIGINT NOT NULL,
    invited_by    TEXT,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX memberships_workspace_id_user_id_key ON memberships (workspace_id, user_id);
CREATE INDEX memberships_user_idx ON memberships (user_id, ws_created_at, workspace_id);
CREATE INDEX memberships_ws_role_idx ON memberships (workspace_id, role);

-- Fixed-window counters for the rate limits, shared by every replica.
CREATE TABLE rate_counters (
    key          TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_counters_window_idx ON rate_counters (window_start);
