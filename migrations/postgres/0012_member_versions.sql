-- Memberships get a version (SPEC §1: every mutable resource carries one;
-- a role change bumps it, If-Match guards PATCH and DELETE of a member).
-- A constant default: PostgreSQL (11+) stores it once, not in every row.
ALTER TABLE memberships ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
