//! Races across two server processes on one database: the unique slug, the
//! last owner, an invitation's one acceptance and a join code's `max_uses`
//! are decided by the database, not by a read in either process.

use std::sync::{Arc, Barrier};

use serde_json::{json, Value};

use crate::support::{request, signup, signup_user, Database, Server, User};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slug_across_two_processes_is_created_once() {
    let db = Database::new().await;
    let a = Server::start(&db);
    let b = Server::start(&db);
    let token = signup(&a.addr, "race");
    let slug = format!("race-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);

    let barrier = std::sync::Arc::new(std::sync::Barrier::new(50));
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let addr = if i % 2 == 0 {
                a.addr.clone()
            } else {
                b.addr.clone()
            };
            let (token, slug, barrier) = (token.clone(), slug.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let body = json!({"name": format!("Race {i}"), "slug": slug});
                request(&addr, "POST", "/v1/workspaces", Some(&token), Some(&body)).expect("create")
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let created: Vec<_> = results.iter().filter(|(s, _)| *s == 201).collect();
    assert_eq!(created.len(), 1, "exactly one create wins: {results:?}");
    for (status, body) in &results {
        if *status != 201 {
            assert_eq!(*status, 409, "{body}");
            assert_eq!(body["code"], "slug_taken", "{body}");
        }
    }
    // Both processes see the one winner.
    let id = created[0].1["id"].as_str().unwrap().to_owned();
    for s in [&a, &b] {
        let (status, body) = request(
            &s.addr,
            "GET",
            &format!("/v1/workspaces/{slug}"),
            Some(&token),
            None,
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], id.as_str());
    }
    drop(a);
    drop(b);
    db.cleanup().await;
}

/// One request of [`at_once`]: process address, method, path, token, body.
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
    let body = json!({ "name": name });
    let ws = expect(
        addr,
        "POST",
        "/v1/workspaces",
        &owner.token,
        Some(body),
        201,
    );
    ws["id"].as_str().unwrap().to_owned()
}

/// Each answer's status and error code, for a failure's message.
fn outcomes(results: &[(u16, Value)]) -> Vec<(u16, &str)> {
    results
        .iter()
        .map(|(s, b)| (*s, b["code"].as_str().unwrap_or("")))
        .collect()
}

/// The same POST with each (token, body), alternately through `a` and
/// `b`, all at once.
fn alternating(
    a: &Server,
    b: &Server,
    path: &str,
    calls: Vec<(String, Value)>,
) -> Vec<(u16, Value)> {
    let calls = calls.into_iter().enumerate().map(|(i, (token, body))| {
        let at = if i % 2 == 0 { a } else { b };
        (at.addr.clone(), "POST", path.to_owned(), token, Some(body))
    });
    at_once(calls.collect())
}

/// Exactly `n` answers are `201`; every other is `410 gone`.
fn created_exactly(results: &[(u16, Value)], n: usize) {
    let won = results.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(won, n, "{n} of the racers win: {:?}", outcomes(results));
    for (s, body) in results.iter().filter(|(s, _)| *s != 201) {
        assert_eq!((*s, body["code"].as_str()), (410, Some("gone")), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_owners_demoting_each_other_through_two_processes_leave_one_owner() {
    let db = Database::new().await;
    let a = Server::start(&db);
    let b = Server::start(&db);
    for round in 0..8 {
        let first = signup_user(&a.addr, "first");
        let second = signup_user(&b.addr, "second");
        let ws = workspace(&a.addr, &first, &format!("Owners {round}"));
        let add = json!({"user_id": second.id, "role": "owner"});
        let members = format!("/v1/workspaces/{ws}/members");
        expect(&a.addr, "POST", &members, &first.token, Some(add), 201);
        // Each owner demotes the other, through a different process.
        let demote = |by: &User, at: &Server, whom: &User| -> Call {
            let path = format!("{members}/{}", whom.id);
            let body = Some(json!({"role": "admin"}));
            (at.addr.clone(), "PATCH", path, by.token.clone(), body)
        };
        let results = at_once(vec![
            demote(&first, &a, &second),
            demote(&second, &b, &first),
        ]);
        let won = results.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(
            won,
            1,
            "exactly one demotion wins: {:?}",
            outcomes(&results)
        );
        // The loser raced the winner to the last owner (409), or came after
        // it and is no owner any more (403).
        for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
            let code = body["code"].as_str();
            assert!(
                (*status, code) == (409, Some("last_owner"))
                    || (*status, code) == (403, Some("needs_owner")),
                "{status} {body}"
            );
        }
        for (at, who) in [(&a, &first), (&b, &second)] {
            let path = format!("{members}?role=owner");
            let owners = expect(&at.addr, "GET", &path, &who.token, None, 200);
            assert_eq!(owners["data"].as_array().unwrap().len(), 1, "{owners}");
        }
    }
    drop(a);
    drop(b);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invitation_accepted_through_two_processes_makes_one_membership() {
    let db = Database::new().await;
    let a = Server::start(&db);
    let b = Server::start(&db);
    let owner = signup_user(&a.addr, "owner");
    let ws = workspace(&a.addr, &owner, "Invited");
    let guest = signup_user(&b.addr, "guest");
    let invite = Some(json!({"email": guest.email}));
    let path = format!("/v1/workspaces/{ws}/invitations");
    let invitation = expect(&a.addr, "POST", &path, &owner.token, invite, 201);
    let token = invitation["token"].as_str().unwrap();
    let accept = (guest.token.clone(), json!({ "token": token }));
    let results = alternating(&a, &b, "/v1/invitations/accept", vec![accept; 10]);
    created_exactly(&results, 1);
    for at in [&a, &b] {
        let path = format!("/v1/workspaces/{ws}/members");
        let members = expect(&at.addr, "GET", &path, &owner.token, None, 200);
        let data = members["data"].as_array().unwrap();
        let guests = data.iter().filter(|m| m["user"]["id"] == *guest.id).count();
        assert_eq!((data.len(), guests), (2, 1), "{members}");
        let path = format!("/v1/workspaces/{ws}");
        let w = expect(&at.addr, "GET", &path, &owner.token, None, 200);
        assert_eq!(w["member_count"], 2, "{w}");
    }
    drop(a);
    drop(b);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_code_used_through_two_processes_never_passes_max_uses() {
    let db = Database::new().await;
    let a = Server::start(&db);
    let b = Server::start(&db);
    let owner = signup_user(&a.addr, "owner");
    let ws = workspace(&a.addr, &owner, "Crowded");
    let code_path = format!("/v1/workspaces/{ws}/join-code");
    let limit = Some(json!({"max_uses": 3}));
    let created = expect(&a.addr, "POST", &code_path, &owner.token, limit, 201);
    let code = created["code"].as_str().unwrap();
    let people: Vec<User> = (0..12)
        .map(|i| signup_user(&a.addr, &format!("p{i}")))
        .collect();
    let joins = people
        .iter()
        .map(|p| (p.token.clone(), json!({ "code": code })));
    let results = alternating(&a, &b, "/v1/join", joins.collect());
    created_exactly(&results, 3);
    for at in [&a, &b] {
        let c = expect(&at.addr, "GET", &code_path, &owner.token, None, 200);
        assert_eq!(c["uses"], 3, "{c}");
        let path = format!("/v1/workspaces/{ws}");
        let w = expect(&at.addr, "GET", &path, &owner.token, None, 200);
        assert_eq!(w["member_count"], 4, "{w}");
    }
    drop(a);
    drop(b);
    db.cleanup().await;
}
