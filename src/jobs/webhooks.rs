//! Sends webhook deliveries (SPEC §9). Every replica runs this; each takes
//! due deliveries under a one-minute lease (`store::webhooks`), so an
//! attempt is sent by one replica, and a replica killed mid-send leaves the
//! delivery to be tried again when the lease ends (a receiver may then see
//! an attempt twice, with the same `webhook-id`: Standard Webhooks asks
//! receivers to deduplicate on it).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::domain::time::{now_ms, Millis};
use crate::domain::webhook::{is_local_host, is_private_ip, sign};
use crate::http::events::EventResponse;
use crate::store::webhooks::{AttemptOutcome, DueDelivery};

const BATCH: i64 = 20;
const TIMEOUT: Duration = Duration::from_secs(10);
const EVERY: Duration = Duration::from_secs(1);

/// The HTTP client deliveries go out through: no redirects followed (a
/// redirect could lead to a private address), a 10 s timeout.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    /// A sender; unless `allow_private`, its resolver drops private,
    /// loopback and link-local addresses, so the address checked is the
    /// address connected to (no window for DNS rebinding).
    pub fn new(allow_private: bool) -> Result<Sender, String> {
        // rustls with the ring provider (reqwest leaves the choice to us).
        // rustls now steers towards aws-lc-rs for post-quantum key
        // exchange; ring builds with no C toolchain beyond cc, and classic
        // key exchange is what webhook receivers speak today.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let _ = provider.install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("workspaced-webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(PublicOnly);
        }
        let client = builder
            .build()
            .map_err(|e| format!("webhook client: {e}"))?;
        Ok(Sender { client })
    }

    /// Sends every delivery due by `now` (a batch at a time, concurrently)
    /// and records each attempt. Returns how many attempts were made.
    pub async fn deliver_due(
        &self,
        state: &AppState,
        now: Millis,
    ) -> Result<usize, crate::domain::Error> {
        let due = state.store.take_due_deliveries(now, BATCH).await?;
        let sends = due.iter().map(|d| self.attempt(state, d, now));
        let outcomes = futures_util::future::join_all(sends).await;
        // Each recorded on its own: one failing write does not send the
        // others again.
        for (d, outcome) in due.iter().zip(&outcomes) {
            if let Err(e) = state.store.finish_delivery(d, outcome).await {
                tracing::warn!(error = %e, delivery = %d.id, "could not record a webhook attempt");
            }
        }
        Ok(due.len())
    }

    async fn attempt(&self, state: &AppState, d: &DueDelivery, at: Millis) -> AttemptOutcome {
        let started = Instant::now();
        // Well inside the one-minute lease, name resolution included.
        let result = match tokio::time::timeout(2 * TIMEOUT, self.send(state, d, at)).await {
            Ok(r) => r,
            Err(_) => Err("timed out".to_owned()),
        };
        let duration_ms = started.elapsed().as_millis() as i64;
        match result {
            Ok(code) => AttemptOutcome {
                at,
                status_code: Some(code),
                error: (!(200..300).contains(&code))
                    .then(|| format!("the endpoint answered {code}")),
                duration_ms,
            },
            Err(error) => AttemptOutcome {
                at,
                status_code: None,
                error: Some(error),
                duration_ms,
            },
        }
    }

    async fn send(&self, state: &AppState, d: &DueDelivery, at: Millis) -> Result<u16, String> {
        let secret = state
            .cipher
            .open(d.webhook_id.as_str().as_bytes(), &d.sealed_secret)
            .map_err(|e| e.to_string())?;
        let secret = String::from_utf8(secret).map_err(|_| "the secret is not text".to_owned())?;
        if !state.config.webhooks.allow_private_urls {
            refuse_private_literal(&d.url)?;
        }
        let body = serde_json::json!({
            "type": d.event.kind,
            "timestamp": crate::domain::time::format(d.event.created_at),
            "data": EventResponse::from(d.event.clone()),
        })
        .to_string();
        let timestamp = at / 1000;
        let signature = sign(&secret, &d.id, timestamp, &body);
        let resp = self
            .client
            .post(&d.url)
            .header("content-type", "application/json")
            .header("webhook-id", &d.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out after 10 s".to_owned()
                } else if e.is_connect() {
                    "could not connect".to_owned()
                } else {
                    "the request failed".to_owned()
                }
            })?;
        Ok(resp.status().as_u16())
    }
}

/// A URL whose host is an address (no name to resolve) is checked here;
/// names go through [`PublicOnly`].
fn refuse_private_literal(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|_| "the URL does not parse".to_owned())?;
    let host = parsed.host().ok_or("the URL has no host")?;
    if is_local_host(&host) {
        return Err("refused: the URL points at a private address".into());
    }
    Ok(())
}

/// The system resolver, minus private, loopback and link-local addresses:
/// a name with only such addresses does not resolve.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_private_ip(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err("refused: the host resolves only to private addresses".into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub async fn run(state: AppState, stop: CancellationToken) {
    let sender = match Sender::new(state.config.webhooks.allow_private_urls) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "webhook deliveries are off");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
        loop {
            match sender.deliver_due(&state, now_ms()).await {
                Ok(n) if (n as i64) == BATCH && !stop.is_cancelled() => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook deliveries failed; will retry");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use reqwest::dns::Resolve;

    use super::*;

    #[test]
    fn literal_private_addresses_are_refused_at_send_time() {
        for u in [
            "http://127.0.0.1:9/x",
            "http://[::1]/",
            "http://2130706433/",
            "http://10.0.0.1/",
        ] {
            assert!(refuse_private_literal(u).is_err(), "{u}");
        }
        assert!(refuse_private_literal("https://hooks.example.com/x").is_ok());
    }

    #[tokio::test]
    async fn names_resolving_only_to_private_addresses_do_not_resolve() {
        let name = reqwest::dns::Name::from_str("localhost").unwrap();
        let err = PublicOnly
            .resolve(name)
            .await
            .err()
            .expect("localhost refused");
        assert!(err.to_string().contains("private"), "{err}");
    }
}
