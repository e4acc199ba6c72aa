//! Purges soft-deleted workspaces whose `purge_at` has passed. Safe on every
//! replica at once: a purge is a DELETE, and deleting twice deletes once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::domain::time::now_ms;

const BATCH: i64 = 100;

pub async fn run(state: AppState, stop: CancellationToken) {
    let every = Duration::from_secs(state.config.purge_interval_seconds);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        loop {
            match state.store.purge_due(now_ms(), BATCH).await {
                Ok(n) if n > 0 => {
                    tracing::info!(purged = n, "purged deleted workspaces");
                    if (n as i64) < BATCH {
                        break;
                    }
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "purge failed; will retry");
                    break;
                }
            }
        }
    }
}
