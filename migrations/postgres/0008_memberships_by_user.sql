-- The unique (workspace, user) index becomes (user_id, workspace_id): the
-- membership check then finds a caller's memberships together in the index
-- (its index-only scan reads the role from it), and the duplicate-member
-- error names the key as SQLite's clustered primary key does
-- (memberships_user_id_workspace_id_key; see migrations/sqlite/0008).
-- Lookups by workspace use memberships_ws_role_idx, as they did.
CREATE UNIQUE INDEX memberships_user_id_workspace_id_key
    ON memberships (user_id, workspace_id) INCLUDE (role);
DROP INDEX memberships_workspace_id_user_id_key;
