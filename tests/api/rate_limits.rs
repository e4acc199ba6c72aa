//! Rate limits, counted in the database: their headers, their 429s, and
//! their sharing between two replicas on one database.

use serde_json::json;
use workspaced::config::RateSpec;
use workspaced::store::db::Backend;

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

/// Guesses in flight at once check no more passwords than the limit
/// allows: each takes its place in the limit before its password is
/// checked. Checked by the counter, which must end at the number of failed
/// logins answered (before, every guess in flight was checked and counted,
/// and only then refused). On PostgreSQL half of them go through a second
/// replica; on SQLite, whose replicas are separate processes, two stores in
/// one test process would block each other's threads on the file's lock.
#[tokio::test]
async fn concurrent_guesses_check_no_more_passwords_than_the_limit_across_replicas() {
    let app = TestApp::spawn_with(|c| c.rate_limits.login = RateSpec::parse("3/1d").unwrap()).await;
    let other = match app.store.backend() {
        Backend::Postgres => Some(workspaced::app::build_router(replica(&app).await)),
        Backend::Sqlite => None,
    };
    let ada = app.signup("Ada").await;
    // The day's window the guesses land in, taken before them (taken
    // after, a run just past midnight UTC would look at the next day's).
    let spec = RateSpec::parse("3/1d").unwrap();
    let window =
        workspaced::store::ratelimit::window_start(spec, workspaced::domain::time::now_ms());
    let wrong = json!({"email": ada.email, "password": "wrong password!"});
    let guesses = (0..12).map(|i| {
        let (app, other, wrong) = (&app, &other, wrong.clone());
        async move {
            match other {
                Some(other) if i % 2 == 1 => login_router(other, wrong).await,
                _ => app
                    .call("POST", "/v1/auth/login", None, Some(wrong))
                    .await
                    .status
                    .as_u16(),
            }
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let count = |s: u16| statuses.iter().filter(|&&x| x == s).count();
    assert_eq!((count(401), count(429)), (3, 9), "{statuses:?}");
    let key = format!("login:email:{}", ada.email.to_lowercase());
    assert_eq!(app.store.read_counter(&key, window).await.unwrap(), 3);
    // The right password is refused too while the limit is full.
    app.call(
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"email": ada.email, "password": "correct horse battery"})),
    )
    .await
    .assert_problem(429, "rate_limited");
}

/// A login refused by the address limit gives back the place it took in
/// its email's limit: that email had no failed login.
#[tokio::test]
async fn a_login_refused_by_its_address_leaves_its_email_uncounted() {
    let spec = RateSpec::parse("2/1d").unwrap();
    let app = TestApp::spawn_with(|c| c.rate_limits.login = spec).await;
    let window =
        workspaced::store::ratelimit::window_start(spec, workspaced::domain::time::now_ms());
    let (ada, bob) = (app.signup("Ada").await, app.signup("Bob").await);
    // Test requests share one client address: Ada's two failures fill it.
    for _ in 0..2 {
        app.call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"email": ada.email, "password": "wrong password!"})),
        )
        .await
        .assert_problem(401, "unauthenticated");
    }
    let r = app
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"email": bob.email, "password": "wrong password!"})),
        )
        .await;
    r.assert_problem(429, "rate_limited");
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    assert!(r.header("retry-after").is_some());
    let count = |email: &str| {
        let key = format!("login:email:{}", email.to_lowercase());
        let store = app.store.clone();
        async move { store.read_counter(&key, window).await.unwrap() }
    };
    assert_eq!(count(&bob.email).await, 0);
    assert_eq!(count(&ada.email).await, 2);
}

/// A successful login gives its place back: only failed logins count.
#[tokio::test]
async fn successful_logins_do_not_count() {
    let app = TestApp::spawn_with(|c| c.rate_limits.login = RateSpec::parse("2/1d").unwrap()).await;
    let ada = app.signup("Ada").await;
    let right = json!({"email": ada.email, "password": "correct horse battery"});
    for _ in 0..5 {
        let r = app
            .call("POST", "/v1/auth/login", None, Some(right.clone()))
            .await;
        r.assert(200);
        assert_eq!(r.header("ratelimit-remaining"), Some("2"));
    }
    let wrong = json!({"email": ada.email, "password": "wrong password!"});
    let r = app.call("POST", "/v1/auth/login", None, Some(wrong)).await;
    r.assert_problem(401, "unauthenticated");
    assert_eq!(r.header("ratelimit-remaining"), Some("1"));
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

async fn login_router(router: &axum::Router, body: serde_json::Value) -> u16 {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/auth/login")
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
