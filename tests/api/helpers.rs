//! `TestApp`: the application on a fresh database, and request helpers that
//! read like the story (`app.signup("ada")`, `app.member_of(&ws, Role::Viewer)`).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::str::FromStr;
use tower::ServiceExt;
use workspaced::app::{build_router, AppState};
use workspaced::config::{Config, RateSpec};
use workspaced::domain::ids::{UserId, WorkspaceId};
use workspaced::domain::roles::Role;
use workspaced::http::listener::PeerAddr;
use workspaced::store::Store;

pub const ADMIN_TOKEN: &str = "test-platform-admin-token-0123456789abcdef";

pub fn backend() -> String {
    std::env::var("WORKSPACED_TEST_DATABASE").unwrap_or_else(|_| "sqlite".into())
}

pub fn postgres_url() -> String {
    std::env::var("WORKSPACED_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub store: Store,
    _dir: tempfile::TempDir,
    pg_schema: Option<String>,
    counter: std::sync::atomic::AtomicU32,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The fields named in `errors`.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["field"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
    #[track_caller]
    pub fn assert(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> &Self {
        self.assert(status);
        assert_eq!(self.code(), code, "unexpected code; body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        self
    }
}

/// A signed-up user and its session token.
#[derive(Clone, Debug)]
pub struct Actor {
    pub token: String,
    pub id: String,
    pub email: String,
}

impl Actor {
    pub fn user_id(&self) -> UserId {
        UserId::parse(&self.id).expect("user id")
    }
}

/// Test defaults: the real configuration, with the creation limits raised
/// so stories can create what they need (the limit tests lower them again).
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut cfg = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    cfg.admin_token = Some(ADMIN_TOKEN.into());
    cfg.rate_limits.workspace_create = RateSpec::parse("1000/1h").unwrap();
    cfg.rate_limits.organization_create = RateSpec::parse("1000/1h").unwrap();
    cfg
}

/// The application over `store`, as the server builds it.
fn serve(store: Store, cfg: Config) -> (AppState, Router) {
    let state = AppState::new(store, cfg);
    let router = build_router(state.clone()).layer(MockConnectInfo(PeerAddr(SocketAddr::from((
        [127, 0, 0, 1],
        40000,
    )))));
    (state, router)
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = test_config(dir.path());
        tweak(&mut cfg);
        let (store, pg_schema) = match backend().as_str() {
            "sqlite" => (Store::connect(&cfg).await.expect("sqlite store"), None),
            "postgres" => {
                let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
                let url = postgres_url();
                let mut admin = PgConnection::connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {url} is not reachable: {e}"));
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut admin)
                    .await
                    .expect("create schema");
                let opts = PgConnectOptions::from_str(&url)
                    .unwrap()
                    .options([("search_path", schema.as_str())])
                    .application_name(&schema)
                    .disable_statement_logging();
                (
                    Store::connect_postgres(opts, 8)
                        .await
                        .expect("postgres store"),
                    Some(schema),
                )
            }
            other => panic!("WORKSPACED_TEST_DATABASE must be sqlite or postgres, not {other}"),
        };
        let (state, router) = serve(store.clone(), cfg);
        TestApp {
            router,
            state,
            store,
            _dir: dir,
            pg_schema,
            counter: Default::default(),
        }
    }

    /// The same data served under a changed configuration, as after a
    /// restart with an edited configuration file.
    pub fn reconfigure(&mut self, tweak: impl FnOnce(&mut Config)) {
        let mut cfg = test_config(self._dir.path());
        tweak(&mut cfg);
        (self.state, self.router) = serve(self.store.clone(), cfg);
    }

    /// A unique suffix for names and emails within this test.
    pub fn unique(&self) -> u32 {
        self.counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub async fn raw(&self, req: Request<Body>) -> TestResponse {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> TestResponse {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut b = Request::builder()
            .method(Method::from_str(method).unwrap())
            .uri(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        }
        .unwrap();
        self.raw(req).await
    }

    pub async fn get(&self, path: &str, token: &str) -> TestResponse {
        self.call("GET", path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> TestResponse {
        self.call("POST", path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> TestResponse {
        self.call("PATCH", path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> TestResponse {
        self.call("DELETE", path, Some(token), None).await
    }

    /// Signs up a new user.
    pub async fn signup(&self, name: &str) -> Actor {
        let email = format!(
            "{}-{}@example.com",
            name.to_lowercase().replace(' ', "."),
            self.unique()
        );
        let r = self
            .call(
                "POST",
                "/v1/auth/signup",
                None,
                Some(json!({"email": email, "password": "correct horse battery", "name": name})),
            )
            .await;
        r.assert(201);
        Actor {
            token: r.body["token"].as_str().unwrap().to_owned(),
            id: r.body["user"]["id"].as_str().unwrap().to_owned(),
            email,
        }
    }

    /// Creates a workspace owned by `owner`; returns its JSON.
    pub async fn workspace(&self, owner: &Actor, name: &str) -> Value {
        let r = self
            .post("/v1/workspaces", &owner.token, json!({"name": name}))
            .await;
        r.assert(201);
        r.body
    }

    /// Every item of a list, walked one page of `limit` at a time with
    /// `include_total=true`: each page's total is the number of items the
    /// walk finds, no item comes twice, and the order is the pages' order.
    pub async fn walk(&self, list: &str, token: &str, limit: usize) -> Vec<Value> {
        let sep = if list.contains('?') { '&' } else { '?' };
        let first = format!("{list}{sep}limit={limit}&include_total=true");
        let (mut url, mut items, mut totals) = (first.clone(), Vec::new(), Vec::new());
        loop {
            let r = self.get(&url, token).await;
            r.assert(200);
            totals.push(r.body["meta"]["total"].as_i64().expect("total"));
            let data = r.body["data"].as_array().unwrap();
            assert!(data.len() <= limit, "{url}: more than limit");
            items.extend(data.iter().cloned());
            match r.body["meta"]["next_cursor"].as_str() {
                Some(c) => url = format!("{first}&cursor={c}"),
                None => break,
            }
        }
        assert!(
            totals.iter().all(|&t| t == items.len() as i64),
            "{list}: totals {totals:?} for {} items",
            items.len()
        );
        // Organization members are known by their user's id.
        let id = |i: &Value| match &i["id"] {
            Value::Null => i["user"]["id"].to_string(),
            v => v.to_string(),
        };
        let mut ids: Vec<_> = items.iter().map(id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), items.len(), "{list}: an item came twice");
        items
    }

    /// A new user who is a member of `ws` with `role`.
    pub async fn member_of(&self, ws: &Value, role: Role) -> Actor {
        let actor = self.signup(role.as_str()).await;
        let ws_id = WorkspaceId::parse(ws["id"].as_str().unwrap()).unwrap();
        self.store
            .add_member(&ws_id, &actor.user_id(), role, None)
            .await
            .expect("add member");
        actor
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some(schema) = self.pg_schema.take() else {
            return;
        };
        let url = postgres_url();
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = PgConnection::connect(&url).await {
                    // A transaction dropped by the last request of a test
                    // rolls back on a spawned task, which cannot run while
                    // this drop blocks the test's runtime: end this test's
                    // sessions (tagged with the schema) instead of waiting.
                    let _ = sqlx::query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                    )
                    .bind(&schema)
                    .execute(&mut c)
                    .await;
                    let _ = sqlx::query("SET lock_timeout = '10s'")
                        .execute(&mut c)
                        .await;
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}
