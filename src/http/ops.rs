//! Health and readiness (SPEC §10). The other operations routes are
//! `/metrics` (`metrics.rs`) and `/openapi.json` and `/docs`
//! (`reference.rs`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::store::Readiness;

#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthResponse {
    /// `ok` (alive), `ready`, or `unavailable`.
    pub status: &'static str,
    /// Why the server is unavailable: `database_unreachable` or
    /// `migrations_pending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The same, for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl HealthResponse {
    fn up(status: &'static str) -> Json<HealthResponse> {
        Json(HealthResponse {
            status,
            reason: None,
            detail: None,
        })
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, body = HealthResponse)))]
pub async fn healthz() -> Json<HealthResponse> {
    HealthResponse::up("ok")
}

/// Readiness: the database answers and has every migration this server
/// knows applied.
///
/// 503 otherwise, with `reason` `database_unreachable` or
/// `migrations_pending` (run `workspaced migrate`, or start this version of
/// the server once: it migrates at start).
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses((status = 200, description = "Ready", body = HealthResponse),
        (status = 503, description = "Not ready: `reason` says why", body = HealthResponse)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<HealthResponse>) {
    let (reason, detail) = match state.store.readiness().await {
        Ok(Readiness::Ready) => return (StatusCode::OK, HealthResponse::up("ready")),
        Ok(Readiness::MigrationsPending(pending)) => {
            tracing::warn!(pending = ?pending, "not ready: migrations pending");
            (
                "migrations_pending",
                format!(
                    "The database lacks {} migration(s) this server needs: {}.",
                    pending.len(),
                    pending.join(", ")
                ),
            )
        }
        Err(e) => {
            // The cause goes to the log, not to an unauthenticated caller.
            tracing::warn!(error = %e, "not ready: database unreachable");
            (
                "database_unreachable",
                "The database did not answer.".to_owned(),
            )
        }
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(HealthResponse {
            status: "unavailable",
            reason: Some(reason),
            detail: Some(detail),
        }),
    )
}
