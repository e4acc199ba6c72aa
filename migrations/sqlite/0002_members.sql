-- Members, invitations and join codes (SPEC §5). Same schema as the
-- PostgreSQL tree (BIGINT there).

-- "Members of a workspace, newest first" walks this index.
CREATE INDEX memberships_ws_created_idx ON memberships (workspace_id, created_at, id);
CREATE INDEX org_members_org_created_idx ON org_members (organization_id, created_at, user_id);

CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    email_lower  TEXT NOT NULL,
    role         INTEGER NOT NULL CHECK (role IN (1, 2, 3, 4)),
    -- SHA-256 of the token; replaced on resend, so the old token dies.
    token_hash   TEXT NOT NULL,
    -- 'pending', 'accepted', 'declined', 'revoked'; 'expired' is computed
    -- from expires_at. A replaced invitation becomes 'revoked'.
    status       TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
    invited_by   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    responded_at INTEGER
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
-- One pending invitation per email and workspace.
CREATE UNIQUE INDEX invitations_workspace_id_email_lower_key ON invitations (workspace_id, email_lower)
    WHERE status = 'pending';
CREATE INDEX invitations_ws_created_idx ON invitations (workspace_id, created_at, id);
CREATE INDEX invitations_email_idx ON invitations (email_lower, status);
CREATE INDEX invitations_invited_by_idx ON invitations (invited_by, status);

-- At most one join code per workspace; `code` is the normalized form
-- (upper case, no hyphens).
CREATE TABLE join_codes (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    code         TEXT NOT NULL,
    role         INTEGER NOT NULL CHECK (role IN (1, 2)),
    expires_at   INTEGER,
    max_uses     INTEGER,
    uses         INTEGER NOT NULL DEFAULT 0,
    created_by   TEXT,
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX join_codes_code_key ON join_codes (code);
