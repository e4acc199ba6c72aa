//! Application state, the router, and the server's lifecycle.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::crypto::Cipher;
use crate::http;
use crate::limits::RateLimiter;
use crate::store::Store;

/// Bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler reaches: one `Arc`, so the per-request clones axum
/// makes (state extractors, middleware) are one reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Store,
    pub config: Arc<Config>,
    pub limiter: Arc<RateLimiter>,
    /// SHA-256 of the configured platform-admin token, if any.
    pub admin_token_hash: Option<String>,
    pub metrics: Arc<http::metrics::Metrics>,
    /// Seals secrets (bridge credentials) under the server key.
    pub cipher: Cipher,
    /// The configured plans' limits, as JSON.
    pub plan_limits: http::workspaces::PlanLimits,
}

impl AppState {
    /// Builds the state; panics if the server key cannot be loaded (use
    /// [`AppState::try_new`] to report that instead).
    pub fn new(store: Store, config: Config) -> AppState {
        AppState::try_new(store, config).expect("server secret key")
    }

    /// Loads the server key (`secret_key` or `data_dir/secret.key`,
    /// generated on first start) and hands the configured plans to the store.
    pub fn try_new(store: Store, config: Config) -> Result<AppState, String> {
        let cipher = Cipher::load(&config)?;
        store.set_plans(config.plans.clone());
        let limiter = Arc::new(RateLimiter::new(store.clone(), config.rate_limits.clone()));
        Ok(AppState(Arc::new(Shared {
            admin_token_hash: config
                .admin_token
                .as_ref()
                .map(|t| crate::auth::token_hash(&t.0)),
            store,
            limiter,
            metrics: Arc::default(),
            plan_limits: http::workspaces::PlanLimits::new(&config.plans),
            config: Arc::new(config),
            cipher,
        })))
    }
}

/// The whole HTTP application.
///
/// The three layers (outermost first: request context, panic catcher, body
/// limit) go on in one `Router::layer` call: axum wraps every route in each
/// layer given to `layer` separately, behind a boxed service that is cloned
/// and whose future is boxed on every request, so one call for the stack
/// costs a request one such level instead of three.
pub fn build_router(state: AppState) -> Router {
    let layers = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::context::observe,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            http::panic_response,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    http::router(state.clone()).layer(layers).with_state(state)
}

/// Starts the background jobs; they stop when `stop` is cancelled.
pub fn spawn_jobs(state: &AppState, stop: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(crate::jobs::purge::run(state.clone(), stop.clone())),
        tokio::spawn(crate::jobs::scheduler::run(state.clone(), stop.clone())),
        tokio::spawn(crate::jobs::webhooks::run(state.clone(), stop.clone())),
        tokio::spawn(crate::jobs::counters::run(state.clone(), stop)),
    ]
}

/// Serves until SIGTERM or Ctrl-C, then drains requests in flight (up to
/// 30 s) and stops the jobs.
pub async fn serve(config: Config) -> Result<(), String> {
    let store = Store::connect(&config)
        .await
        .map_err(|e| format!("database: {e}"))?;
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let state = AppState::try_new(store, config).map_err(|e| format!("secret key: {e}"))?;
    let stop = CancellationToken::new();
    let jobs = spawn_jobs(&state, stop.clone());
    let app = build_router(state.clone());
    tracing::info!(
        listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        backend = ?state.store.backend(),
        "workspaced is serving"
    );
    let shutdown = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: draining requests in flight");
        shutdown.cancel();
    });
    let server = http::server::serve(http::listener::Listener(listener), app, stop.clone());
    let drained = stop.clone();
    tokio::select! {
        () = server => {}
        _ = async move { drained.cancelled().await; tokio::time::sleep(Duration::from_secs(30)).await } => {
            tracing::warn!("requests still in flight after 30 s; exiting");
        }
    }
    for j in jobs {
        let _ = tokio::time::timeout(Duration::from_secs(5), j).await;
    }
    state.limiter.flush().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
