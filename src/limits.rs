//! Rate limits (SPEC §1), counted in the database so they hold across
//! replicas.
//!
//! Strict limits (`workspace_create`, `organization_create`, `join`,
//! `login`) count every event in the database, inside the write they guard
//! where there is one; a failed login is counted before its password is
//! checked ([`RateLimiter::reserve`]), so guesses in flight cannot go past
//! the limit. The `requests` limit counts every authenticated
//! request; writing each one through would cost a database write per read,
//! so each replica counts locally and adds its count to the shared window
//! counter every [`FLUSH_EVERY`]; the decision uses the shared count last
//! seen plus the local count not yet flushed. Replicas can thus overshoot by
//! what they serve in one flush interval.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::config::{RateLimits, RateSpec};
use crate::domain::error::RateInfo;
use crate::domain::time::{now_ms, Millis};
use crate::domain::Error;
use crate::store::ratelimit::window_start;
use crate::store::Store;

pub const FLUSH_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, Default)]
struct Local {
    window: Millis,
    /// Counted here, not yet added to the database.
    pending: i64,
    /// The shared count after our last flush.
    seen: i64,
}

pub struct RateLimiter {
    store: Store,
    pub config: RateLimits,
    /// By token id; foldhash rather than std's SipHash: the map is read on
    /// every request, and its keys are the ids of authenticated tokens,
    /// which the server generated (no one can choose colliding keys).
    local: Mutex<HashMap<String, Local, foldhash::fast::RandomState>>,
}

pub fn info(spec: RateSpec, count: i64, window: Millis, now: Millis) -> RateInfo {
    RateInfo {
        limit: spec.count,
        remaining: spec.count.saturating_sub(count.max(0) as u64),
        reset_secs: ((window + spec.period_ms - now).max(0) as u64).div_ceil(1000),
    }
}

impl RateLimiter {
    pub fn new(store: Store, config: RateLimits) -> Self {
        RateLimiter {
            store,
            config,
            local: Mutex::default(),
        }
    }

    /// Counts one authenticated request of a token.
    pub fn check_request(&self, token_id: &str, now: Millis) -> Result<RateInfo, RateInfo> {
        let spec = self.config.requests;
        let window = window_start(spec, now);
        let mut map = self.local.lock().expect("limiter poisoned");
        // Looked up by `&str` first: `entry` would take an owned key, an
        // allocation on every request for the one time it is new.
        if !map.contains_key(token_id) {
            map.insert(token_id.to_owned(), Local::default());
        }
        let e = map.get_mut(token_id).expect("inserted above");
        if e.window != window {
            *e = Local {
                window,
                pending: 0,
                seen: 0,
            };
        }
        let used = e.seen + e.pending;
        if used as u64 >= spec.count {
            return Err(info(spec, used, window, now));
        }
        e.pending += 1;
        Ok(info(spec, used + 1, window, now))
    }

    /// Adds the local counts to the shared counters and reads back the
    /// totals. Called every [`FLUSH_EVERY`] and at shutdown.
    pub async fn flush(&self) {
        let now = now_ms();
        let current = window_start(self.config.requests, now);
        let batch: Vec<(String, Local)> = {
            let mut map = self.local.lock().expect("limiter poisoned");
            map.retain(|_, l| l.window == current || l.pending > 0);
            map.iter_mut()
                .filter(|(_, l)| l.pending > 0)
                .map(|(k, l)| {
                    let snapshot = *l;
                    l.pending = 0;
                    (k.clone(), snapshot)
                })
                .collect()
        };
        for (token, l) in batch {
            match self
                .store
                .add_to_counter(&format!("requests:{token}"), l.window, l.pending)
                .await
            {
                Ok(total) => {
                    let mut map = self.local.lock().expect("limiter poisoned");
                    if let Some(e) = map.get_mut(&token) {
                        if e.window == l.window {
                            e.seen = e.seen.max(total);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not flush request counts");
                    let mut map = self.local.lock().expect("limiter poisoned");
                    if let Some(e) = map.get_mut(&token) {
                        if e.window == l.window {
                            e.pending += l.pending;
                        }
                    }
                }
            }
        }
    }

    /// Counts one event of `key`; refuses it when over the limit.
    pub async fn hit(&self, key: &str, spec: RateSpec) -> Result<RateInfo, Error> {
        let now = now_ms();
        let window = window_start(spec, now);
        let count = self.store.add_to_counter(key, window, 1).await?;
        let i = info(spec, count, window, now);
        if count as u64 > spec.count {
            return Err(Error::RateLimited(i));
        }
        Ok(i)
    }

    /// Counts an attempt of `key` before it is known whether it counts (a
    /// login, before its password is checked), so attempts in flight on
    /// every replica take their places in the limit at once: the counter
    /// goes up in the database in one statement, and an attempt that finds
    /// it past the limit takes its count back and is refused (one that
    /// finds the limit already full is refused before counting). An attempt
    /// that turns out not to count (a login that succeeds) gives its place
    /// back with [`RateLimiter::release`].
    pub async fn reserve(&self, key: &str, spec: RateSpec) -> Result<Reservation, Error> {
        let now = now_ms();
        let window = window_start(spec, now);
        // A full limit refuses with a read alone: a flood of attempts
        // against it writes nothing.
        let seen = self.store.read_counter(key, window).await?;
        if seen as u64 >= spec.count {
            return Err(Error::RateLimited(info(spec, seen, window, now)));
        }
        let count = self.store.add_to_counter(key, window, 1).await?;
        if count as u64 > spec.count {
            // Should this fail, the count stays one too high until the
            // window ends: stricter, never looser; still a 429.
            if let Err(e) = self.store.add_to_counter(key, window, -1).await {
                tracing::warn!(error = %e, "rate limit count not taken back");
            }
            return Err(Error::RateLimited(info(spec, count, window, now)));
        }
        Ok(Reservation {
            key: key.to_owned(),
            spec,
            window,
            info: info(spec, count, window, now),
        })
    }

    /// Gives a reserved place back; the limit's state after it. Should the
    /// database fail here, the place stays taken (the limit only gets
    /// stricter until its window ends): logged, and the state as reserved
    /// is returned, so the answer that released it still goes out.
    pub async fn release(&self, r: Reservation) -> RateInfo {
        match self.store.add_to_counter(&r.key, r.window, -1).await {
            Ok(count) => info(r.spec, count, r.window, now_ms()),
            Err(e) => {
                // Not the key: it holds an email address.
                tracing::warn!(error = %e, "rate limit place not given back");
                r.info
            }
        }
    }
}

/// A place taken in a limit by [`RateLimiter::reserve`]: it counts unless
/// released. Released in the window it was taken in, whenever that is.
#[derive(Debug)]
pub struct Reservation {
    key: String,
    spec: RateSpec,
    window: Millis,
    /// The limit's state with this attempt counted.
    pub info: RateInfo,
}
