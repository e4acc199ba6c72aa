//! Schedules and runs (SPEC §8): the schedule and its immediate run, manual
//! runs and cancelling, workers claiming, heartbeating, completing and
//! failing runs, lapsed leases, and one run per due tick however many
//! schedulers look at once. Time-dependent steps call the store with an
//! explicit `now` instead of sleeping.

use std::collections::HashSet;

use serde_json::{json, Value};
use workspaced::domain::ids::{TokenId, WorkspaceId};
use workspaced::domain::roles::Role;
use workspaced::domain::time::{now_ms, HOUR, MINUTE, SECOND};

use crate::helpers::*;

fn ws_path(ws: &Value, rest: &str) -> String {
    format!("/v1/workspaces/{}/{rest}", ws["id"].as_str().unwrap())
}

fn ws_id(ws: &Value) -> WorkspaceId {
    WorkspaceId::parse(ws["id"].as_str().unwrap()).unwrap()
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> TestResponse {
    app.call("PUT", path, Some(token), Some(body)).await
}

async fn with_providers(app: &TestApp, owner: &Actor, ws: &Value) {
    put(
        app,
        &ws_path(ws, "providers"),
        &owner.token,
        json!({"providers": ["anthropic", "openai"]}),
    )
    .await
    .assert(200);
}

/// A service token with the `runs` scope: (token, id).
async fn worker(app: &TestApp) -> (String, TokenId) {
    let r = app
        .post(
            "/v1/admin/tokens",
            ADMIN_TOKEN,
            json!({"name": format!("worker-{}", app.unique()), "scopes": ["runs"]}),
        )
        .await;
    r.assert(201);
    (
        r.body["token"].as_str().unwrap().to_owned(),
        TokenId::from_db(r.body["id"].as_str().unwrap().to_owned()),
    )
}

fn ms(t: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t.as_str().expect("a timestamp"))
        .unwrap()
        .timestamp_millis()
}

#[tokio::test]
async fn setting_a_schedule_queues_a_run_at_once() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Cron").await;
    let viewer = app.member_of(&ws, Role::Viewer).await;
    let member = app.member_of(&ws, Role::Member).await;
    let path = ws_path(&ws, "schedule");

    let r = app.get(&path, &viewer.token).await;
    r.assert(200);
    assert_eq!(
        r.body,
        json!({"cron": null, "timezone": "UTC", "next_run_at": null, "last_run_at": null, "version": 0})
    );
    put(&app, &path, &member.token, json!({"cron": "0 0 * * *"}))
        .await
        .assert_problem(403, "forbidden");
    // Clearing a schedule never set changes nothing: no version, no event.
    let r = put(&app, &path, &ada.token, json!({"cron": null})).await;
    r.assert(200);
    assert_eq!(r.body["run"], json!({"status": "not-requested"}));
    assert_eq!(r.body["schedule"]["version"], 0);
    assert_eq!(r.body["schedule"]["timezone"], "UTC");
    let log = app
        .get(&ws_path(&ws, "events?type=schedule.updated"), &ada.token)
        .await;
    assert_eq!(log.body["data"], json!([]));

    // No providers: the schedule is set, its run is `empty`.
    let before = now_ms();
    let r = put(&app, &path, &ada.token, json!({"cron": "0 0 * * *"})).await;
    r.assert(200);
    assert_eq!(r.body["run"], json!({"status": "empty"}));
    assert_eq!(r.body["schedule"]["cron"], "0 0 * * *");
    assert_eq!(r.body["schedule"]["timezone"], "UTC");
    assert_eq!(r.body["schedule"]["last_run_at"], Value::Null);
    let next = ms(&r.body["schedule"]["next_run_at"]);
    assert!(next > before && next <= before + 24 * HOUR);
    assert_eq!(next % (24 * HOUR), 0, "midnight UTC");
    assert_eq!(r.header("etag"), Some("\"1\""));

    // With providers: queued, with the run's id; the run is readable.
    with_providers(&app, &ada, &ws).await;
    let r = put(
        &app,
        &path,
        &ada.token,
        json!({"cron": "30 9 * * MON-FRI", "timezone": "Europe/Paris"}),
    )
    .await;
    r.assert(200);
    assert_eq!(r.body["run"]["status"], "queued");
    let run_id = r.body["run"]["run_id"].as_str().unwrap().to_owned();
    assert!(run_id.starts_with("run_"));
    assert_eq!(r.body["schedule"]["timezone"], "Europe/Paris");
    assert_eq!(r.body["schedule"]["version"], 2);
    let run = app
        .get(&ws_path(&ws, &format!("runs/{run_id}")), &viewer.token)
        .await;
    run.assert(200);
    assert_eq!(run.body["trigger"], "schedule_set");
    assert_eq!(run.body["status"], "queued");
    assert_eq!(run.body["providers"], json!(["anthropic", "openai"]));
    assert_eq!(run.body["attempt"], 0);
    assert_eq!(run.body["workspace_id"], ws["id"]);
    let s = app.get(&path, &viewer.token).await;
    assert_eq!(s.body["last_run_at"], run.body["created_at"]);
    assert_eq!(s.body["cron"], "30 9 * * MON-FRI");

    // Clearing: not-requested, no next run, the latest run still known.
    let r = put(&app, &path, &ada.token, json!({"cron": null})).await;
    r.assert(200);
    assert_eq!(r.body["run"], json!({"status": "not-requested"}));
    assert_eq!(r.body["schedule"]["cron"], Value::Null);
    assert_eq!(r.body["schedule"]["next_run_at"], Value::Null);
    assert_eq!(r.body["schedule"]["last_run_at"], run.body["created_at"]);
    // A PUT replaces the schedule: no zone given is UTC (SPEC §8).
    assert_eq!(r.body["schedule"]["timezone"], "UTC");
    let r = put(
        &app,
        &path,
        &ada.token,
        json!({"cron": "30 9 * * *", "timezone": "Europe/Paris"}),
    )
    .await;
    assert_eq!(r.body["schedule"]["timezone"], "Europe/Paris");
    // 09:30 in Paris is 08:30 UTC in winter, 07:30 in summer.
    let next = ms(&r.body["schedule"]["next_run_at"]);
    assert!(
        next % (24 * HOUR) == 8 * HOUR + 30 * MINUTE
            || next % (24 * HOUR) == 7 * HOUR + 30 * MINUTE
    );
    let r = put(&app, &path, &ada.token, json!({"cron": "30 9 * * *"})).await;
    assert_eq!(r.body["schedule"]["timezone"], "UTC");
    assert_eq!(
        ms(&r.body["schedule"]["next_run_at"]) % (24 * HOUR),
        9 * HOUR + 30 * MINUTE
    );
    // If-Match guards the schedule like any versioned resource.
    app.call_with(
        "PUT",
        &path,
        Some(&ada.token),
        Some(json!({"cron": "0 0 * * *"})),
        &[("if-match", "\"1\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
}

#[tokio::test]
async fn bad_schedules_are_refused_with_the_field() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Cron").await;
    let path = ws_path(&ws, "schedule");
    for (body, field, code) in [
        (json!({"cron": "not cron"}), "cron", "invalid"),
        (json!({"cron": "0 0 * *"}), "cron", "invalid"),
        (json!({"cron": "61 0 * * *"}), "cron", "invalid"),
        (json!({"cron": "* * * * *"}), "cron", "too_frequent"),
        (json!({"cron": "*/2 * * * *"}), "cron", "too_frequent"),
        (
            json!({"cron": "0 0 * * *", "timezone": "Nowhere/Land"}),
            "timezone",
            "invalid",
        ),
        (json!({"timezone": "UTC"}), "cron", "required"),
    ] {
        let r = put(&app, &path, &ada.token, body.clone()).await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.fields(), vec![field], "{body}");
        assert_eq!(r.body["errors"][0]["code"], code, "{body}");
    }
    put(
        &app,
        &path,
        &ada.token,
        json!({"cron": "0 0 * * *", "at": 1}),
    )
    .await
    .assert_problem(400, "unknown_field");
    // Every bad field at once (SPEC §1).
    let r = put(
        &app,
        &path,
        &ada.token,
        json!({"cron": "* * * * *", "timezone": "Nowhere/Land"}),
    )
    .await;
    r.assert_problem(400, "validation_failed");
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(fields, ["cron", "timezone"]);
    // Nothing was stored.
    assert_eq!(app.get(&path, &ada.token).await.body["cron"], Value::Null);
    // The minimum is configuration: at 1 minute, every minute is fine.
    let app = TestApp::spawn_with(|c| c.scheduler.min_interval_minutes = 1).await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Cron").await;
    put(
        &app,
        &ws_path(&ws, "schedule"),
        &ada.token,
        json!({"cron": "* * * * *"}),
    )
    .await
    .assert(200);
}

#[tokio::test]
async fn admins_start_list_and_cancel_runs() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Runs").await;
    let member = app.member_of(&ws, Role::Member).await;
    let viewer = app.member_of(&ws, Role::Viewer).await;
    let runs = ws_path(&ws, "runs");

    app.call("POST", &runs, Some(&ada.token), None)
        .await
        .assert_problem(409, "conflict");
    with_providers(&app, &ada, &ws).await;
    app.call("POST", &runs, Some(&member.token), None)
        .await
        .assert_problem(403, "forbidden");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = app.post(&runs, &ada.token, json!({})).await;
        r.assert(201);
        assert_eq!(r.body["trigger"], "manual");
        assert_eq!(r.body["status"], "queued");
        assert_eq!(r.body["version"], 1);
        let item = format!("{runs}/{}", r.body["id"].as_str().unwrap());
        assert_eq!(r.header("location"), Some(item.as_str()));
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    // The queue's depth is on /metrics.
    let m = app.get("/metrics", ADMIN_TOKEN).await;
    assert!(m.text.contains("workspaced_runs_queued 3"), "{}", m.text);
    // Newest first, by keyset pages, for any member.
    let listed: Vec<String> = app
        .walk(&runs, &viewer.token, 2)
        .await
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    ids.reverse();
    assert_eq!(listed, ids);

    // Cancel (admin+): once; a finished run cannot be cancelled again.
    let one = format!("{runs}/{}/cancel", ids[0]);
    app.call("POST", &one, Some(&member.token), None)
        .await
        .assert_problem(403, "forbidden");
    // A stale If-Match changes nothing (SPEC §1).
    app.call_with(
        "POST",
        &one,
        Some(&ada.token),
        None,
        &[("if-match", "\"7\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    let r = app
        .call_with(
            "POST",
            &one,
            Some(&ada.token),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    r.assert(200);
    assert_eq!(r.body["status"], "cancelled");
    assert!(r.body["finished_at"].is_string());
    assert_eq!(r.body["version"], 2);
    app.call("POST", &one, Some(&ada.token), None)
        .await
        .assert_problem(409, "conflict");

    // Filtered by status.
    let r = app
        .get(&format!("{runs}?status=cancelled"), &viewer.token)
        .await;
    r.assert(200);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["id"], ids[0].as_str());
    app.get(&format!("{runs}?status=done"), &viewer.token)
        .await
        .assert_problem(400, "invalid_parameter");

    // Another workspace's run is not found through this one; nor is junk.
    let bob = app.signup("Bob").await;
    let other = app.workspace(&bob, "Other").await;
    app.get(&ws_path(&other, &format!("runs/{}", ids[1])), &bob.token)
        .await
        .assert_problem(404, "not_found");
    app.call(
        "POST",
        &ws_path(&other, &format!("runs/{}/cancel", ids[1])),
        Some(&bob.token),
        None,
    )
    .await
    .assert_problem(404, "not_found");
    app.get(&format!("{runs}/run_nope"), &ada.token)
        .await
        .assert_problem(404, "not_found");
    // Strangers do not learn the workspace exists.
    app.get(&runs, &bob.token)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn workers_claim_heartbeat_complete_and_fail_runs() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Work").await;
    with_providers(&app, &ada, &ws).await;
    let (w1, _) = worker(&app).await;
    let (w2, _) = worker(&app).await;

    // Only workers take runs.
    app.call("POST", "/v1/runs/claim", Some(&ada.token), None)
        .await
        .assert_problem(403, "forbidden");
    app.call("POST", "/v1/runs/claim", None, None)
        .await
        .assert_problem(401, "unauthenticated");
    let r = app.call("POST", "/v1/runs/claim", Some(&w1), None).await;
    r.assert(204);
    // An optional body, when sent, is JSON like any other (415 otherwise).
    app.call_with(
        "POST",
        "/v1/runs/claim",
        Some(&w1),
        None,
        &[("content-type", "text/plain")],
    )
    .await
    .assert(204);
    let form = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/runs/claim")
        .header("authorization", format!("Bearer {w1}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("lease_seconds=5"))
        .unwrap();
    app.raw(form)
        .await
        .assert_problem(415, "unsupported_media_type");

    let a = app
        .post(&ws_path(&ws, "runs"), &ada.token, json!({}))
        .await
        .body["id"]
        .clone();
    let b = app
        .post(&ws_path(&ws, "runs"), &ada.token, json!({}))
        .await
        .body["id"]
        .clone();

    let bad = app
        .post("/v1/runs/claim", &w1, json!({"lease_seconds": 0}))
        .await;
    bad.assert_problem(400, "validation_failed");
    assert_eq!(bad.fields(), vec!["lease_seconds"]);

    // Oldest first; running, attempt 1, leased.
    let before = now_ms();
    let r = app
        .post("/v1/runs/claim", &w1, json!({"lease_seconds": 30}))
        .await;
    r.assert(200);
    assert_eq!(r.body["id"], a);
    assert_eq!(r.body["status"], "running");
    assert_eq!(r.body["attempt"], 1);
    assert!(r.body["started_at"].is_string());
    let lease = ms(&r.body["lease_expires_at"]);
    assert!(lease >= before + 30 * SECOND && lease <= now_ms() + 30 * SECOND);
    let rb = app.call("POST", "/v1/runs/claim", Some(&w2), None).await;
    rb.assert(200);
    assert_eq!(rb.body["id"], b);
    app.call("POST", "/v1/runs/claim", Some(&w2), None)
        .await
        .assert(204);

    let run_a = |verb: &str| format!("/v1/runs/{}/{verb}", a.as_str().unwrap());
    let run_b = |verb: &str| format!("/v1/runs/{}/{verb}", b.as_str().unwrap());
    // Another worker cannot report on it.
    app.call("POST", &run_a("heartbeat"), Some(&w2), None)
        .await
        .assert_problem(409, "conflict");
    app.post(&run_a("complete"), &w2, json!({"result": {}}))
        .await
        .assert_problem(409, "conflict");
    let hb = app
        .post(&run_a("heartbeat"), &w1, json!({"lease_seconds": 600}))
        .await;
    hb.assert(200);
    assert!(ms(&hb.body["lease_expires_at"]) >= before + 600 * SECOND);

    // Complete with a result; then it is finished for good.
    let done = app
        .post(&run_a("complete"), &w1, json!({"result": {"notes": 3}}))
        .await;
    done.assert(200);
    assert_eq!(done.body["status"], "succeeded");
    assert_eq!(done.body["result"], json!({"notes": 3}));
    assert_eq!(done.body["lease_expires_at"], Value::Null);
    app.post(&run_a("complete"), &w1, json!({}))
        .await
        .assert_problem(409, "conflict");
    app.post(
        &ws_path(&ws, &format!("runs/{}/cancel", a.as_str().unwrap())),
        &ada.token,
        json!({}),
    )
    .await
    .assert_problem(409, "conflict");

    // Fail with retry: back in the queue until the third attempt.
    let bad = app.post(&run_b("fail"), &w2, json!({"error": ""})).await;
    bad.assert_problem(400, "validation_failed");
    assert_eq!(bad.fields(), vec!["error"]);
    for attempt in 1..=3 {
        let f = app
            .post(
                &run_b("fail"),
                &w2,
                json!({"error": "provider timed out", "retry": true}),
            )
            .await;
        f.assert(200);
        assert_eq!(f.body["attempt"], attempt);
        assert_eq!(f.body["error"], "provider timed out");
        if attempt < 3 {
            assert_eq!(f.body["status"], "queued");
            let again = app.call("POST", "/v1/runs/claim", Some(&w2), None).await;
            assert_eq!(again.body["id"], b);
            assert_eq!(again.body["attempt"], attempt + 1);
        } else {
            assert_eq!(f.body["status"], "failed");
            assert!(f.body["finished_at"].is_string());
        }
    }
    app.call("POST", "/v1/runs/claim", Some(&w2), None)
        .await
        .assert(204);

    // Workers sharing a token: naming the attempt they claimed fences off a
    // stale one; a success clears the error of an earlier attempt.
    let c = app
        .post(&ws_path(&ws, "runs"), &ada.token, json!({}))
        .await
        .body["id"]
        .clone();
    let run_c = |verb: &str| format!("/v1/runs/{}/{verb}", c.as_str().unwrap());
    app.call("POST", "/v1/runs/claim", Some(&w1), None)
        .await
        .assert(200);
    app.post(
        &run_c("fail"),
        &w1,
        json!({"error": "flaky", "retry": true, "attempt": 1}),
    )
    .await
    .assert(200);
    let again = app.call("POST", "/v1/runs/claim", Some(&w1), None).await;
    assert_eq!(again.body["attempt"], 2);
    let stale = app
        .post(&run_c("complete"), &w1, json!({"result": {}, "attempt": 1}))
        .await;
    stale.assert_problem(409, "conflict");
    assert!(stale.body["detail"].as_str().unwrap().contains("attempt 2"));
    app.post(&run_c("heartbeat"), &w1, json!({"attempt": 1}))
        .await
        .assert_problem(409, "conflict");
    let ok = app
        .post(
            &run_c("complete"),
            &w1,
            json!({"result": {"ok": true}, "attempt": 2}),
        )
        .await;
    ok.assert(200);
    assert_eq!(ok.body["status"], "succeeded");
    assert_eq!(ok.body["error"], Value::Null);
    app.call("POST", "/v1/runs/run_nope/heartbeat", Some(&w1), None)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_cancelled_run_stops_its_worker_and_lapsed_leases_go_back_to_the_queue() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Lease").await;
    with_providers(&app, &ada, &ws).await;
    let (w1, w1_id) = worker(&app).await;
    let (_, w2_id) = worker(&app).await;

    let run = app
        .post(&ws_path(&ws, "runs"), &ada.token, json!({}))
        .await
        .body["id"]
        .clone();
    let id = run.as_str().unwrap();
    app.call("POST", "/v1/runs/claim", Some(&w1), None)
        .await
        .assert(200);
    app.call(
        "POST",
        &ws_path(&ws, &format!("runs/{id}/cancel")),
        Some(&ada.token),
        None,
    )
    .await
    .assert(200);
    let hb = app
        .call("POST", &format!("/v1/runs/{id}/heartbeat"), Some(&w1), None)
        .await;
    hb.assert_problem(409, "conflict");
    assert!(hb.body["detail"].as_str().unwrap().contains("cancelled"));

    // A lease that lapses: the next claim takes the run back, up to three
    // attempts; the third lapse fails it.
    let run = app
        .post(&ws_path(&ws, "runs"), &ada.token, json!({}))
        .await
        .body["id"]
        .clone();
    let lease = 10 * SECOND;
    let mut now = now_ms();
    for attempt in 1..=3 {
        let worker = if attempt % 2 == 1 { &w1_id } else { &w2_id };
        let claimed = app
            .store
            .claim_run(worker, lease, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id.as_str(), run.as_str().unwrap());
        assert_eq!(claimed.attempt, attempt);
        // Not yet lapsed: nothing to take.
        assert!(app
            .store
            .claim_run(&w2_id, lease, now + lease - 1)
            .await
            .unwrap()
            .is_none());
        now += lease;
    }
    // The third lease lapses: the scheduler's sweep fails it.
    app.store.enqueue_due(now, 100).await.unwrap();
    let r = app
        .get(
            &ws_path(&ws, &format!("runs/{}", run.as_str().unwrap())),
            &ada.token,
        )
        .await;
    assert_eq!(r.body["status"], "failed");
    assert_eq!(r.body["attempt"], 3);
    assert!(r.body["error"].as_str().unwrap().contains("lease"));
}

#[tokio::test]
async fn concurrent_claims_never_share_a_run() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Race").await;
    with_providers(&app, &ada, &ws).await;
    for _ in 0..5 {
        app.post(&ws_path(&ws, "runs"), &ada.token, json!({}))
            .await
            .assert(201);
    }
    let mut workers = Vec::new();
    for _ in 0..4 {
        workers.push(worker(&app).await.0);
    }
    let claims = (0..20).map(|i| {
        let token = workers[i % workers.len()].clone();
        let app = &app;
        async move { app.call("POST", "/v1/runs/claim", Some(&token), None).await }
    });
    let results = futures_util::future::join_all(claims).await;
    let mut taken = HashSet::new();
    let mut empty = 0;
    for r in results {
        match r.status.as_u16() {
            200 => assert!(
                taken.insert(r.body["id"].as_str().unwrap().to_owned()),
                "a run handed out twice"
            ),
            204 => empty += 1,
            s => panic!("unexpected {s}: {}", r.text),
        }
    }
    assert_eq!(taken.len(), 5);
    assert_eq!(empty, 15);
}

#[tokio::test]
async fn the_scheduler_queues_one_run_per_due_tick_and_catches_up_once() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Tick").await;
    with_providers(&app, &ada, &ws).await;
    let r = put(
        &app,
        &ws_path(&ws, "schedule"),
        &ada.token,
        json!({"cron": "0 * * * *"}),
    )
    .await;
    r.assert(200);
    let tick = ms(&r.body["schedule"]["next_run_at"]);
    let count_scheduled = || async {
        app.store
            .list_runs(
                &ws_id(&ws),
                None,
                &workspaced::domain::pagination::PageRequest {
                    limit: 100,
                    start: workspaced::domain::pagination::Start::First,
                    include_total: false,
                },
            )
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|r| r.trigger.as_str() == "schedule")
            .collect::<Vec<_>>()
    };

    // Not due yet: nothing.
    assert_eq!(app.store.enqueue_due(tick - 1, 100).await.unwrap().0, 0);
    // Ten hours of ticks missed (everything was down): one run, and eight
    // schedulers looking at once (replicas) still queue only that one.
    let later = tick + 10 * HOUR + 5 * MINUTE;
    let sweeps = (0..8).map(|_| app.store.enqueue_due(later, 100));
    let queued: usize = futures_util::future::join_all(sweeps)
        .await
        .into_iter()
        .map(|r| r.unwrap().0)
        .sum();
    assert_eq!(queued, 1);
    let runs = count_scheduled().await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].scheduled_for, tick);
    assert_eq!(runs[0].providers, ["anthropic", "openai"]);
    // The next tick is the first after the catch-up.
    let s = app.get(&ws_path(&ws, "schedule"), &ada.token).await;
    assert_eq!(ms(&s.body["next_run_at"]), tick + 11 * HOUR);
    assert_eq!(app.store.enqueue_due(later, 100).await.unwrap().0, 0);
    assert_eq!(
        app.store
            .enqueue_due(tick + 11 * HOUR, 100)
            .await
            .unwrap()
            .0,
        1
    );
    assert_eq!(count_scheduled().await.len(), 2);

    // Without providers a due tick passes without a run.
    let bare = app.workspace(&ada, "Bare").await;
    put(
        &app,
        &ws_path(&bare, "schedule"),
        &ada.token,
        json!({"cron": "0 * * * *"}),
    )
    .await
    .assert(200);
    app.store.enqueue_due(tick + 30 * HOUR, 100).await.unwrap();
    let r = app.get(&ws_path(&bare, "runs"), &ada.token).await;
    assert_eq!(r.body["data"], json!([]));
    let s = app.get(&ws_path(&bare, "schedule"), &ada.token).await;
    assert!(
        ms(&s.body["next_run_at"]) > tick + 30 * HOUR,
        "the tick passed"
    );
}
