//! Races across two server processes on one database: the unique slug is
//! decided by the database, not by a read in either process.

use serde_json::json;

use crate::support::{request, signup, Database, Server};

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
