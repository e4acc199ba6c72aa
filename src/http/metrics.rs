//! `GET /metrics` in the Prometheus (OpenMetrics) text format: request
//! counts and latency histograms, both by method, route and status; database
//! connections; the run queue's depth. Platform admin only, unless
//! `metrics_public = true` (a scraper on a private network).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Code, Problem};
use crate::app::AppState;
use crate::domain::account::TokenKind;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub state: &'static str,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
    pool: Family<PoolLabels, Gauge>,
    /// Runs waiting for a worker, read at each scrape.
    queued_runs: Gauge,
    /// The two families' metrics of each route, method and status seen, as
    /// handles that share the families' counts. A request then costs one
    /// foldhash lookup by the route's `&str`; asking the families would cost
    /// two SipHash lookups of an owned label set, two strings allocated for it.
    seen: Mutex<HashMap<Box<str>, Vec<Seen>, foldhash::fast::RandomState>>,
}

struct Seen {
    method: &'static str,
    status: u16,
    requests: Counter,
    latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
        });
        let pool = Family::<PoolLabels, Gauge>::default();
        let mut registry = Registry::with_prefix("workspaced");
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route and status",
            latency.clone(),
        );
        registry.register(
            "db_connections",
            "Database connections by state",
            pool.clone(),
        );
        let queued_runs = Gauge::default();
        registry.register(
            "runs_queued",
            "Runs waiting for a worker (queue depth)",
            queued_runs.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            requests,
            latency,
            pool,
            queued_runs,
            seen: Mutex::default(),
        }
    }
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        // Label values must stay a small set: unknown methods fold into one.
        let method = match method {
            "GET" => "GET",
            "POST" => "POST",
            "PUT" => "PUT",
            "PATCH" => "PATCH",
            "DELETE" => "DELETE",
            "HEAD" => "HEAD",
            "OPTIONS" => "OPTIONS",
            _ => "OTHER",
        };
        let mut seen = self.seen.lock().expect("metrics poisoned");
        if !seen.contains_key(route) {
            seen.insert(route.into(), Vec::new());
        }
        let of_route = seen.get_mut(route).expect("inserted above");
        let at = match of_route
            .iter()
            .position(|s| s.method == method && s.status == status)
        {
            Some(at) => at,
            None => {
                of_route.push(self.handles(method, route, status));
                of_route.len() - 1
            }
        };
        let s = &of_route[at];
        s.requests.inc();
        s.latency.observe(seconds);
    }

    /// The families' metrics of a route, method and status (created on
    /// first use).
    fn handles(&self, method: &'static str, route: &str, status: u16) -> Seen {
        let labels = RequestLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        let requests = self.requests.get_or_create(&labels).clone();
        let latency = self.latency.get_or_create(&labels).clone();
        Seen {
            method,
            status,
            requests,
            latency,
        }
    }
}

/// Prometheus metrics, in the OpenMetrics text format: request counts and
/// latency histograms by method, route and status, database connections, and
/// the run queue's depth.
///
/// Needs the platform admin token (any other token: 403), unless the server
/// is configured with `metrics_public = true`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "The metrics", body = String,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 401, description = "No token, or not a valid one (`unauthenticated`)", body = Problem),
        (status = 403, description = "A token that is not the platform admin's (`forbidden`)", body = Problem)))]
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !state.config.metrics_public {
        let token =
            super::extract::bearer(&headers).ok_or(crate::domain::Error::Unauthenticated)?;
        let hash = crate::auth::token_hash(token);
        let admin = state.admin_token_hash.as_deref() == Some(hash.as_str())
            || state
                .store
                .authenticate(&hash, crate::domain::time::now_ms())
                .await?
                .is_some_and(|a| a.kind == TokenKind::Admin);
        if !admin {
            return Err(ApiError::new(
                Code::Forbidden,
                "Metrics need the platform admin token.",
            ));
        }
    }
    let (in_use, idle) = state.store.pool_state();
    state
        .metrics
        .pool
        .get_or_create(&PoolLabels { state: "in_use" })
        .set(in_use);
    state
        .metrics
        .pool
        .get_or_create(&PoolLabels { state: "idle" })
        .set(idle);
    state
        .metrics
        .queued_runs
        .set(state.store.queued_runs().await?);
    let mut out = String::new();
    prometheus_client::encoding::text::encode(
        &mut out,
        &state.metrics.registry.lock().expect("registry"),
    )
    .map_err(|e| crate::domain::Error::Internal(e.to_string()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response())
}
