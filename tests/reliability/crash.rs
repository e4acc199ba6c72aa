//! Crash safety: every create the server acknowledged (201) survives a
//! `kill -9` at a random moment, and the SQLite file stays intact; with the
//! server on one CPU (one runtime worker, as in the bench) in every other
//! cycle.
//!
//! `CRASH_CYCLES` (default 10) sets the number of kill/restart cycles; the
//! longer manual run is `CRASH_CYCLES=100 cargo nextest run --test reliability crash`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde_json::json;

use crate::support::{request, signup, sqlite_integrity, Database, Server};

const WRITERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_kill_9() {
    let cycles: usize = std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let db = Database::new().await;
    let server = Server::start(&db);
    let token = signup(&server.addr, "crash");
    let mut acknowledged: Vec<String> = Vec::new();
    let mut server = Some(server);
    let mut rng = rand::thread_rng();

    for cycle in 0..cycles {
        let s = server.take().expect("running server");
        let addr = s.addr.clone();
        let acked = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (addr, token, acked, stop) =
                    (addr.clone(), token.clone(), acked.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let body = json!({"name": format!("Crash {cycle} {w} {n}")});
                        match request(&addr, "POST", "/v1/workspaces", Some(&token), Some(&body)) {
                            Ok((201, b)) => acked
                                .lock()
                                .unwrap()
                                .push(b["id"].as_str().expect("id").to_owned()),
                            Ok((status, b)) => panic!("create answered {status}: {b}"),
                            // The server died mid-request: not acknowledged.
                            Err(_) => {}
                        }
                    }
                })
            })
            .collect();
        // Kill at a random moment while the writers are busy.
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..400))).await;
        s.kill9();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().expect("writer thread");
        }
        if let Some(file) = db.sqlite_file() {
            assert_eq!(sqlite_integrity(&file), "ok", "cycle {cycle}");
        }
        // Every other run on one CPU (one runtime worker, as in the
        // bench), the others on all of them.
        let restarted = if cycle % 2 == 0 {
            Server::start_on_one_cpu(&db)
        } else {
            Server::start(&db)
        };
        let new = std::mem::take(&mut *acked.lock().unwrap());
        for id in &new {
            let (status, body) = request(
                &restarted.addr,
                "GET",
                &format!("/v1/workspaces/{id}"),
                Some(&token),
                None,
            )
            .expect("get after restart");
            assert_eq!(
                status, 200,
                "acknowledged {id} lost in cycle {cycle}: {body}"
            );
        }
        acknowledged.extend(new);
        server = Some(restarted);
    }

    // Every acknowledged create, once more, after the last restart; and the
    // list agrees on the count (the user owns exactly these workspaces).
    let s = server.take().expect("running server");
    let mut listed = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/workspaces?limit=100&cursor={c}"),
            None => "/v1/workspaces?limit=100".to_owned(),
        };
        let (status, body) = request(&s.addr, "GET", &path, Some(&token), None).expect("list");
        assert_eq!(status, 200, "{body}");
        listed += body["data"].as_array().expect("data").len();
        cursor = body["meta"]["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert!(
        listed >= acknowledged.len(),
        "listed {listed} < acknowledged {}",
        acknowledged.len()
    );
    assert!(
        !acknowledged.is_empty(),
        "no create was acknowledged: the test proved nothing"
    );
    s.kill9();
    if let Some(file) = db.sqlite_file() {
        assert_eq!(sqlite_integrity(&file), "ok");
    }
    println!(
        "crash safety ({}): {cycles} kill -9 cycles, {} acknowledged creates checked, {listed} listed",
        crate::support::backend(),
        acknowledged.len()
    );
    db.cleanup().await;
}
