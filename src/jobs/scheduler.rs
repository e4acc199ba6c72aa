//! The scheduler: every tick, queues one run per due schedule and takes
//! back lapsed leases. Safe on every replica at once: each tick of each
//! schedule is claimed in the database (see `store::runs`), so however many
//! replicas look, one run is queued. Stops between ticks on shutdown; a
//! tick in progress finishes its transaction first.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::domain::time::now_ms;

const BATCH: i64 = 100;

pub async fn run(state: AppState, stop: CancellationToken) {
    let every = Duration::from_secs(state.config.scheduler.tick_seconds);
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                tracing::info!("scheduler stopped");
                return;
            }
            _ = tokio::time::sleep(every) => {}
        }
        // A full batch means more may be due: go again without waiting.
        loop {
            match state.store.enqueue_due(now_ms(), BATCH).await {
                Ok((queued, looked)) => {
                    if queued > 0 {
                        tracing::info!(queued, "queued scheduled runs");
                    }
                    if (looked as i64) < BATCH || stop.is_cancelled() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "scheduler tick failed; will retry");
                    break;
                }
            }
        }
    }
}
