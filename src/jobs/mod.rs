//! Background work: purging deleted workspaces, flushing rate counters,
//! queueing scheduled runs.

pub mod counters;
pub mod purge;
pub mod scheduler;
