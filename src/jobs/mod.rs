//! Background work: purging deleted workspaces, flushing rate counters,
//! queueing scheduled runs,
//! sending webhook deliveries.

pub mod counters;
pub mod purge;
pub mod scheduler;
pub mod webhooks;
