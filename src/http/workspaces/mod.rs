//! Workspaces (SPEC §3) and the caller's permissions on them (SPEC §4).
//!
//! Split by operation: `create`, `read` (list and get), `update`,
//! `lifecycle` (archive, delete, restore), `permissions`.

mod create;
mod lifecycle;
mod permissions;
mod read;
mod update;

pub use create::*;
pub use lifecycle::*;
pub use permissions::*;
pub use read::*;
pub use update::*;

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::domain::plans::{self, Limits, Plans};
use crate::domain::roles::Role;
use crate::domain::time::Timestamp;
use crate::domain::workspace::Workspace;
use crate::http::response::Versioned;
use crate::store::organizations::OrganizationSummary;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_workspace, list_workspaces))
        .routes(routes!(get_workspace, update_workspace, delete_workspace))
        .routes(routes!(archive_workspace))
        .routes(routes!(restore_workspace))
        .routes(routes!(get_permissions))
        .routes(routes!(check_permission))
}

/// A workspace as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceResponse {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub icon: Option<String>,
    pub domain: Option<String>,
    pub repo_path: Option<String>,
    pub branch: Option<String>,
    /// `active`, `archived` or `deleted`.
    pub status: &'static str,
    pub organization_id: Option<String>,
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    #[schema(value_type = Object)]
    pub onboarding: Map<String, Value>,
    #[schema(value_type = Option<String>)]
    pub onboarding_completed_at: Option<Timestamp>,
    pub logo_url: Option<String>,
    pub plan: String,
    #[schema(value_type = Limits)]
    pub limits: LimitsJson,
    #[schema(value_type = Option<String>)]
    pub trial_ends_at: Option<Timestamp>,
    pub member_count: i64,
    /// The caller's effective role (direct or inherited from the
    /// organization); null for the platform admin.
    pub role: Option<Role>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub archived_at: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub deleted_at: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub purge_at: Option<Timestamp>,
    pub version: i64,
    /// With `expand=organization`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<Option<OrganizationSummary>>,
    /// With `expand=codebases`: the newest 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codebases: Option<Vec<crate::http::codebases::CodebaseResponse>>,
}

impl WorkspaceResponse {
    /// The response with `limits` from the configured plans.
    /// (There is no `From<Workspace>`: limits must come from the
    /// configured plans, never from the built-in defaults.)
    pub fn new(w: Workspace, limits: &PlanLimits) -> Self {
        WorkspaceResponse {
            logo_url: w.logo_key.as_ref().map(|k| format!("/v1/logos/{k}")),
            limits: limits.of(&w.plan),
            id: w.id.into(),
            slug: w.slug,
            name: w.name,
            description: w.description,
            icon: w.icon,
            domain: w.domain,
            repo_path: w.repo_path,
            branch: w.branch,
            status: w.status.as_str(),
            organization_id: w.organization_id.map(Into::into),
            settings: w.settings,
            metadata: w.metadata,
            onboarding: w.onboarding,
            onboarding_completed_at: Timestamp::opt(w.onboarding_completed_at),
            plan: w.plan,
            trial_ends_at: Timestamp::opt(w.trial_ends_at),
            member_count: w.member_count,
            role: w.role,
            created_at: Timestamp(w.created_at),
            updated_at: Timestamp(w.updated_at),
            archived_at: Timestamp::opt(w.archived_at),
            deleted_at: Timestamp::opt(w.deleted_at),
            purge_at: Timestamp::opt(w.purge_at),
            version: w.version,
            organization: None,
            codebases: None,
        }
    }
}

/// Each plan's `limits` object, serialized once when the server starts: the
/// same five numbers in every workspace of a list took 1,400 instructions
/// each to write (a fifth of what a list page spends on JSON).
pub struct PlanLimits {
    by_plan: HashMap<String, LimitsJson>,
    /// For a plan no longer configured (see [`Plans::limits`]).
    unconfigured: LimitsJson,
}

impl PlanLimits {
    pub fn new(plans: &Plans) -> Self {
        PlanLimits {
            by_plan: plans
                .0
                .iter()
                .map(|(name, plan)| (name.clone(), LimitsJson::of(&plan.limits)))
                .collect(),
            unconfigured: LimitsJson::of(&plans::UNCONFIGURED),
        }
    }

    pub fn of(&self, plan: &str) -> LimitsJson {
        self.by_plan.get(plan).unwrap_or(&self.unconfigured).clone()
    }
}

/// A plan's [`Limits`], already JSON.
#[derive(Clone)]
pub struct LimitsJson(Arc<RawValue>);

impl LimitsJson {
    fn of(limits: &Limits) -> Self {
        let json = serde_json::value::to_raw_value(limits).expect("limits serialize");
        LimitsJson(Arc::from(json))
    }
}

impl Serialize for LimitsJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A workspace with its ETag; `limits` from the configured plans.
pub fn versioned(
    state: &AppState,
    status: StatusCode,
    ws: Workspace,
) -> Versioned<WorkspaceResponse> {
    Versioned {
        status,
        version: ws.version,
        body: WorkspaceResponse::new(ws, &state.plan_limits),
    }
}

/// Deserializes a present field (even `null`) as `Some`, so PATCH can tell
/// "absent" from "set to null".
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}
