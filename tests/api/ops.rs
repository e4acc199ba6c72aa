use serde_json::json;
use workspaced::store::db::Backend;

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let app = TestApp::spawn().await;
    let h = app.call("GET", "/healthz", None, None).await;
    h.assert(200);
    assert_eq!(h.body["status"], "ok");
    let r = app.call("GET", "/readyz", None, None).await;
    r.assert(200);
    assert_eq!(r.body["status"], "ready");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let r = app
        .call_with(
            "GET",
            "/healthz",
            None,
            None,
            &[("x-request-id", "abc-123")],
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some("abc-123"));
    let r = app.call("GET", "/v1/me", None, None).await;
    let id = r.header("x-request-id").unwrap().to_owned();
    assert!(id.len() >= 16);
    assert_eq!(
        r.body["request_id"],
        id.as_str(),
        "the problem body carries the same id"
    );
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let app = TestApp::spawn().await;
    let r = app.call("GET", "/openapi.json", None, None).await;
    r.assert(200);
    assert_eq!(r.body["openapi"], "3.1.0");
    let paths = r.body["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/healthz", &["get"][..]),
        ("/readyz", &["get"]),
        ("/metrics", &["get"]),
        ("/openapi.json", &["get"]),
        ("/docs", &["get"]),
        ("/v1/auth/signup", &["post"]),
        ("/v1/auth/login", &["post"]),
        ("/v1/auth/logout", &["post"]),
        ("/v1/me", &["get", "patch"]),
        ("/v1/me/tokens", &["get", "post"]),
        ("/v1/me/tokens/{id}", &["delete"]),
        ("/v1/admin/tokens", &["post"]),
        ("/v1/workspaces", &["get", "post"]),
        ("/v1/workspaces/{workspace}", &["get", "patch", "delete"]),
        ("/v1/workspaces/{workspace}/archive", &["post"]),
        ("/v1/workspaces/{workspace}/restore", &["post"]),
        ("/v1/workspaces/{workspace}/permissions", &["get"]),
        ("/v1/workspaces/{workspace}/permissions/check", &["post"]),
        ("/v1/me", &["delete"]),
        ("/v1/me/invitations", &["get"]),
        ("/v1/workspaces/{workspace}/members", &["get", "post"]),
        (
            "/v1/workspaces/{workspace}/members/{user_id}",
            &["patch", "delete"],
        ),
        ("/v1/workspaces/{workspace}/leave", &["post"]),
        ("/v1/workspaces/{workspace}/transfer", &["post"]),
        ("/v1/workspaces/{workspace}/invitations", &["get", "post"]),
        ("/v1/workspaces/{workspace}/invitations/{id}", &["delete"]),
        (
            "/v1/workspaces/{workspace}/invitations/{id}/resend",
            &["post"],
        ),
        ("/v1/invitations/accept", &["post"]),
        ("/v1/invitations/decline", &["post"]),
        (
            "/v1/workspaces/{workspace}/join-code",
            &["get", "post", "delete"],
        ),
        ("/v1/join", &["post"]),
        ("/v1/organizations", &["get", "post"]),
        ("/v1/organizations/{org}", &["get", "patch", "delete"]),
        ("/v1/organizations/{org}/workspaces", &["get"]),
        ("/v1/organizations/{org}/members", &["get", "post"]),
        (
            "/v1/organizations/{org}/members/{user_id}",
            &["patch", "delete"],
        ),
        (
            "/v1/workspaces/{workspace}/settings",
            &["get", "put", "patch"],
        ),
        ("/v1/workspaces/{workspace}/today-pin", &["put"]),
        ("/v1/workspaces/{workspace}/providers", &["get", "put"]),
        ("/v1/workspaces/{workspace}/projects", &["get", "post"]),
        (
            "/v1/workspaces/{workspace}/projects/{project}",
            &["get", "patch", "delete"],
        ),
        ("/v1/workspaces/{workspace}/codebases", &["get", "post"]),
        (
            "/v1/workspaces/{workspace}/codebases/{id}",
            &["get", "patch", "delete"],
        ),
        ("/v1/workspaces/{workspace}/bridges", &["get", "post"]),
        (
            "/v1/workspaces/{workspace}/bridges/{id}",
            &["get", "patch", "delete"],
        ),
        ("/v1/workspaces/{workspace}/logo", &["put", "delete"]),
        ("/v1/logos/{key}", &["get"]),
        ("/v1/admin/workspaces/{workspace}/plan", &["put"]),
    ] {
        for m in methods {
            assert!(
                paths.get(path).and_then(|p| p.get(*m)).is_some(),
                "{m} {path} is not documented"
            );
        }
    }
    assert!(r.body["components"]["schemas"]["Problem"].is_object());
    // Every documented operation answers something other than 404/405 here.
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Docs").await;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{workspace}", ws["id"].as_str().unwrap())
                .replace("{id}", "tok_00000000000000000000000000000000");
            let body = (method != "get" && method != "delete").then(|| json!({}));
            let r = app
                .call(&method.to_uppercase(), &concrete, Some(&ada.token), body)
                .await;
            assert_ne!(r.status.as_u16(), 405, "{method} {path}");
            assert!(
                r.status.as_u16() != 404 || r.code() == "not_found",
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn the_router_serves_no_method_the_document_leaves_out() {
    let app = TestApp::spawn().await;
    let doc = app.call("GET", "/openapi.json", None, None).await.body;
    let ada = app.signup("Ada").await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{workspace}", "some-workspace")
            .replace("{key}", &"0".repeat(64));
        for method in ["get", "post", "put", "patch", "delete", "options"] {
            if item.get(method).is_some() {
                continue;
            }
            app.call(&method.to_uppercase(), &concrete, Some(&ada.token), None)
                .await
                .assert_problem(405, "method_not_allowed");
        }
    }
}

/// What each operations route sends (status and media type) is what the
/// document says it sends.
#[tokio::test]
async fn the_operations_routes_answer_as_documented() {
    let app = TestApp::spawn().await;
    let doc = app.call("GET", "/openapi.json", None, None).await.body;
    let ada = app.signup("Ada").await;
    for (path, token) in [
        ("/healthz", None),
        ("/readyz", None),
        ("/openapi.json", None),
        ("/docs", None),
        ("/metrics", Some(ADMIN_TOKEN)),
        ("/metrics", Some(ada.token.as_str())),
        ("/metrics", None),
    ] {
        let op = &doc["paths"][path]["get"];
        assert!(op.is_object(), "GET {path} is not documented");
        assert_eq!(op["tags"][0], "operations", "{path}");
        let r = app.call("GET", path, token, None).await;
        let status = r.status.as_str();
        let documented = op["responses"][status]["content"]
            .as_object()
            .unwrap_or_else(|| panic!("GET {path}: {status} is not documented"));
        let sent = r.header("content-type").unwrap();
        let media = |t: &str| t.split(';').next().unwrap().trim().to_owned();
        assert!(
            documented.keys().any(|k| media(k) == media(sent)),
            "GET {path} answered {status} as {sent}, documented as {:?}",
            documented.keys().collect::<Vec<_>>()
        );
    }
    let public = serde_json::json!([{}]);
    for path in ["/healthz", "/readyz", "/openapi.json", "/docs"] {
        assert_eq!(doc["paths"][path]["get"]["security"], public, "{path}");
    }
    assert_ne!(doc["paths"]["/metrics"]["get"]["security"], public);
}

#[tokio::test]
async fn the_reference_page_needs_no_token_and_no_network() {
    let app = TestApp::spawn().await;
    let r = app.call("GET", "/docs", None, None).await;
    r.assert(200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text.contains("/openapi.json"));
    // Nothing is loaded from elsewhere (the text may mention URLs).
    for outside in ["<script", "<link", " src=", "url(", "@import"] {
        assert!(!r.text.contains(outside), "the page has {outside}");
    }
    for href in r.text.split("href=\"").skip(1) {
        assert!(
            href.starts_with('#') || href.starts_with('/'),
            "a link away from the server: {}",
            &href[..href.len().min(40)]
        );
    }
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .starts_with("default-src 'none'"));
}

#[tokio::test]
async fn the_reference_page_reads_without_javascript() {
    let app = TestApp::spawn().await;
    let page = app.call("GET", "/docs", None, None).await.text;
    let doc = app.call("GET", "/openapi.json", None, None).await.body;
    for path in [
        "/v1/workspaces",
        "/v1/workspaces/{workspace}/members",
        "/metrics",
    ] {
        assert!(
            page.contains(&format!(r#"<span class="p">{path}</span>"#)),
            "{path} is not on the page"
        );
    }
    // Every operation is there, with its method and its summary's start.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let shown = format!(
                r#"<span class="m {method}">{}</span><span class="p">{path}</span>"#,
                method.to_uppercase()
            );
            assert!(page.contains(&shown), "{method} {path} is not on the page");
            let summary = op["summary"].as_str().unwrap();
            let start: String = summary
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == ' ')
                .collect();
            assert!(page.contains(start.trim()), "{method} {path}: {summary}");
        }
    }
    assert!(page.contains(r#"<h2 id="tag-members">members</h2>"#));
    assert!(page.contains(r#"id="schema-Problem""#));
}

#[tokio::test]
async fn readiness_needs_every_migration_applied() {
    let app = TestApp::spawn().await;
    app.call("GET", "/readyz", None, None).await.assert(200);
    // The last migration this binary knows goes missing from the bookkeeping.
    let known = workspaced::store::migrations::SQLITE;
    let (last, _) = known[known.len() - 1];
    let n = known.len();
    let (forget, restore) = match app.store.backend() {
        // rusqlite_migration counts the migrations applied in user_version.
        Backend::Sqlite => (
            format!("PRAGMA user_version = {}", n - 1),
            format!("PRAGMA user_version = {n}"),
        ),
        // sqlx's bookkeeping: a row per version, `success` once applied.
        Backend::Postgres => (
            format!("UPDATE _sqlx_migrations SET success = false WHERE version = {n}"),
            format!("UPDATE _sqlx_migrations SET success = true WHERE version = {n}"),
        ),
    };
    app.store.execute_sql(&forget, vec![]).await.unwrap();
    let r = app.call("GET", "/readyz", None, None).await;
    r.assert(503);
    assert_eq!(r.body["status"], "unavailable");
    assert_eq!(r.body["reason"], "migrations_pending");
    assert!(
        r.body["detail"].as_str().unwrap().contains(last),
        "{}",
        r.text
    );
    // Alive all the same.
    app.call("GET", "/healthz", None, None).await.assert(200);
    app.store.execute_sql(&restore, vec![]).await.unwrap();
    let r = app.call("GET", "/readyz", None, None).await;
    r.assert(200);
    assert_eq!(r.body, serde_json::json!({"status": "ready"}));
}

#[tokio::test]
async fn metrics_are_for_the_platform_admin() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    // Twice: the second is counted through the handle kept from the first.
    app.get("/v1/me", &ada.token).await.assert(200);
    app.get("/v1/me", &ada.token).await.assert(200);
    app.call("GET", "/metrics", None, None)
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/metrics", &ada.token)
        .await
        .assert_problem(403, "forbidden");
    let r = app.get("/metrics", ADMIN_TOKEN).await;
    r.assert(200);
    assert!(
        r.text.contains(
            r#"workspaced_http_requests_total{method="GET",route="/v1/me",status="200"} 2"#
        ),
        "{}",
        r.text
    );
    // Latency is by route and status too.
    assert!(
        r.text.contains(
            r#"workspaced_http_request_duration_seconds_count{method="GET",route="/v1/me",status="200"} 2"#
        ),
        "{}",
        r.text
    );
    assert!(
        r.text.contains(
            r#"workspaced_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/metrics",status="401"} 1"#
        ),
        "{}",
        r.text
    );
    assert!(r.text.contains("workspaced_db_connections"));
}

#[tokio::test]
async fn metrics_can_be_public_by_configuration() {
    let app = TestApp::spawn_with(|c| c.metrics_public = true).await;
    app.call("GET", "/metrics", None, None).await.assert(200);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::spawn().await;
    app.call("GET", "/v1/nothing-here", None, None)
        .await
        .assert_problem(404, "not_found");
    app.call("PUT", "/v1/workspaces", None, None)
        .await
        .assert_problem(405, "method_not_allowed");
}
