//! The server's own listener (`src/http/listener.rs`) in the real binary:
//! each request carries the address of its connection's peer, and answers
//! held back for a round of work all come back whole.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use workspaced::config::RateSpec;
use workspaced::domain::time::now_ms;
use workspaced::store::ratelimit::window_start;

use crate::support::{signup, Database, Server};

/// One failed login from the local address `from`: its status.
async fn failed_login(server: &str, from: [u8; 4], email: &str) -> u16 {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback address");
    let mut conn = socket
        .connect(server.parse().unwrap())
        .await
        .expect("connect");
    let body = serde_json::json!({"email": email, "password": "not the password"}).to_string();
    let request = format!(
        "POST /v1/auth/login HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_by_the_address_of_the_connection() {
    let db = Database::new().await;
    const LIMIT: &str = "2/1m";
    let server = Server::start_with(&db, &[("WORKSPACED_RATE_LIMIT_LOGIN", LIMIT)]);
    let addr = server.addr.clone();

    // Three emails, one address: the third is refused by the address's
    // limit (each email has failed once only). Limits count in fixed
    // windows: started in a window's last seconds, the third would be
    // counted in the next one and let through.
    let spec = RateSpec::parse(LIMIT).unwrap();
    let now = now_ms();
    let left = window_start(spec, now) + spec.period_ms - now;
    if left < 10_000 {
        tokio::time::sleep(Duration::from_millis(left as u64 + 200)).await;
    }
    let from = [127, 0, 0, 1];
    assert_eq!(failed_login(&addr, from, "a@example.test").await, 401);
    assert_eq!(failed_login(&addr, from, "b@example.test").await, 401);
    assert_eq!(failed_login(&addr, from, "c@example.test").await, 429);
    // Another loopback address has its own count: the server saw which
    // address each connection came from (without it, every request would
    // share one "unknown" address, and this would be refused too).
    let other = [127, 0, 0, 2];
    assert_eq!(failed_login(&addr, other, "d@example.test").await, 401);

    drop(server);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_keep_alive_connections_get_every_answer() {
    let db = Database::new().await;
    let server = Server::start(&db);
    let addr = server.addr.clone();
    let token = signup(&addr, "keepalive");

    // 16 connections, 25 requests each, all in flight together: every
    // answer is a whole `/v1/me` of the caller.
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (addr, token) = (addr.clone(), token.clone());
            tokio::spawn(async move {
                let mut conn = tokio::io::BufReader::new(
                    tokio::net::TcpStream::connect(&addr).await.unwrap(),
                );
                for _ in 0..25 {
                    let request = format!(
                        "GET /v1/me HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
                    );
                    conn.get_mut().write_all(request.as_bytes()).await.unwrap();
                    let body = read_answer(&mut conn).await;
                    let me: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    assert_eq!(me["name"], "keepalive", "{me}");
                }
            })
        })
        .collect();
    let all = async {
        for c in clients {
            c.await.unwrap();
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), all)
        .await
        .expect("every answer within a minute");

    drop(server);
    db.cleanup().await;
}

/// The body of one `Content-Length` answer on a kept-alive connection.
async fn read_answer(conn: &mut tokio::io::BufReader<tokio::net::TcpStream>) -> Vec<u8> {
    use tokio::io::AsyncBufReadExt;
    let mut length = None;
    let mut status = String::new();
    conn.read_line(&mut status).await.unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = Some(v.trim().parse::<usize>().unwrap());
        }
    }
    let mut body = vec![0; length.expect("content-length")];
    conn.read_exact(&mut body).await.unwrap();
    body
}
