//! Background work: purging deleted workspaces, flushing rate counters.

pub mod counters;
pub mod purge;
