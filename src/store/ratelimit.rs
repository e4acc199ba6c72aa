//! Fixed-window counters in the database, so a limit holds across replicas.

use super::db::{DbError, Tx};
use super::Store;
use crate::config::RateSpec;
use crate::domain::time::Millis;
use crate::params;

const UPSERT: &str = "INSERT INTO rate_counters (key, window_start, count) VALUES ($1, $2, $3)
     ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + excluded.count
     RETURNING count";

/// The start of the window `now` falls in.
pub fn window_start(spec: RateSpec, now: Millis) -> Millis {
    now - now.rem_euclid(spec.period_ms)
}

impl Store {
    /// Adds `n` to a counter and returns the new count of its window.
    pub async fn add_to_counter(&self, key: &str, window: Millis, n: i64) -> Result<i64, DbError> {
        let rows = self
            .db
            .write_fetch_all(UPSERT, params![key, window, n])
            .await?;
        rows.first().ok_or(DbError::Decode(0))?.int(0)
    }

    /// The current count of a counter's window.
    pub async fn read_counter(&self, key: &str, window: Millis) -> Result<i64, DbError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT count FROM rate_counters WHERE key = $1 AND window_start = $2",
                params![key, window],
            )
            .await?;
        row.map_or(Ok(0), |r| r.int(0))
    }

    /// Drops windows that ended before `before`.
    pub async fn prune_counters(&self, before: Millis) -> Result<u64, DbError> {
        self.db
            .execute(
                "DELETE FROM rate_counters WHERE window_start < $1",
                params![before],
            )
            .await
    }
}

/// Adds `n` inside a transaction (so the count rolls back with it).
pub async fn add_in_tx(tx: &mut Tx, key: &str, window: Millis, n: i64) -> Result<i64, DbError> {
    let rows = tx.fetch_all(UPSERT, params![key, window, n]).await?;
    rows.first().ok_or(DbError::Decode(0))?.int(0)
}
