-- Workspace configuration (SPEC §7, logo and plans of §3): projects,
-- codebases, bridges (credentials encrypted by the server, never plain),
-- content-addressed logos, and the workspace's chosen AI providers.

ALTER TABLE workspaces ADD COLUMN providers TEXT NOT NULL DEFAULT '[]';

CREATE TABLE projects (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    slug         TEXT COLLATE "C" NOT NULL,
    description  TEXT,
    status       TEXT NOT NULL CHECK (status IN ('active', 'archived')),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX projects_workspace_id_slug_key ON projects (workspace_id, slug);
CREATE INDEX projects_ws_created_idx ON projects (workspace_id, created_at, id);

CREATE TABLE codebases (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    source_type  TEXT NOT NULL CHECK (source_type IN ('local', 'github')),
    path         TEXT,
    repository   TEXT,
    branch       TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX codebases_ws_created_idx ON codebases (workspace_id, created_at, id);

CREATE TABLE bridges (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('notion', 'sharepoint', 'google_drive', 'github', 'webhook', 'custom')),
    name         TEXT NOT NULL,
    config       TEXT NOT NULL DEFAULT '{}',
    enabled      BIGINT NOT NULL,
    -- nonce || XChaCha20-Poly1305 ciphertext, the bridge id as associated data.
    credentials  BYTEA,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX bridges_ws_created_idx ON bridges (workspace_id, created_at, id);

-- Keyed by the SHA-256 of the bytes: the same image is stored once and
-- served at the same URL. Not tied to a workspace (several may share one).
CREATE TABLE logos (
    key          TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX workspaces_logo_key_idx ON workspaces (logo_key);
