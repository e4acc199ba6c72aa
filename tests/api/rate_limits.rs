//! Rate limits, counted in the database: their headers, their 429s, and
//! their sharing between two replicas on one database.

use serde_json::json;
use workspaced::config::RateSpec;
use workspaced::store::db::Backend;

use crate::helpers::*;

/// The password `signup` sets, and a wrong one.
const RIGHT: &str = "correct horse battery";
const WRONG: &str = "wrong password!";

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
    for _ in 0..3 {
        login(&app, &ada.email, WRONG)
            .await
            .assert_problem(401, "unauthenticated");
    }
    let r = login(&app, &ada.email, RIGHT).await;
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
    let spec = RateSpec::parse("3/1d").unwrap();
    let app = TestApp::spawn_with(|c| c.rate_limits.login = spec).await;
    let other = match app.store.backend() {
        Backend::Postgres => Some(workspaced::app::build_router(replica(&app).await)),
        Backend::Sqlite => None,
    };
    let ada = app.signup("Ada").await;
    let window = todays_window(spec);
    let guesses = (0..12).map(|i| {
        let (app, other, email) = (&app, &other, &ada.email);
        async move {
            // Every other guess through the second replica, if there is one.
            if let Some(other) = other.as_ref().filter(|_| i % 2 == 1) {
                let body = Some(login_body(email, WRONG));
                return router_status(other, "POST", "/v1/auth/login", None, body).await;
            }
            login(app, email, WRONG).await.status.as_u16()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let count = |s: u16| statuses.iter().filter(|&&x| x == s).count();
    assert_eq!((count(401), count(429)), (3, 9), "{statuses:?}");
    assert_eq!(failed_logins(&app, &ada.email, window).await, 3);
    // The right password is refused too while the limit is full.
    login(&app, &ada.email, RIGHT)
        .await
        .assert_problem(429, "rate_limited");
}

/// A login refused by the address limit gives back the place it took in
/// its email's limit: that email had no failed login.
#[tokio::test]
async fn a_login_refused_by_its_address_leaves_its_email_uncounted() {
    let spec = RateSpec::parse("2/1d").unwrap();
    let app = TestApp::spawn_with(|c| c.rate_limits.login = spec).await;
    let window = todays_window(spec);
    let (ada, bob) = (app.signup("Ada").await, app.signup("Bob").await);
    // Test requests share one client address: Ada's two failures fill it.
    for _ in 0..2 {
        login(&app, &ada.email, WRONG)
            .await
            .assert_problem(401, "unauthenticated");
    }
    let r = login(&app, &bob.email, WRONG).await;
    r.assert_problem(429, "rate_limited");
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    assert!(r.header("retry-after").is_some());
    assert_eq!(failed_logins(&app, &bob.email, window).await, 0);
    assert_eq!(failed_logins(&app, &ada.email, window).await, 2);
}

/// A successful login gives its place back: only failed logins count.
#[tokio::test]
async fn successful_logins_do_not_count() {
    let app = TestApp::spawn_with(|c| c.rate_limits.login = RateSpec::parse("2/1d").unwrap()).await;
    let ada = app.signup("Ada").await;
    for _ in 0..5 {
        let r = login(&app, &ada.email, RIGHT).await;
        r.assert(200);
        assert_eq!(r.header("ratelimit-remaining"), Some("2"));
    }
    let r = login(&app, &ada.email, WRONG).await;
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
    let r = router_status(
        &other_router,
        "POST",
        "/v1/workspaces",
        Some(&ada.token),
        Some(json!({"name": "B1"})),
    )
    .await;
    assert_eq!(r, 201);
    let r = router_status(
        &other_router,
        "POST",
        "/v1/workspaces",
        Some(&ada.token),
        Some(json!({"name": "B2"})),
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
    assert_eq!(
        router_status(&router, "GET", "/v1/me", Some(&ada.token), None).await,
        200
    );
    other.limiter.flush().await;
    assert_eq!(
        router_status(&router, "GET", "/v1/me", Some(&ada.token), None).await,
        429
    );
}

/// A request through another replica's router: its status.
async fn router_status(
    router: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> u16 {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(axum::body::Body::from(b.to_string())),
        None => req.body(axum::body::Body::empty()),
    }
    .unwrap();
    router.clone().oneshot(req).await.unwrap().status().as_u16()
}

fn login_body(email: &str, password: &str) -> serde_json::Value {
    json!({"email": email, "password": password})
}

async fn login(app: &TestApp, email: &str, password: &str) -> TestResponse {
    let body = login_body(email, password);
    app.call("POST", "/v1/auth/login", None, Some(body)).await
}

/// Today's window of `spec` (a day's: taken before the requests it is
/// for, so a run just past midnight UTC does not look at the next day's).
fn todays_window(spec: RateSpec) -> i64 {
    workspaced::store::ratelimit::window_start(spec, workspaced::domain::time::now_ms())
}

/// Failed logins counted for `email` in `window`.
async fn failed_logins(app: &TestApp, email: &str, window: i64) -> i64 {
    let key = format!("login:email:{}", email.to_lowercase());
    app.store.read_counter(&key, window).await.unwrap()
}
