//! The one integration test binary: the real router on a fresh database per
//! test: a temporary SQLite file, or a PostgreSQL schema of its own when
//! `WORKSPACED_TEST_DATABASE=postgres` (see scripts/test.sh).

mod helpers;
mod idempotency;

mod accounts;
mod authorization;
mod bad_input;
mod invitations;
mod join_codes;
mod members;
mod ops;
mod organizations;
mod process;
mod rate_limits;
mod workspaces;
