//! The one integration test binary: the real router on a fresh database per
//! test: a temporary SQLite file, or a PostgreSQL schema of its own when
//! `WORKSPACED_TEST_DATABASE=postgres` (see scripts/test.sh).

mod helpers;
mod idempotency;

mod accounts;
mod authorization;
mod bad_input;
mod bridges;
mod codebases;
mod events;
mod invitations;
mod join_codes;
mod list_queries;
mod logos;
mod members;
mod ops;
mod organizations;
mod plans;
mod process;
mod projects;
mod providers;
mod rate_limits;
mod runs;
mod seed;
mod settings;
mod tenancy;
mod webhooks;
mod workspaces;
mod writer;
