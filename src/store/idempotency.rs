//! Stored first responses for `Idempotency-Key` (SPEC §1).

use super::Store;
use crate::domain::time::Millis;
use crate::domain::Error;
use crate::params;

/// What a key already holds.
#[derive(Debug)]
pub enum Claim {
    /// The key is ours now: run the request, then [`Store::finish_idempotent`].
    Claimed,
    /// A finished request with this key: its request hash and response.
    Done {
        request_hash: String,
        status: u16,
        headers: String,
        body: Vec<u8>,
    },
    /// The first request with this key is still running.
    InProgress { request_hash: String },
}

/// A claim older than this with no response is taken to be from a request
/// that died (a crash between claim and answer) and may be taken over.
const ABANDONED_AFTER: Millis = 60_000;

impl Store {
    /// Claims `(caller, key)` for a request, or reports what holds it.
    /// The unique index decides between racing requests.
    pub async fn claim_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        request_hash: &str,
        now: Millis,
        ttl: Millis,
    ) -> Result<Claim, Error> {
        for _ in 0..3 {
            let inserted = self
                .db
                .execute(
                    "INSERT INTO idempotency_keys (caller, key, request_hash, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5)",
                    params![caller, key, request_hash, now, now + ttl],
                )
                .await;
            match inserted {
                Ok(_) => return Ok(Claim::Claimed),
                Err(e) if e.unique_constraint() == Some("idempotency_keys_caller_key_key") => {}
                Err(e) => return Err(e.into()),
            }
            let row = self
                .db
                .fetch_optional(
                    "SELECT request_hash, status, headers, body, created_at, expires_at
                     FROM idempotency_keys WHERE caller = $1 AND key = $2",
                    params![caller, key],
                )
                .await?;
            let Some(r) = row else { continue };
            let (expires_at, created_at, status) = (r.int(5)?, r.int(4)?, r.opt_int(1)?);
            let stale =
                expires_at <= now || (status.is_none() && now - created_at > ABANDONED_AFTER);
            if stale {
                // Expired or abandoned: remove exactly that row and claim again.
                self.db
                    .execute(
                        "DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2 AND created_at = $3",
                        params![caller, key, created_at],
                    )
                    .await?;
                continue;
            }
            return Ok(match status {
                None => Claim::InProgress {
                    request_hash: r.text(0)?,
                },
                Some(s) => Claim::Done {
                    request_hash: r.text(0)?,
                    status: s as u16,
                    headers: r.opt_text(2)?.unwrap_or_default(),
                    body: r.bytes(3).unwrap_or_default(),
                },
            });
        }
        Err(Error::Conflict(
            "the idempotency key is being taken over; retry".into(),
        ))
    }

    /// Keeps the response of a claimed key.
    pub async fn finish_idempotent(
        &self,
        caller: &str,
        key: &str,
        status: u16,
        headers: &str,
        body: &[u8],
    ) -> Result<(), Error> {
        self.db
            .execute(
                "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5 WHERE caller = $1 AND key = $2",
                params![caller, key, status as i64, headers, body.to_vec()],
            )
            .await?;
        Ok(())
    }

    /// Gives a claimed key back (the request did not run to an answer worth
    /// keeping: a 5xx, a 401, a 429), so a retry runs afresh.
    pub async fn release_idempotency_key(&self, caller: &str, key: &str) -> Result<(), Error> {
        self.db
            .execute(
                "DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2 AND status IS NULL",
                params![caller, key],
            )
            .await?;
        Ok(())
    }

    /// Drops keys past their 24 hours.
    pub async fn prune_idempotency_keys(&self, now: Millis) -> Result<u64, Error> {
        Ok(self
            .db
            .execute(
                "DELETE FROM idempotency_keys WHERE expires_at <= $1",
                params![now],
            )
            .await?)
    }
}
