//! Sends webhook deliveries (SPEC §9). Every replica runs this; each takes
//! due deliveries under a one-minute lease (`store::webhooks`), so an
//! attempt is sent by one replica, and a replica killed mid-send leaves the
//! delivery to be tried again when the lease ends (a receiver may then see
//! an attempt twice, with the same `webhook-id`: Standard Webhooks asks
//! receivers to deduplicate on it).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::domain::time::{now_ms, Millis};
use crate::domain::webhook::{is_private_ip, sign};
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
    pub fn new() -> Result<Sender, String> {
        // rustls with the ring provider (reqwest leaves the choice to us).
        // rustls now steers towards aws-lc-rs for post-quantum key
        // exchange; ring builds with no C toolchain beyond cc, and classic
        // key exchange is what webhook receivers speak today.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let _ = provider.install_default();
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("workspaced-webhooks/", env!("CARGO_PKG_VERSION")))
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
        for (d, outcome) in due.iter().zip(&outcomes) {
            state.store.finish_delivery(d, outcome).await?;
        }
        Ok(due.len())
    }

    /// One attempt, recorded as made at `at` (the batch's time).
    async fn attempt(&self, state: &AppState, d: &DueDelivery, at: Millis) -> AttemptOutcome {
        let started = Instant::now();
        let result = self.send(state, d, at).await;
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
            refuse_private(&d.url).await?;
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

/// Resolves the URL's host and refuses private, loopback and link-local
/// addresses (the check at creation saw only the name).
async fn refuse_private(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "the URL does not parse".to_owned())?;
    let host = parsed.host_str().ok_or("the URL has no host")?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| "the host name does not resolve".to_owned())?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.iter().any(|ip| is_private_ip(*ip)) {
        return Err("refused: the host resolves to a private address".into());
    }
    Ok(())
}

pub async fn run(state: AppState, stop: CancellationToken) {
    let sender = match Sender::new() {
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
