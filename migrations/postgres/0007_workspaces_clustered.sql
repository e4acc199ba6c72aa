-- On SQLite this migration makes workspaces a WITHOUT ROWID table, so a
-- lookup by id is one B-tree descent. PostgreSQL heap tables have no
-- equivalent (workspaces are found through their primary key index, as
-- before): nothing changes here. The file keeps the two trees in step.
SELECT 1;
