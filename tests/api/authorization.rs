//! The authorization matrix: every workspace route, every kind of caller,
//! the exact status.

use serde_json::{json, Value};
use workspaced::domain::roles::Role;

use crate::helpers::*;

/// A caller kind, lowest privilege first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    NoToken,
    NonMember,
    Role(Role),
    PlatformAdmin,
}

const CALLERS: [Who; 7] = [
    Who::NoToken,
    Who::NonMember,
    Who::Role(Role::Viewer),
    Who::Role(Role::Member),
    Who::Role(Role::Admin),
    Who::Role(Role::Owner),
    Who::PlatformAdmin,
];

struct Route {
    method: &'static str,
    /// Appended to `/v1/workspaces/{id}`. `{project}`, `{codebase}` and
    /// `{bridge}` name one the owner creates in each fresh workspace.
    suffix: &'static str,
    body: fn(&Ctx) -> Option<Value>,
    min: Role,
    ok: u16,
}

struct Ctx {
    viewer_id: String,
}

fn routes() -> Vec<Route> {
    vec![
        Route {
            method: "GET",
            suffix: "",
            body: |_| None,
            min: Role::Viewer,
            ok: 200,
        },
        Route {
            method: "GET",
            suffix: "/permissions",
            body: |_| None,
            min: Role::Viewer,
            ok: 200,
        },
        Route {
            method: "PATCH",
            suffix: "",
            body: |_| Some(json!({"description": "changed"})),
            min: Role::Admin,
            ok: 200,
        },
        Route {
            method: "POST",
            suffix: "/archive",
            body: |_| Some(json!({"archive": true})),
            min: Role::Admin,
            ok: 200,
        },
        Route {
            method: "POST",
            suffix: "/permissions/check",
            body: |c| Some(json!({"user_id": c.viewer_id, "action": "workspace.read"})),
            min: Role::Admin,
            ok: 200,
        },
        Route {
            method: "POST",
            suffix: "/restore",
            body: |_| Some(json!({})),
            min: Role::Owner,
            ok: 200,
        },
        Route {
            method: "DELETE",
            suffix: "",
            body: |_| None,
            min: Role::Owner,
            ok: 200,
        },
    ]
    .into_iter()
    .chain(configuration_routes())
    .collect()
}

/// SPEC §7 and the logo: settings, providers, projects, codebases, bridges.
fn configuration_routes() -> Vec<Route> {
    let r = |method, suffix, body: fn(&Ctx) -> Option<Value>, min, ok| Route {
        method,
        suffix,
        body,
        min,
        ok,
    };
    vec![
        r("GET", "/settings", |_| None, Role::Viewer, 200),
        r(
            "PUT",
            "/settings",
            |_| Some(json!({"theme": "dark"})),
            Role::Admin,
            200,
        ),
        r(
            "PATCH",
            "/settings",
            |_| Some(json!({"theme": "dark"})),
            Role::Admin,
            200,
        ),
        r(
            "PUT",
            "/today-pin",
            |_| Some(json!({"note_id": "n1"})),
            Role::Member,
            200,
        ),
        r("GET", "/providers", |_| None, Role::Viewer, 200),
        r(
            "PUT",
            "/providers",
            |_| Some(json!({"providers": ["openai"]})),
            Role::Admin,
            200,
        ),
        r("GET", "/projects", |_| None, Role::Viewer, 200),
        r(
            "POST",
            "/projects",
            |_| Some(json!({"name": "P"})),
            Role::Member,
            201,
        ),
        r("GET", "/projects/{project}", |_| None, Role::Viewer, 200),
        r(
            "PATCH",
            "/projects/{project}",
            |_| Some(json!({"name": "Q"})),
            Role::Member,
            200,
        ),
        r("DELETE", "/projects/{project}", |_| None, Role::Member, 204),
        r("GET", "/codebases", |_| None, Role::Viewer, 200),
        r(
            "POST",
            "/codebases",
            |_| Some(json!({"name": "C", "source_type": "local", "path": "/c"})),
            Role::Member,
            201,
        ),
        r("GET", "/codebases/{codebase}", |_| None, Role::Viewer, 200),
        r(
            "PATCH",
            "/codebases/{codebase}",
            |_| Some(json!({"name": "D"})),
            Role::Member,
            200,
        ),
        r(
            "DELETE",
            "/codebases/{codebase}",
            |_| None,
            Role::Member,
            204,
        ),
        r("GET", "/bridges", |_| None, Role::Viewer, 200),
        r(
            "POST",
            "/bridges",
            |_| Some(json!({"kind": "notion", "name": "B", "credentials": {"t": "s"}})),
            Role::Admin,
            201,
        ),
        r("GET", "/bridges/{bridge}", |_| None, Role::Viewer, 200),
        r(
            "PATCH",
            "/bridges/{bridge}",
            |_| Some(json!({"enabled": false})),
            Role::Admin,
            200,
        ),
        r("DELETE", "/bridges/{bridge}", |_| None, Role::Admin, 204),
        r("DELETE", "/logo", |_| None, Role::Admin, 200),
    ]
}

/// Creates what a route's `{project}`/`{codebase}`/`{bridge}` names and
/// returns the suffix with it filled in.
async fn fill_suffix(app: &TestApp, owner: &Actor, ws: &Value, suffix: &str) -> String {
    let base = format!("/v1/workspaces/{}", ws["id"].as_str().unwrap());
    let mut out = suffix.to_owned();
    for (placeholder, list, body) in [
        ("{project}", "projects", json!({"name": "Seed"})),
        (
            "{codebase}",
            "codebases",
            json!({"name": "Seed", "source_type": "github", "repository": "a/b"}),
        ),
        (
            "{bridge}",
            "bridges",
            json!({"kind": "custom", "name": "Seed"}),
        ),
    ] {
        if out.contains(placeholder) {
            let r = app
                .post(&format!("{base}/{list}"), &owner.token, body)
                .await;
            r.assert(201);
            out = out.replace(placeholder, r.body["id"].as_str().unwrap());
        }
    }
    out
}

fn expected(who: Who, route: &Route) -> (u16, &'static str) {
    match who {
        Who::NoToken => (401, "unauthenticated"),
        Who::NonMember => (404, "not_found"),
        Who::PlatformAdmin => (route.ok, ""),
        Who::Role(r) if r >= route.min => (route.ok, ""),
        Who::Role(_) if route.min == Role::Owner => (403, "needs_owner"),
        Who::Role(_) => (403, "forbidden"),
    }
}

#[tokio::test]
async fn every_workspace_route_answers_each_caller_exactly() {
    let app = TestApp::spawn().await;
    let stranger = app.signup("Stranger").await;
    for route in routes() {
        for who in CALLERS {
            // A fresh workspace per call, so a write by one caller cannot
            // change what the next one sees.
            let owner = app.signup("Owner").await;
            let ws = app.workspace(&owner, "Matrix").await;
            let viewer = app.member_of(&ws, Role::Viewer).await;
            let ctx = Ctx {
                viewer_id: viewer.id.clone(),
            };
            let token = match who {
                Who::NoToken => None,
                Who::NonMember => Some(stranger.token.clone()),
                Who::Role(Role::Owner) => Some(owner.token.clone()),
                Who::Role(Role::Viewer) => Some(viewer.token.clone()),
                Who::Role(r) => Some(app.member_of(&ws, r).await.token),
                Who::PlatformAdmin => Some(ADMIN_TOKEN.to_owned()),
            };
            let suffix = fill_suffix(&app, &owner, &ws, route.suffix).await;
            let path = format!("/v1/workspaces/{}{}", ws["id"].as_str().unwrap(), suffix);
            let r = app
                .call(route.method, &path, token.as_deref(), (route.body)(&ctx))
                .await;
            let (status, code) = expected(who, &route);
            assert_eq!(
                r.status.as_u16(),
                status,
                "{} {} as {who:?}: {}",
                route.method,
                route.suffix,
                r.text
            );
            if !code.is_empty() {
                assert_eq!(
                    r.code(),
                    code,
                    "{} {} as {who:?}",
                    route.method,
                    route.suffix
                );
            }
        }
    }
}

#[tokio::test]
async fn list_and_create_need_a_user() {
    let app = TestApp::spawn().await;
    app.call("GET", "/v1/workspaces", None, None)
        .await
        .assert_problem(401, "unauthenticated");
    app.call("POST", "/v1/workspaces", None, Some(json!({"name": "x"})))
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/v1/workspaces", ADMIN_TOKEN)
        .await
        .assert_problem(403, "forbidden");
    app.post("/v1/workspaces", ADMIN_TOKEN, json!({"name": "x"}))
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn a_member_of_tenant_a_cannot_reach_tenant_b() {
    let app = TestApp::spawn().await;
    let a = app.signup("A").await;
    let b = app.signup("B").await;
    let ws_a = app.workspace(&a, "Tenant A").await;
    let ws_b = app.workspace(&b, "Tenant B").await;
    for key in [ws_b["id"].as_str().unwrap(), ws_b["slug"].as_str().unwrap()] {
        let base = format!("/v1/workspaces/{key}");
        app.get(&base, &a.token)
            .await
            .assert_problem(404, "not_found");
        app.patch(&base, &a.token, json!({"name": "pwned"}))
            .await
            .assert_problem(404, "not_found");
        app.delete(&base, &a.token)
            .await
            .assert_problem(404, "not_found");
        app.post(
            &format!("{base}/archive"),
            &a.token,
            json!({"archive": true}),
        )
        .await
        .assert_problem(404, "not_found");
    }
    let listed = app.get("/v1/workspaces", &a.token).await;
    let text = listed.text.clone();
    assert!(text.contains(ws_a["id"].as_str().unwrap()));
    assert!(!text.contains(ws_b["id"].as_str().unwrap()) && !text.contains("Tenant B"));
}

/// A member-area route whose path needs the ids of the story.
struct MemberRoute {
    method: &'static str,
    /// Appended to `/v1/workspaces/{id}`.
    suffix: fn(&MemberCtx) -> String,
    body: fn(&MemberCtx) -> Option<Value>,
    min: Role,
    ok: u16,
}

struct MemberCtx {
    viewer_id: String,
    stranger_id: String,
}

fn member_routes() -> Vec<MemberRoute> {
    vec![
        MemberRoute {
            method: "GET",
            suffix: |_| "/members".into(),
            body: |_| None,
            min: Role::Viewer,
            ok: 200,
        },
        MemberRoute {
            method: "POST",
            suffix: |_| "/members".into(),
            body: |c| Some(json!({"user_id": c.stranger_id})),
            min: Role::Admin,
            ok: 201,
        },
        MemberRoute {
            method: "PATCH",
            suffix: |c| format!("/members/{}", c.viewer_id),
            body: |_| Some(json!({"role": "member"})),
            min: Role::Admin,
            ok: 200,
        },
        MemberRoute {
            method: "DELETE",
            suffix: |c| format!("/members/{}", c.viewer_id),
            body: |_| None,
            min: Role::Admin,
            ok: 204,
        },
        MemberRoute {
            method: "POST",
            suffix: |_| "/transfer".into(),
            body: |c| Some(json!({"user_id": c.viewer_id})),
            min: Role::Owner,
            ok: 200,
        },
        MemberRoute {
            method: "GET",
            suffix: |_| "/invitations".into(),
            body: |_| None,
            min: Role::Admin,
            ok: 200,
        },
        MemberRoute {
            method: "POST",
            suffix: |_| "/invitations".into(),
            body: |_| Some(json!({"email": "invitee@example.com"})),
            min: Role::Admin,
            ok: 201,
        },
        MemberRoute {
            method: "POST",
            suffix: |_| "/join-code".into(),
            body: |_| Some(json!({"role": "viewer"})),
            min: Role::Admin,
            ok: 201,
        },
    ]
}

#[tokio::test]
async fn every_member_route_answers_each_caller_exactly() {
    let app = TestApp::spawn().await;
    let stranger = app.signup("Stranger").await;
    for route in member_routes() {
        for who in CALLERS {
            let owner = app.signup("Owner").await;
            let ws = app.workspace(&owner, "Matrix").await;
            let viewer = app.member_of(&ws, Role::Viewer).await;
            let ctx = MemberCtx {
                viewer_id: viewer.id.clone(),
                stranger_id: stranger.id.clone(),
            };
            let token = match who {
                Who::NoToken => None,
                Who::NonMember => Some(stranger.token.clone()),
                Who::Role(Role::Owner) => Some(owner.token.clone()),
                Who::Role(Role::Viewer) => Some(viewer.token.clone()),
                Who::Role(r) => Some(app.member_of(&ws, r).await.token),
                Who::PlatformAdmin => Some(ADMIN_TOKEN.to_owned()),
            };
            let suffix = (route.suffix)(&ctx);
            let path = format!("/v1/workspaces/{}{suffix}", ws["id"].as_str().unwrap());
            let r = app
                .call(route.method, &path, token.as_deref(), (route.body)(&ctx))
                .await;
            let plain = Route {
                method: route.method,
                suffix: "",
                body: |_| None,
                min: route.min,
                ok: route.ok,
            };
            let (status, code) = expected(who, &plain);
            assert_eq!(
                r.status.as_u16(),
                status,
                "{} {suffix} as {who:?}: {}",
                route.method,
                r.text
            );
            if !code.is_empty() {
                assert_eq!(r.code(), code, "{} {suffix} as {who:?}", route.method);
            }
        }
    }
}
