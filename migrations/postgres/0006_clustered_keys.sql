-- The membership check of every workspace route reads the role from the
-- index it looks the pair up in (an index-only scan), not from the table.
-- (On SQLite this migration makes memberships, users and tokens WITHOUT ROWID
-- tables, for the same one-descent lookups; PostgreSQL heap tables have no
-- equivalent, and tokens and users are found by their unique indexes.)
CREATE UNIQUE INDEX memberships_workspace_id_user_id_role_key
    ON memberships (workspace_id, user_id) INCLUDE (role);
DROP INDEX memberships_workspace_id_user_id_key;
ALTER INDEX memberships_workspace_id_user_id_role_key RENAME TO memberships_workspace_id_user_id_key;
