//! Graceful shutdown: on SIGTERM the server stops taking connections,
//! finishes the requests in flight (for up to 30 s), and exits 0 with
//! nothing lost.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{request, signup, Database, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_the_request_in_flight_then_exits_0() {
    let db = Database::new().await;
    let server = Server::start(&db);
    drains_then_exits_0(&db, server).await;
    db.cleanup().await;
}

/// The same with the server on one CPU (one runtime worker, as in the bench).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_the_request_in_flight_then_exits_0_on_one_cpu() {
    let db = Database::new().await;
    let server = Server::start_on_one_cpu(&db);
    drains_then_exits_0(&db, server).await;
    db.cleanup().await;
}

async fn drains_then_exits_0(db: &Database, mut server: Server) {
    let addr = server.addr.clone();
    let token = signup(&addr, "drain");

    // A create whose body is still arriving when the signal comes: the
    // server has its head, so the request is in flight.
    let body = json!({"name": "Drained", "slug": "drained"}).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut conn = TcpStream::connect(&addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /v1/workspaces HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(first.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let pid = server.child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success(), "kill -TERM {pid}");

    // New connections are refused once the listener is closed.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(&addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );

    // The request in flight completes and is answered.
    conn.write_all(rest.as_bytes()).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 201"), "answer: {text}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "did not exit after draining");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");

    // What it acknowledged is there after a restart.
    let server = Server::start(db);
    let (code, ws) = request(
        &server.addr,
        "GET",
        "/v1/workspaces/drained",
        Some(&token),
        None,
    )
    .expect("get");
    assert_eq!(code, 200, "{ws}");
    assert_eq!(ws["name"], "Drained");
}
