//! The real binary: serves with no configuration beyond a data directory,
//! logs without secrets, and exits 0 on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bare HTTP/1.1 request; returns (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[test]
fn serves_logs_without_secrets_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_workspaced"));
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(dir.path())
    .env_remove("DATABASE_URL")
    .env("RUST_LOG", "info")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let schema = (crate::helpers::backend() == "postgres").then(|| {
        // A schema of its own, named in the URL the binary gets.
        let schema = format!("p_{}", uuid::Uuid::now_v7().simple());
        run_sql(&format!("CREATE SCHEMA {schema}"));
        let base = crate::helpers::postgres_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        cmd.env(
            "DATABASE_URL",
            format!("{base}{sep}options=-csearch_path%3D{schema}"),
        );
        schema
    });
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(http(port, "GET", "/readyz", None, None).0, 200);
    let password = "a very secret password";
    let (status, body) = http(
        port,
        "POST",
        "/v1/auth/signup",
        None,
        Some(&format!(
            r#"{{"email":"ada@example.com","password":"{password}","name":"Ada"}}"#
        )),
    );
    assert_eq!(status, 201, "{body}");
    let token = serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(http(port, "GET", "/v1/me", Some(&token), None).0, 200);
    assert_eq!(http(port, "GET", "/v1/me", Some("wsd_wrong"), None).0, 401);
    if schema.is_none() {
        assert!(
            dir.path().join("workspaced.db").exists(),
            "SQLite lives in the data directory"
        );
    }

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(35);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("request_id"), "{logs}");
    assert!(logs.contains("\"route\":\"/v1/me\""), "{logs}");
    assert!(!logs.contains(&token), "a token reached the log");
    assert!(!logs.contains(password), "a password reached the log");
    assert!(logs.contains("stopped"), "{logs}");
    if let Some(schema) = schema {
        assert!(
            logs.contains("Postgres"),
            "the binary served from PostgreSQL: {logs}"
        );
        run_sql(&format!("DROP SCHEMA {schema} CASCADE"));
    }
}

fn run_sql(sql: &str) {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(&crate::helpers::postgres_url())
            .await
            .unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    });
}
