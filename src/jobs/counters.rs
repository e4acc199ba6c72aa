//! Flushes the locally counted `requests` to the shared counters, and drops
//! counter windows and idempotency keys that ended long ago.

use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::domain::time::{now_ms, DAY};
use crate::limits::FLUSH_EVERY;

pub async fn run(state: AppState, stop: CancellationToken) {
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(FLUSH_EVERY) => {}
        }
        state.limiter.flush().await;
        ticks += 1;
        if ticks % 7200 == 0 {
            // The longest configured window is far below a day.
            if let Err(e) = state.store.prune_counters(now_ms() - 2 * DAY).await {
                tracing::warn!(error = %e, "could not prune rate counters");
            }
            if let Err(e) = state.store.prune_idempotency_keys(now_ms()).await {
                tracing::warn!(error = %e, "could not prune idempotency keys");
            }
        }
    }
}
