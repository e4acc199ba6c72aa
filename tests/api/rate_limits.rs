//! Rate limits, counted in the database: their headers, their 429s, and
//! their sharing between two replicas on one database.

use serde_json::json;
use workspaced::config::RateSpec;

use crate::helpers::*;

#[tokio::test]
async fn workspace_creation_is_limited_per_user_with_headers() {
    let app =
        TestApp::spawn_with(|c| c.rate_limits.workspace_create = RateSpec::parse("3/1h").unwrap())
            .await;
    let ada = app.signup("Ada").await;
    let bob = app.signup("Bob").await;
    for i in 0..3 {
        let r = app
            .post(
                "/v1/workspaces",
                &ada.token,
                json!({"name": format!("W{i}")}),
            )
            .await;
        r.assert(201);
        assert_eq!(r.header("ratelimit-limit"), Some("3"));
        assert_eq!(
            r.header("ratelimit-remaining"),
            Some((2 - i).to_string().as_str())
        );
        assert!(r.header("ratelimit-reset").unwrap().parse::<u64>().unwrap() <= 3600);
    }
    let r = app
        .post("/v1/workspaces", &ada.token, json!({"name": "W3"}))
        .await;
    r.assert_problem(429, "rate_limited");
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    // Per user: Bob is not affected; the platform admin is exempt anyway.
    app.post("/v1/workspaces", &bob.token, json!({"name": "Bee"}))
        .await
        .assert(201);
}

#[tokio::test]
async fn refused_creates_do_not_count() {
    let app =
        TestApp::spawn_with(|c| c.rate_limits.workspace_create = RateSpec::parse("2/1h").unwrap())
            .await;
    let ada = app.signup("Ada").await;
    app.post(
        "/v1/workspaces",
        &ada.token,
        json!({"name": "One", "slug": "one"}),
    )
    .await
    .assert(201);
    for _ in 0..3 {
        app.post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Dup", "slug": "one"}),
        )
        .await
        .assert_problem(409, "slug_taken");
    }
    app.post("/v1/workspaces", &ada.token, json!({"name": "Two"}))
        .await
        .assert(201);
}

#[tokio::test]
async fn failed_logins_are_limited_per_email() {
    let app = TestApp::spawn_with(|c| c.rate_limits.login = RateSpec::parse("3/1d").unwrap()).await;
    let ada = app.signup("Ada").await;
    let wrong = json!({"email": ada.email, "password": "wrong password!"});
    for _ in 0..3 {
        app.call("POST", "/v1/auth/login", None, Some(wrong.clone()))
            .await
            .assert_problem(401, "unauthenticated");
    }
    let r = app
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"email": ada.email, "password": "correct horse battery"})),
        )
        .await;
    r.assert_problem(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.header("ratelimit-limit"), Some("3"));
}

#[tokio::test]
async fn authenticated_requests_are_limited_per_token() {
    let app =
        TestApp::spawn_with(|c| c.rate_limits.requests = RateSpec::parse("5/1d").unwrap()).await;
    let ada = app.signup("Ada").await;
    for i in 0..5 {
        let r = app.get("/v1/me", &ada.token).await;
        r.assert(200);
        assert_eq!(
            r.header("ratelimit-remaining"),
            Some((4 - i).to_string().as_str())
        );
    }
    let r = app.get("/v1/me", &ada.token).await;
    r.assert_problem(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // The platform admin is exempt.
    for _ in 0..10 {
        app.get("/healthz", ADMIN_TOKEN).await.assert(200);
        app.post(
            "/v1/admin/tokens",
            ADMIN_TOKEN,
            json!({"name": "w", "scopes": ["runs"]}),
        )
        .await
        .assert(201);
    }
}

/// A second application (replica) on the same database as `app`.
async fn replica(app: &TestApp) -> workspaced::app::AppState {
    let store = app.store.clone_for_replica().await;
    workspaced::app::AppState::new(store, (*app.state.config).clone())
}

#[tokio::test]
async fn creation_limits_hold_across_replicas() {
    let app =
        TestApp::spawn_with(|c| c.rate_limits.workspace_create = RateSpec::parse("3/1h").unwrap())
            .await;
    let other = replica(&app).await;
    let other_router = workspaced::app::build_router(other);
    let ada = app.signup("Ada").await;
    app.post("/v1/workspaces", &ada.token, json!({"name": "A1"}))
        .await
        .assert(201);
    app.post("/v1/workspaces", &ada.token, json!({"name": "A2"}))
        .await
        .assert(201);
    let r = call_router(
        &other_router,
        "/v1/workspaces",
        &ada.token,
        json!({"name": "B1"}),
    )
    .await;
    assert_eq!(r, 201);
    let r = call_router(
        &other_router,
        "/v1/workspaces",
        &ada.token,
        json!({"name": "B2"}),
    )
    .await;
    assert_eq!(r, 429);
    app.post("/v1/workspaces", &ada.token, json!({"name": "A3"}))
        .await
        .assert_problem(429, "rate_limited");
}

#[tokio::test]
async fn request_counts_are_shared_through_the_database() {
    let app =
        TestApp::spawn_with(|c| c.rate_limits.requests = RateSpec::parse("4/1d").unwrap()).await;
    let other = replica(&app).await;
    let ada = app.signup("Ada").await;
    for _ in 0..4 {
        app.get("/v1/me", &ada.token).await.assert(200);
    }
    app.state.limiter.flush().await;
    let router = workspaced::app::build_router(other.clone());
    // The other replica learns the shared count at its next flush.
    assert_eq!(get_router(&router, "/v1/me", &ada.token).await, 200);
    other.limiter.flush().await;
    assert_eq!(get_router(&router, "/v1/me", &ada.token).await, 429);
}

async fn call_router(
    router: &axum::Router,
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> u16 {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    router.clone().oneshot(req).await.unwrap().status().as_u16()
}

async fn get_router(router: &axum::Router, path: &str, token: &str) -> u16 {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    router.clone().oneshot(req).await.unwrap().status().as_u16()
}
