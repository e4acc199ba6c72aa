-- Memberships get a version (SPEC §1: every mutable resource carries one;
-- a role change bumps it, If-Match guards PATCH and DELETE of a member).
-- A constant default: SQLite only rewrites the schema, not the rows.
ALTER TABLE memberships ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
