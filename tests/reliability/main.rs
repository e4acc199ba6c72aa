//! Reliability: the real `workspaced` binary as separate processes — crash
//! safety under `kill -9`, races between two server processes on one
//! database, and the drain on SIGTERM. Runs on SQLite by default and on
//! PostgreSQL with `WORKSPACED_TEST_DATABASE=postgres` (see scripts/test.sh).

mod crash;
mod listener;
mod replicas;
mod shutdown;
mod support;
