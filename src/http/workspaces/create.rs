//! Creating workspaces.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::*;
use crate::app::AppState;
use crate::config::Template;
use crate::domain::bridge::NewBridge;
use crate::domain::ids::{BridgeId, OrganizationId, UserId};
use crate::domain::json;
use crate::domain::slug::Slug;
use crate::domain::validation::{FieldError, Validator};
use crate::domain::workspace::{self, NewWorkspace, OptionalFields, OrgChoice};
use crate::domain::Error;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{report_rate, AppJson, Caller};
use crate::store::workspaces::CountedLimit;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganizationInline {
    /// Defaults to the workspace's name.
    pub name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspaceRequest {
    /// 2-50 characters after trimming. Required; checked with the other
    /// fields, so a missing name is listed with every other invalid field.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Generated from the name when omitted.
    pub slug: Option<String>,
    pub description: Option<String>,
    pub icon: Option<String>,
    pub domain: Option<String>,
    pub repo_path: Option<String>,
    pub branch: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Create it in this organization (the caller must be a member).
    pub organization_id: Option<String>,
    /// Create a new organization with it, in the same transaction.
    pub organization: Option<NewOrganizationInline>,
}

fn optional_doc(v: &mut Validator, field: &str, doc: Option<Value>) -> Map<String, Value> {
    match doc {
        None | Some(Value::Null) => Map::new(),
        Some(d) => v.check(json::object(field, d)).unwrap_or_default(),
    }
}

/// Turns a create request into a validated [`NewWorkspace`], starting from
/// the configured template (the client's settings win over its settings).
fn parse_new_workspace(
    req: CreateWorkspaceRequest,
    owner: UserId,
    template: &Template,
) -> Result<NewWorkspace, Error> {
    let mut v = Validator::new();
    let name = v
        .required("name", req.name.as_deref())
        .and_then(|n| v.check(workspace::name(n)));
    let slug = v.check_opt(req.slug, |s| Slug::parse("slug", &s).map(Slug::into_string));
    let fields = OptionalFields {
        description: v.check_opt(req.description, |s| workspace::description(&s)),
        icon: v.check_opt(req.icon, |s| workspace::icon(&s)),
        domain: v.check_opt(req.domain, |s| workspace::domain(&s)),
        repo_path: v.check_opt(req.repo_path, |s| workspace::repo_path(&s)),
        branch: v.check_opt(req.branch, |s| workspace::branch(&s)),
    };
    let given = optional_doc(&mut v, "settings", req.settings);
    let mut settings = template.settings.clone();
    settings.extend(given);
    if v.is_ok() {
        if let Err(errors) = crate::domain::settings::validate(&settings) {
            errors.into_iter().for_each(|e| v.push(e));
        }
    }
    let metadata = optional_doc(&mut v, "metadata", req.metadata);
    let organization = match (req.organization_id, req.organization) {
        (Some(_), Some(_)) => {
            v.push(FieldError::new(
                "organization",
                "invalid",
                "give organization_id or organization, not both",
            ));
            None
        }
        (Some(id), None) => match OrganizationId::parse(&id) {
            Some(id) => Some(OrgChoice::Existing(id)),
            // An id that cannot exist is as unknown as one that does not.
            None => return Err(Error::NotFound),
        },
        (None, Some(org)) => {
            // Defaults to the workspace's name (already reported if missing).
            org.name.or(req.name).and_then(|raw| {
                v.check(crate::domain::validation::text(
                    "organization.name",
                    &raw,
                    2,
                    80,
                ))
                .map(|name| OrgChoice::New { name })
            })
        }
        (None, None) => None,
    };
    v.finish()?;
    Ok(NewWorkspace {
        name: name.expect("checked"),
        slug,
        fields,
        settings,
        metadata,
        organization,
        owner,
        providers: template.providers.clone(),
        bridges: template
            .bridges
            .iter()
            .map(|b| NewBridge {
                id: BridgeId::new(),
                kind: b.kind.clone(),
                name: b.name.trim().to_owned(),
                config: b.config.clone(),
                enabled: b.enabled,
                credentials: None,
            })
            .collect(),
    })
}

/// Creates a workspace; the caller becomes its owner. Counts against the
/// `workspace_create` rate limit.
#[utoipa::path(post, path = "/v1/workspaces", tag = "workspaces", request_body = CreateWorkspaceRequest,
    responses((status = 201, body = WorkspaceResponse), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "slug_taken"), (status = 429, body = Problem)))]
pub async fn create_workspace(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(req): AppJson<CreateWorkspaceRequest>,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let new = parse_new_workspace(req, user.clone(), &state.config.template)?;
    let spec = &state.config.rate_limits.workspace_create;
    let limit = CountedLimit {
        key: format!("workspace_create:{user}"),
        spec,
    };
    let (ws, rate) = state
        .store
        .create_workspace(
            &new,
            Some(limit),
            state.config.policy.max_owned_workspaces_per_user,
        )
        .await?;
    // The count the create's own transaction brought the window to.
    if let Some(info) = rate {
        report_rate(info);
    }
    let location = format!("/v1/workspaces/{}", ws.id);
    let mut resp = versioned(&state, StatusCode::CREATED, ws).into_response();
    if let Ok(v) = location.parse() {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}
