//! Races across two server processes on one database: the unique slug, the
//! last owner, an invitation's one acceptance and a join code's `max_uses`
//! are decided by the database, not by a read in either process.

use std::sync::{Arc, Barrier};

use serde_json::{json, Value};

use crate::support::{request, signup_user, Database, Server, User};

/// Two server processes on one database (one SQLite file, or one
/// PostgreSQL database).
struct Replicas {
    a: Server,
    b: Server,
    db: Database,
}

impl Replicas {
    async fn start() -> Replicas {
        Replicas::start_with(&[]).await
    }

    /// Both with extra environment variables (configuration).
    async fn start_with(env: &[(&str, &str)]) -> Replicas {
        let db = Database::new().await;
        let (a, b) = (Server::start_with(&db, env), Server::start_with(&db, env));
        Replicas { a, b, db }
    }

    /// The process the `i`th racer goes through: every other one each.
    fn nth(&self, i: usize) -> &Server {
        if i % 2 == 0 {
            &self.a
        } else {
            &self.b
        }
    }

    /// Stops both processes, then drops the database.
    async fn stop(self) {
        let Replicas { a, b, db } = self;
        drop((a, b));
        db.cleanup().await;
    }
}

/// One request of a race: process address, method, path, token, body.
type Call = (String, &'static str, String, String, Option<Value>);

/// Requests fired together from threads (released by one barrier), each at
/// the process it names: their (status, body), in the order given.
fn at_once(calls: Vec<Call>) -> Vec<(u16, Value)> {
    let barrier = Arc::new(Barrier::new(calls.len()));
    let threads: Vec<_> = calls
        .into_iter()
        .map(|(addr, method, path, token, body)| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                request(&addr, method, &path, Some(&token), body.as_ref()).expect("request")
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// The same POST with each (token, body), alternately through the two
/// processes, all at once.
fn alternating(r: &Replicas, path: &str, calls: Vec<(String, Value)>) -> Vec<(u16, Value)> {
    let calls = calls.into_iter().enumerate().map(|(i, (token, body))| {
        let at = &r.nth(i).addr;
        (at.clone(), "POST", path.to_owned(), token, Some(body))
    });
    at_once(calls.collect())
}

/// Exactly `n` answers are `won`; every other is one of `lost` (status,
/// error code). The winners' bodies.
fn exactly<'r>(
    results: &'r [(u16, Value)],
    n: usize,
    won: u16,
    lost: &[(u16, &str)],
) -> Vec<&'r Value> {
    let outcomes: Vec<(u16, &str)> = results
        .iter()
        .map(|(s, b)| (*s, b["code"].as_str().unwrap_or("")))
        .collect();
    let winners: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == won)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(winners.len(), n, "{n} of the racers win: {outcomes:?}");
    for o in outcomes.iter().filter(|(s, _)| *s != won) {
        assert!(lost.contains(o), "a loser answered {o:?}: {outcomes:?}");
    }
    winners
}

/// A request through `addr` that must answer `expected`: its body.
fn expect(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
    expected: u16,
) -> Value {
    let (status, answer) = request(addr, method, path, Some(token), body.as_ref()).expect(path);
    assert_eq!(status, expected, "{method} {path}: {answer}");
    answer
}

/// A new workspace of `owner`'s, created through `addr`: its id.
fn workspace(addr: &str, owner: &User, name: &str) -> String {
    let body = Some(json!({ "name": name }));
    let ws = expect(addr, "POST", "/v1/workspaces", &owner.token, body, 201);
    ws["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slug_across_two_processes_is_created_once() {
    let r = Replicas::start().await;
    let user = signup_user(&r.a.addr, "race");
    let slug = format!("race-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let creates = (0..50).map(|i| {
        let body = json!({"name": format!("Race {i}"), "slug": slug});
        (user.token.clone(), body)
    });
    let results = alternating(&r, "/v1/workspaces", creates.collect());
    let created = exactly(&results, 1, 201, &[(409, "slug_taken")]);
    // Both processes see the one winner.
    let id = created[0]["id"].as_str().unwrap();
    for at in [&r.a, &r.b] {
        let path = format!("/v1/workspaces/{slug}");
        let ws = expect(&at.addr, "GET", &path, &user.token, None, 200);
        assert_eq!(ws["id"], id, "{ws}");
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_owners_demoting_each_other_through_two_processes_leave_one_owner() {
    let r = Replicas::start().await;
    for round in 0..8 {
        let first = signup_user(&r.a.addr, "first");
        let second = signup_user(&r.b.addr, "second");
        let ws = workspace(&r.a.addr, &first, &format!("Owners {round}"));
        let add = json!({"user_id": second.id, "role": "owner"});
        let members = format!("/v1/workspaces/{ws}/members");
        expect(&r.a.addr, "POST", &members, &first.token, Some(add), 201);
        // Each owner demotes the other, through a different process.
        let demote = |by: &User, at: &Server, whom: &User| -> Call {
            let path = format!("{members}/{}", whom.id);
            let body = Some(json!({"role": "admin"}));
            (at.addr.clone(), "PATCH", path, by.token.clone(), body)
        };
        let results = at_once(vec![
            demote(&first, &r.a, &second),
            demote(&second, &r.b, &first),
        ]);
        // The loser raced the winner to the last owner (409), or came after
        // it and is no owner any more (403).
        exactly(
            &results,
            1,
            200,
            &[(409, "last_owner"), (403, "needs_owner")],
        );
        for (at, who) in [(&r.a, &first), (&r.b, &second)] {
            let path = format!("{members}?role=owner");
            let owners = expect(&at.addr, "GET", &path, &who.token, None, 200);
            assert_eq!(owners["data"].as_array().unwrap().len(), 1, "{owners}");
        }
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invitation_accepted_through_two_processes_makes_one_membership() {
    let r = Replicas::start().await;
    let owner = signup_user(&r.a.addr, "owner");
    let ws = workspace(&r.a.addr, &owner, "Invited");
    let guest = signup_user(&r.b.addr, "guest");
    let invite = Some(json!({"email": guest.email}));
    let path = format!("/v1/workspaces/{ws}/invitations");
    let invitation = expect(&r.a.addr, "POST", &path, &owner.token, invite, 201);
    let token = invitation["token"].as_str().unwrap();
    let accept = (guest.token.clone(), json!({ "token": token }));
    let results = alternating(&r, "/v1/invitations/accept", vec![accept; 10]);
    exactly(&results, 1, 201, &[(410, "gone")]);
    for at in [&r.a, &r.b] {
        let path = format!("/v1/workspaces/{ws}/members");
        let members = expect(&at.addr, "GET", &path, &owner.token, None, 200);
        let data = members["data"].as_array().unwrap();
        let guests = data.iter().filter(|m| m["user"]["id"] == *guest.id).count();
        assert_eq!((data.len(), guests), (2, 1), "{members}");
        let path = format!("/v1/workspaces/{ws}");
        let w = expect(&at.addr, "GET", &path, &owner.token, None, 200);
        assert_eq!(w["member_count"], 2, "{w}");
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_code_used_through_two_processes_never_passes_max_uses() {
    let r = Replicas::start().await;
    let owner = signup_user(&r.a.addr, "owner");
    let ws = workspace(&r.a.addr, &owner, "Crowded");
    let code_path = format!("/v1/workspaces/{ws}/join-code");
    let limit = Some(json!({"max_uses": 3}));
    let created = expect(&r.a.addr, "POST", &code_path, &owner.token, limit, 201);
    let code = created["code"].as_str().unwrap();
    let joins = (0..12).map(|i| {
        let person = signup_user(&r.nth(i).addr, &format!("p{i}"));
        (person.token, json!({ "code": code }))
    });
    let results = alternating(&r, "/v1/join", joins.collect());
    exactly(&results, 3, 201, &[(410, "gone")]);
    for at in [&r.a, &r.b] {
        let c = expect(&at.addr, "GET", &code_path, &owner.token, None, 200);
        assert_eq!(c["uses"], 3, "{c}");
        let path = format!("/v1/workspaces/{ws}");
        let w = expect(&at.addr, "GET", &path, &owner.token, None, 200);
        assert_eq!(w["member_count"], 4, "{w}");
    }
    r.stop().await;
}

/// Moves a workspace's schedule's next fire time into the past, as if the
/// tick had come: straight in the database both processes share.
async fn make_due(db: &Database, ws: &str, at: i64) {
    let sql = format!("UPDATE schedules SET next_run_at = {at} WHERE workspace_id = '{ws}'");
    match (&db.pg, db.sqlite_file()) {
        (Some((_, url)), _) => {
            use sqlx::{Connection, Executor};
            let mut conn = sqlx::PgConnection::connect(url).await.expect("postgres");
            conn.execute(sql.as_str()).await.expect("update schedule");
        }
        (None, Some(file)) => {
            let conn = rusqlite::Connection::open(file).expect("sqlite");
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .unwrap();
            conn.execute(&sql, []).expect("update schedule");
        }
        (None, None) => unreachable!("a database is SQLite or PostgreSQL"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_queue_one_run_per_tick_and_two_processes_never_share_a_run() {
    const ADMIN: &str = "replica-test-platform-admin-token-0123456789";
    let r = Replicas::start_with(&[
        ("WORKSPACED_SCHEDULER_TICK_SECONDS", "1"),
        ("WORKSPACED_ADMIN_TOKEN", ADMIN),
    ])
    .await;
    let (a, b) = (r.a.addr.clone(), r.b.addr.clone());
    let owner = signup_user(&a, "cron");
    let ws = workspace(&a, &owner, "Cron");
    let providers = Some(json!({"providers": ["openai"]}));
    expect(
        &a,
        "PUT",
        &format!("/v1/workspaces/{ws}/providers"),
        &owner.token,
        providers,
        200,
    );
    let set = Some(json!({"cron": "0 0 1 1 *"}));
    expect(
        &b,
        "PUT",
        &format!("/v1/workspaces/{ws}/schedule"),
        &owner.token,
        set,
        200,
    );
    let scheduled = || {
        let runs = expect(
            &a,
            "GET",
            &format!("/v1/workspaces/{ws}/runs?limit=100"),
            &owner.token,
            None,
            200,
        );
        runs["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["trigger"] == "schedule")
            .count()
    };
    // Three ticks come due; both schedulers look every second; each tick
    // queues exactly one run. A smoke test of the two processes together:
    // the schedulers rarely read the same tick at the same moment, so the
    // compare-and-set itself is raced in tests/api/runs.rs (eight sweeps at
    // once on one database).
    for tick in 1..=3 {
        let due = chrono::Utc::now().timestamp_millis() - 60_000;
        make_due(&r.db, &ws, due).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let s = expect(
                &b,
                "GET",
                &format!("/v1/workspaces/{ws}/schedule"),
                &owner.token,
                None,
                200,
            );
            let next = chrono::DateTime::parse_from_rfc3339(s["next_run_at"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            if next > due {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "tick {tick} was never taken"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // Both schedulers have looked again since.
        std::thread::sleep(std::time::Duration::from_millis(2_500));
        assert_eq!(scheduled(), tick, "one run per tick");
    }

    // Ten more runs; twenty claims at once through both processes: each
    // run is handed out once.
    for _ in 0..10 {
        expect(
            &a,
            "POST",
            &format!("/v1/workspaces/{ws}/runs"),
            &owner.token,
            None,
            201,
        );
    }
    let token = Some(json!({"name": "worker", "scopes": ["runs"]}));
    let worker = expect(&a, "POST", "/v1/admin/tokens", ADMIN, token, 201)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let queued = 1 + 3 + 10; // the schedule's immediate run, three ticks, ten manual
    let claims = (0..queued + 6).map(|i| {
        let at = r.nth(i).addr.clone();
        (
            at,
            "POST",
            "/v1/runs/claim".to_owned(),
            worker.clone(),
            None,
        )
    });
    let results = at_once(claims.collect());
    let mut taken = std::collections::HashSet::new();
    for (status, body) in &results {
        match status {
            200 => assert!(
                taken.insert(body["id"].as_str().unwrap().to_owned()),
                "a run handed out twice"
            ),
            204 => {}
            other => panic!("claim answered {other}: {body}"),
        }
    }
    assert_eq!(taken.len(), queued);
    r.stop().await;
}
