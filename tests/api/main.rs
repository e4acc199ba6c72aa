//! The one integration test binary: the real router on a fresh database per
//! test: a temporary SQLite file, or a PostgreSQL schema of its own when
//! `WORKSPACED_TEST_DATABASE=postgres` (see scripts/test.sh).

mod helpers;

mod accounts;
mod authorization;
mod bad_input;
mod ops;
mod rate_limits;
mod seed;
mod tenancy;
mod workspaces;
