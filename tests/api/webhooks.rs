//! Webhooks (SPEC §9): endpoints (admin+, the secret shown once, private
//! addresses refused unless configured), deliveries queued with their
//! event's transaction, signed per Standard Webhooks, retried with backoff,
//! listed with their attempts, and the endpoint disabled after repeated
//! failures. Deliveries are sent by calling the delivery job's step with an
//! explicit `now`, to a receiver on 127.0.0.1.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use workspaced::domain::roles::Role;
use workspaced::domain::time::{now_ms, DAY, SECOND};
use workspaced::domain::webhook::{sign, DISABLE_AFTER_FAILURES};
use workspaced::jobs::webhooks::Sender;

use crate::helpers::*;

fn ws_path(ws: &Value, rest: &str) -> String {
    format!("/v1/workspaces/{}/{rest}", ws["id"].as_str().unwrap())
}

/// What the receiver saw: (headers, body) of each request.
type Seen = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A receiver on 127.0.0.1 answering `status` (changeable): its URL.
async fn receiver(status: Arc<Mutex<u16>>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let (s, st) = (seen.clone(), status.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (s, st) = (s.clone(), st.clone());
            async move {
                s.lock().unwrap().push((headers, body));
                StatusCode::from_u16(*st.lock().unwrap()).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), seen)
}

#[tokio::test]
async fn admins_manage_endpoints_and_see_the_secret_once() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Hooks").await;
    let member = app.member_of(&ws, Role::Member).await;
    let path = ws_path(&ws, "webhooks");
    let body = json!({"url": "https://hooks.example.com/in", "events": ["member.*", "run.failed", "member.*"]});
    app.post(&path, &member.token, body.clone())
        .await
        .assert_problem(403, "forbidden");
    app.get(&path, &member.token)
        .await
        .assert_problem(403, "forbidden");
    let r = app.post(&path, &ada.token, body).await;
    r.assert(201);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("whk_"));
    assert!(r.body["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(r.body["events"], json!(["member.*", "run.failed"]));
    assert_eq!(r.body["enabled"], true);
    let item = format!("{path}/{id}");
    assert_eq!(r.header("location"), Some(item.as_str()));
    let got = app.get(&item, &ada.token).await;
    got.assert(200);
    assert!(got.body.get("secret").is_none(), "{}", got.text);
    assert_eq!(got.body["url"], "https://hooks.example.com/in");

    // Bad input names the field.
    for (body, field, code) in [
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"]}),
            "url",
            "private_address",
        ),
        (
            json!({"url": "http://169.254.169.254/", "events": ["*"]}),
            "url",
            "private_address",
        ),
        (
            json!({"url": "http://localhost/x", "events": ["*"]}),
            "url",
            "private_address",
        ),
        (
            json!({"url": "http://2130706433/x", "events": ["*"]}),
            "url",
            "private_address",
        ),
        (
            json!({"url": "ftp://example.com/", "events": ["*"]}),
            "url",
            "invalid",
        ),
        (
            json!({"url": "https://example.com/", "events": []}),
            "events",
            "required",
        ),
        (
            json!({"url": "https://example.com/", "events": ["member.exploded"]}),
            "events",
            "unknown",
        ),
    ] {
        let r = app.post(&path, &ada.token, body.clone()).await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.fields(), vec![field], "{body}");
        assert_eq!(r.body["errors"][0]["code"], code, "{body}");
    }

    // A stale If-Match changes nothing (SPEC §1).
    app.call_with(
        "PATCH",
        &item,
        Some(&ada.token),
        Some(json!({"enabled": false})),
        &[("if-match", "\"9\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    let r = app
        .patch(
            &item,
            &ada.token,
            json!({"events": ["*"], "enabled": false}),
        )
        .await;
    r.assert(200);
    assert_eq!(r.body["events"], json!(["*"]));
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["version"], 2);
    let list = app.get(&path, &ada.token).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    assert!(!list.text.contains("whsec_"));
    app.delete(&item, &ada.token).await.assert(204);
    app.get(&item, &ada.token)
        .await
        .assert_problem(404, "not_found");
    // Endpoint changes are audited (never the secret).
    let log = app.get(&ws_path(&ws, "events"), &ada.token).await;
    let kinds: Vec<&str> = log.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds[..3],
        ["webhook.deleted", "webhook.updated", "webhook.created"]
    );
    assert!(!log.text.contains("whsec_"));
    // Another workspace's endpoint is not found through this one.
    let bob = app.signup("Bob").await;
    let other = app.workspace(&bob, "Other").await;
    let theirs = app
        .post(
            &ws_path(&other, "webhooks"),
            &bob.token,
            json!({"url": "https://example.com/", "events": ["*"]}),
        )
        .await;
    let their_id = theirs.body["id"].as_str().unwrap();
    app.get(&format!("{path}/{their_id}"), &ada.token)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("{path}/{their_id}/deliveries"), &ada.token)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn subscribed_events_are_delivered_signed() {
    let app = TestApp::spawn_with(|c| c.webhooks.allow_private_urls = true).await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Hooks").await;
    let (url, seen) = receiver(Arc::new(Mutex::new(204))).await;
    let created = app
        .post(
            &ws_path(&ws, "webhooks"),
            &ada.token,
            json!({"url": url, "events": ["member.*"]}),
        )
        .await;
    created.assert(201);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let hook = created.body["id"].as_str().unwrap().to_owned();

    // A subscribed event (member.added) and one that is not (workspace.updated).
    let bob = app.signup("Bob").await;
    app.post(
        &ws_path(&ws, "members"),
        &ada.token,
        json!({"email": bob.email, "role": "member"}),
    )
    .await
    .assert(201);
    app.call(
        "PATCH",
        &format!("/v1/workspaces/{}", ws["id"].as_str().unwrap()),
        Some(&ada.token),
        Some(json!({"name": "Hooked"})),
    )
    .await
    .assert(200);

    let sender = Sender::new(true).unwrap();
    assert_eq!(sender.deliver_due(&app.state, now_ms()).await.unwrap(), 1);
    let (headers, body) = seen.lock().unwrap()[0].clone();
    let id = headers["webhook-id"].to_str().unwrap();
    let ts: i64 = headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((ts - now_ms() / 1000).abs() < 60);
    assert_eq!(
        headers["webhook-signature"].to_str().unwrap(),
        sign(&secret, id, ts, &body)
    );
    assert_eq!(headers["content-type"], "application/json");
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["type"], "member.added");
    assert_eq!(payload["data"]["type"], "member.added");
    assert_eq!(
        payload["data"]["target"],
        json!({"type": "member", "id": bob.id})
    );
    assert_eq!(
        payload["data"]["actor"],
        json!({"type": "user", "id": ada.id})
    );
    assert_eq!(payload["data"]["workspace_id"], ws["id"]);
    // Events of another workspace never reach this endpoint.
    let other = app.workspace(&ada, "Elsewhere").await;
    let carl = app.signup("Carl").await;
    let add = json!({"email": carl.email, "role": "member"});
    app.post(&ws_path(&other, "members"), &ada.token, add)
        .await
        .assert(201);
    // Nothing more is due: the delivery succeeded.
    assert_eq!(
        sender
            .deliver_due(&app.state, now_ms() + DAY)
            .await
            .unwrap(),
        0
    );
    let d = app
        .get(
            &ws_path(&ws, &format!("webhooks/{hook}/deliveries")),
            &ada.token,
        )
        .await;
    d.assert(200);
    let data = d.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["id"], id);
    assert_eq!(data[0]["status"], "succeeded");
    assert_eq!(data[0]["event_type"], "member.added");
    assert_eq!(data[0]["attempts"], 1);
    assert_eq!(data[0]["attempt_log"][0]["status_code"], 204);
    assert!(data[0]["delivered_at"].is_string());
}

#[tokio::test]
async fn failed_deliveries_back_off_and_disable_the_endpoint() {
    let app = TestApp::spawn_with(|c| c.webhooks.allow_private_urls = true).await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Flaky").await;
    let status = Arc::new(Mutex::new(500));
    let (url, seen) = receiver(status.clone()).await;
    let created = app
        .post(
            &ws_path(&ws, "webhooks"),
            &ada.token,
            json!({"url": url, "events": ["settings.*"]}),
        )
        .await;
    let hook = created.body["id"].as_str().unwrap().to_owned();
    let item = ws_path(&ws, &format!("webhooks/{hook}"));
    app.call(
        "PUT",
        &ws_path(&ws, "settings"),
        Some(&ada.token),
        Some(json!({"theme": "dark"})),
    )
    .await
    .assert(200);
    let sender = Sender::new(true).unwrap();
    let mut now = now_ms();
    assert_eq!(sender.deliver_due(&app.state, now).await.unwrap(), 1);
    let d = app.get(&format!("{item}/deliveries"), &ada.token).await;
    let first = &d.body["data"][0];
    assert_eq!(first["status"], "pending");
    assert_eq!(first["attempts"], 1);
    assert_eq!(first["attempt_log"][0]["status_code"], 500);
    assert!(first["attempt_log"][0]["error"]
        .as_str()
        .unwrap()
        .contains("500"));
    // Not due again before its backoff.
    assert_eq!(
        sender
            .deliver_due(&app.state, now + 4 * SECOND)
            .await
            .unwrap(),
        0
    );
    // Each later attempt after a longer wait; the tenth failure in a row
    // disables the endpoint.
    for attempt in 2..=DISABLE_AFTER_FAILURES {
        now += workspaced::domain::webhook::backoff(attempt - 1) + SECOND;
        assert_eq!(
            sender.deliver_due(&app.state, now).await.unwrap(),
            1,
            "attempt {attempt}"
        );
    }
    assert_eq!(seen.lock().unwrap().len() as i64, DISABLE_AFTER_FAILURES);
    let w = app.get(&item, &ada.token).await;
    assert_eq!(w.body["enabled"], false);
    assert!(w.body["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("failed"));
    // The service's own change is in the audit log, by the system.
    let events = format!("{}?type=webhook.updated", ws_path(&ws, "events"));
    let log = app.get(&events, &ada.token).await;
    assert_eq!(
        log.body["data"][0]["actor"],
        json!({"type": "system", "id": null})
    );
    assert_eq!(
        log.body["data"][0]["changes"],
        json!({"enabled": [true, false]})
    );
    // Disabled: nothing is sent.
    assert_eq!(
        sender.deliver_due(&app.state, now + DAY / 2).await.unwrap(),
        0
    );
    // Enabled again, the endpoint recovers: the pending delivery goes out.
    *status.lock().unwrap() = 200;
    let r = app.patch(&item, &ada.token, json!({"enabled": true})).await;
    assert_eq!(r.body["disabled_reason"], Value::Null);
    now += workspaced::domain::webhook::backoff(DISABLE_AFTER_FAILURES) + SECOND;
    assert_eq!(sender.deliver_due(&app.state, now).await.unwrap(), 1);
    let d = app.get(&format!("{item}/deliveries"), &ada.token).await;
    assert_eq!(d.body["data"][0]["status"], "succeeded");
    assert_eq!(d.body["data"][0]["attempts"], DISABLE_AFTER_FAILURES + 1);

    // A delivery still failing 24 hours after its event fails for good.
    *status.lock().unwrap() = 503;
    app.call(
        "PUT",
        &ws_path(&ws, "settings"),
        Some(&ada.token),
        Some(json!({"theme": "light"})),
    )
    .await
    .assert(200);
    let start = now_ms();
    for step in 0..6 {
        let at = start + step * 8 * 3_600 * SECOND;
        sender.deliver_due(&app.state, at).await.unwrap();
    }
    let d = app.get(&format!("{item}/deliveries"), &ada.token).await;
    assert_eq!(d.body["data"][0]["event_type"], "settings.updated");
    assert_eq!(d.body["data"][0]["status"], "failed");
}

#[tokio::test]
async fn organization_events_reach_the_endpoints_of_its_workspaces() {
    let app = TestApp::spawn_with(|c| c.webhooks.allow_private_urls = true).await;
    let ada = app.signup("Ada").await;
    let created = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Org Hooks", "organization": {"name": "Acme"}}),
        )
        .await;
    created.assert(201);
    let ws = created.body.clone();
    let org = ws["organization_id"].as_str().unwrap().to_owned();
    let lone = app.workspace(&ada, "No Org").await;
    let (url, seen) = receiver(Arc::new(Mutex::new(204))).await;
    // Every type SPEC §9 lists may be subscribed to, organization.* and
    // workspace.purged included.
    for events in [json!(["organization.*"]), json!(["workspace.purged"])] {
        app.post(
            &ws_path(&lone, "webhooks"),
            &ada.token,
            json!({"url": url, "events": events}),
        )
        .await
        .assert(201);
    }
    app.post(
        &ws_path(&ws, "webhooks"),
        &ada.token,
        json!({"url": url, "events": ["organization.updated"]}),
    )
    .await
    .assert(201);
    app.patch(
        &format!("/v1/organizations/{org}"),
        &ada.token,
        json!({"name": "Acme Corp"}),
    )
    .await
    .assert(200);
    let sender = Sender::new(true).unwrap();
    // Only the endpoint of the organization's workspace gets it.
    assert_eq!(sender.deliver_due(&app.state, now_ms()).await.unwrap(), 1);
    let (_, body) = seen.lock().unwrap()[0].clone();
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["type"], "organization.updated");
    assert_eq!(payload["data"]["organization_id"], org.as_str());
    assert_eq!(payload["data"]["workspace_id"], Value::Null);
    assert_eq!(
        payload["data"]["changes"],
        json!({"name": ["Acme", "Acme Corp"]})
    );
    // Who belongs to the organization is not sent to its workspaces'
    // endpoints (their admins need not be members of it).
    app.post(
        &ws_path(&ws, "webhooks"),
        &ada.token,
        json!({"url": url, "events": ["*"]}),
    )
    .await
    .assert(201);
    // (That endpoint's own webhook.created is sent first.)
    assert_eq!(sender.deliver_due(&app.state, now_ms()).await.unwrap(), 1);
    let bob = app.signup("Bob").await;
    app.post(
        &format!("/v1/organizations/{org}/members"),
        &ada.token,
        json!({"user_id": bob.id, "role": "member"}),
    )
    .await
    .assert(201);
    assert_eq!(sender.deliver_due(&app.state, now_ms()).await.unwrap(), 0);
    let kinds: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| serde_json::from_str::<Value>(body).unwrap()["type"].to_string())
        .collect();
    assert_eq!(kinds, ["\"organization.updated\"", "\"webhook.created\""]);
}
