-- "My workspaces" reads the caller's direct role straight from the index it
-- walks (no lookup of each membership row): role joins the index's columns.
DROP INDEX memberships_user_idx;
CREATE INDEX memberships_user_idx ON memberships (user_id, ws_created_at, workspace_id, role);
