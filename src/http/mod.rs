//! The HTTP layer: routes, extractors, error mapping. Handlers parse at the
//! edge, call the store with domain values, and shape the response.

pub mod accounts;
pub mod admin;
pub mod bridges;
pub mod codebases;
pub mod context;
pub mod error;
pub mod events;
pub mod extract;
pub mod idempotency;
pub mod invitations;
pub mod join_codes;
pub mod json;
pub mod listener;
pub mod logos;
pub mod members;
pub mod metrics;
pub mod ops;
pub mod org_members;
pub mod organizations;
pub mod projects;
pub mod reference;
pub mod response;
pub mod runs;
pub mod server;
pub mod settings;
pub mod webhooks;
pub mod workspaces;

use axum::response::{IntoResponse, Response};
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use error::{ApiError, Code};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "workspaced",
        description = "Workspaces, organizations, members and roles behind one JSON API. \
            Errors are application/problem+json with a stable `code`.",
    ),
    modifiers(&BearerAuth),
    components(schemas(error::Problem)),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route, and the OpenAPI document generated from the same list.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let mut doc = ApiDoc::openapi();
    doc.openapi = utoipa::openapi::OpenApiVersion::Version31;
    let (router, doc) = OpenApiRouter::with_openapi(doc)
        .merge(ops::routes())
        .merge(metrics::routes())
        .merge(reference::routes())
        .merge(accounts::routes())
        .merge(workspaces::routes())
        .merge(members::routes())
        .merge(invitations::routes())
        .merge(join_codes::routes())
        .merge(organizations::routes())
        .merge(settings::routes())
        .merge(projects::routes())
        .merge(codebases::routes())
        .merge(bridges::routes())
        .merge(runs::routes())
        .merge(events::routes())
        .merge(webhooks::routes())
        .merge(logos::routes())
        .merge(admin::routes())
        .split_for_parts();
    (router, problem_content_type(doc))
}

/// Makes the document say what is sent, once for every operation rather
/// than in every `#[utoipa::path]`:
/// - utoipa documents `body = Problem` as `application/json`; errors are
///   sent as `application/problem+json` (error.rs);
/// - answers every operation of a kind can give, whatever its handler:
///   400/413/415 for a body (malformed JSON, too large, wrong type), 400 for
///   query parameters, 401 and 429 (`requests` limit) for authenticated
///   operations, 409/422 for writes (`Idempotency-Key`).
///
/// schemathesis checks both against the running server.
fn problem_content_type(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use serde_json::{json, Value};
    let problem = |description: &str| {
        json!({"description": description,
               "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
    };
    let mut v = serde_json::to_value(&doc).expect("openapi serializes");
    if let Some(paths) = v.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for item in paths.values_mut().filter_map(|i| i.as_object_mut()) {
            for (method, op) in item.iter_mut() {
                let has_body = op.get("requestBody").is_some();
                let has_query = op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
                let public = op.get("security") == Some(&json!([{}]));
                let write = matches!(method.as_str(), "post" | "put" | "patch" | "delete");
                let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut())
                else {
                    continue;
                };
                for resp in responses.values_mut() {
                    let Some(content) = resp.get_mut("content").and_then(|c| c.as_object_mut())
                    else {
                        continue;
                    };
                    let is_problem = content
                        .get("application/json")
                        .and_then(|c| c.pointer("/schema/$ref"))
                        .and_then(|r| r.as_str())
                        == Some("#/components/schemas/Problem");
                    if is_problem {
                        let c = content.remove("application/json").expect("checked");
                        content.insert("application/problem+json".into(), c);
                    }
                }
                let mut add = |code: &str, description: &str| {
                    responses
                        .entry(code.to_owned())
                        .or_insert_with(|| problem(description));
                };
                if has_body || has_query {
                    add("400", "Malformed or invalid request (`invalid_json`, `validation_failed`, `unknown_field`, `invalid_parameter`)");
                }
                if has_body {
                    add("413", "The body is over 1 MiB (`payload_too_large`)");
                    add(
                        "415",
                        "The body is not of a type this operation takes (`unsupported_media_type`)",
                    );
                }
                if !public {
                    add(
                        "401",
                        "Missing, malformed, unknown or expired token (`unauthenticated`)",
                    );
                    add("429", "Rate limited (`rate_limited`); see `Retry-After`");
                }
                if write && !public {
                    add("409", "Conflict, or a repeat of a request still running with the same `Idempotency-Key`");
                    add("422", "The `Idempotency-Key` was used for a different request (`idempotency_key_reused`)");
                }
            }
        }
    }
    serde_json::from_value(v).expect("openapi deserializes")
}

/// The routes of [`api`], every one of them in the document: add a route
/// there (`routes!`), never here, or `/openapi.json` stops matching the
/// server.
pub fn router(_state: AppState) -> Router<AppState> {
    let (routes, doc) = api();
    reference::init(&doc);
    routes
        .fallback(|| async { ApiError::new(Code::NotFound, "No such route.") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                Code::MethodNotAllowed,
                "This route does not take that method.",
            )
        })
}

/// A panic inside a handler becomes a bare 500 problem; the panic itself is
/// logged, never sent.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = msg, "handler panicked");
    ApiError::new(
        Code::Internal,
        "Internal error; quote the request id when reporting it.",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    /// A route added to an axum `Router` directly (`route`, `nest`, ...)
    /// would be served without being in `/openapi.json`: every route goes
    /// through `api()`'s `routes!`, which documents it. (Test modules may
    /// build routers of their own.)
    #[test]
    fn no_route_is_added_outside_the_document() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut files = vec![std::path::PathBuf::from(root).join("app.rs")];
        let mut dirs = vec![std::path::PathBuf::from(root).join("http")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                assert!(
                    !code.contains(call),
                    "{} adds a route with `{call}`: use `routes!` in `api()`",
                    file.display()
                );
            }
        }
    }
}
