//! workspaced: a self-hosted workspace and tenancy service.
//!
//! - [`config`]: defaults < TOML file < `WORKSPACED_*` env < flags.
//! - [`app`]: state, router, serve and graceful shutdown.
//! - [`http`]: routes, extractors (authentication, workspace access), problem+json errors.
//! - [`domain`]: rules with no HTTP and no SQL: ids, roles, slugs, validation.
//! - [`store`]: the database, SQLite or PostgreSQL, behind one set of queries.
//! - [`limits`]: rate limits shared across replicas.
//! - [`auth`]: tokens and password hashing.
//! - [`crypto`]: the server key and the cipher sealing secrets at rest.
//! - [`jobs`]: background work (purge, counters).
//! - [`cli`]: the `workspaced` command line.
//! - [`alloc`]: the global allocator (mimalloc).

// ApiError is large (a problem with its field list); it only travels on the
// error path, where a few more bytes moved cost nothing measurable.
#![expect(clippy::result_large_err)]

pub mod alloc;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod limits;
pub mod store;
