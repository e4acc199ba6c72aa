//! Server processes and a minimal blocking HTTP/1.1 client (no client crate
//! in the dependency tree; these tests only need JSON over loopback).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};

pub fn backend() -> String {
    std::env::var("WORKSPACED_TEST_DATABASE").unwrap_or_else(|_| "sqlite".into())
}

fn postgres_base() -> String {
    std::env::var("WORKSPACED_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Where the servers of one test keep their data: a temp dir with the SQLite
/// file, or a fresh PostgreSQL database (dropped on drop).
pub struct Database {
    pub dir: tempfile::TempDir,
    pub pg: Option<(String, String)>, // (database name, URL)
}

impl Database {
    pub async fn new() -> Database {
        let dir = tempfile::tempdir().expect("temp dir");
        let pg = if backend() == "postgres" {
            let base = postgres_base();
            let name = format!("wsd_rel_{}", uuid::Uuid::now_v7().simple());
            let mut conn = PgConnection::connect(&base).await.expect("postgres");
            conn.execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create database");
            let url = match base.rsplit_once('/') {
                Some((head, _)) => format!("{head}/{name}"),
                None => unreachable!("postgres URL without a database"),
            };
            Some((name, url))
        } else {
            None
        };
        Database { dir, pg }
    }

    pub fn sqlite_file(&self) -> Option<PathBuf> {
        self.pg
            .is_none()
            .then(|| self.dir.path().join("workspaced.db"))
    }

    /// Drops the PostgreSQL database (servers must be stopped first).
    pub async fn cleanup(self) {
        if let Some((name, _)) = &self.pg {
            if let Ok(mut conn) = PgConnection::connect(&postgres_base()).await {
                let _ = conn
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        }
    }
}

/// One `workspaced serve` process.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Server {
    pub fn start(db: &Database) -> Server {
        Server::start_with(db, &[])
    }

    /// With extra environment variables (configuration).
    pub fn start_with(db: &Database, env: &[(&str, &str)]) -> Server {
        Server::spawn(db, env, false)
    }

    /// Allowed one CPU only (`taskset -c 0`, which execs the server in its
    /// own process), as the bench runs it and as a one-core container
    /// would: one runtime worker, which the blocking parts (SQLite reads
    /// on the worker, the group commit's yield) must not stall.
    pub fn start_on_one_cpu(db: &Database) -> Server {
        Server::spawn(db, &[], true)
    }

    fn spawn(db: &Database, env: &[(&str, &str)], one_cpu: bool) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let bin = env!("CARGO_BIN_EXE_workspaced");
        let mut cmd = if one_cpu {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", bin]);
            c
        } else {
            Command::new(bin)
        };
        cmd.args(["serve", "--listen", &addr])
            .arg("--data-dir")
            .arg(db.dir.path())
            .env("RUST_LOG", "error")
            .env("WORKSPACED_RATE_LIMIT_REQUESTS", "100000000/1m")
            .env("WORKSPACED_RATE_LIMIT_WORKSPACE_CREATE", "100000000/1h")
            .env_remove("DATABASE_URL")
            .env_remove("WORKSPACED_DATABASE_URL")
            .env_remove("WORKSPACED_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some((_, url)) = &db.pg {
            cmd.env("DATABASE_URL", url);
        }
        cmd.envs(env.iter().copied());
        let child = cmd.spawn().expect("spawn workspaced");
        let server = Server { child, addr };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = request(&self.addr, "GET", "/readyz", None, None) {
                if r.0 == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server on {} did not become ready", self.addr);
    }

    /// SIGKILL: no shutdown, no flush, no checkpoint.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on a fresh connection: (status, JSON body or Null).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("truncated response"))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Ok((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A signed-up user: its session token, id and email.
pub struct User {
    pub token: String,
    pub id: String,
    pub email: String,
}

/// Signs up a user and returns its session token.
pub fn signup(addr: &str, name: &str) -> String {
    signup_user(addr, name).token
}

/// Signs up a user through `addr`.
pub fn signup_user(addr: &str, name: &str) -> User {
    let email = format!("{name}-{}@example.test", uuid::Uuid::now_v7().simple());
    let (status, body) = request(
        addr,
        "POST",
        "/v1/auth/signup",
        None,
        Some(
            &serde_json::json!({"email": email, "password": "correct horse battery", "name": name}),
        ),
    )
    .expect("signup");
    assert_eq!(status, 201, "signup: {body}");
    User {
        token: body["token"].as_str().expect("token").to_owned(),
        id: body["user"]["id"].as_str().expect("user id").to_owned(),
        email,
    }
}

/// `PRAGMA integrity_check` of a SQLite file no process has open.
pub fn sqlite_integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).expect("open sqlite");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .expect("integrity_check")
}
