//! Events and the audit log (SPEC §9): every change records an event in its
//! own transaction, with who made it, under which request, and what
//! changed; a change that fails records nothing; the log is admin-only and
//! per workspace.

use serde_json::{json, Value};
use workspaced::domain::roles::Role;
use workspaced::domain::time::HOUR;

use crate::helpers::*;

fn ws_path(ws: &Value, rest: &str) -> String {
    format!("/v1/workspaces/{}/{rest}", ws["id"].as_str().unwrap())
}

/// The workspace's events, newest first (every page).
async fn events(app: &TestApp, ws: &Value, token: &str) -> Vec<Value> {
    app.walk(&ws_path(ws, "events"), token, 7).await
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn changes_are_recorded_with_actor_request_and_changes() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let created = app
        .call_with(
            "POST",
            "/v1/workspaces",
            Some(&ada.token),
            Some(json!({"name": "Audit"})),
            &[("x-request-id", "req-create-1")],
        )
        .await;
    created.assert(201);
    let ws = created.body.clone();
    let bob = app.signup("Bob").await;
    let members = ws_path(&ws, "members");
    let added = app
        .post(
            &members,
            &ada.token,
            json!({"email": bob.email, "role": "member"}),
        )
        .await;
    added.assert(201);
    let bob_path = format!("{members}/{}", bob.id);
    app.patch(&bob_path, &ada.token, json!({"role": "admin"}))
        .await
        .assert(200);
    app.call(
        "PATCH",
        &format!("/v1/workspaces/{}", ws["id"].as_str().unwrap()),
        Some(&ada.token),
        Some(json!({"name": "Audited", "description": "Who did what"})),
    )
    .await
    .assert(200);
    app.patch(
        &ws_path(&ws, "settings"),
        &ada.token,
        json!({"theme": "dark"}),
    )
    .await
    .assert(200);
    app.delete(&bob_path, &ada.token).await.assert(204);

    let log = events(&app, &ws, &ada.token).await;
    assert_eq!(
        types(&log),
        [
            "member.removed",
            "settings.updated",
            "workspace.updated",
            "member.role_changed",
            "member.added",
            "workspace.created"
        ]
    );
    let created_event = &log[5];
    assert!(created_event["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(created_event["workspace_id"], ws["id"]);
    assert_eq!(
        created_event["actor"],
        json!({"type": "user", "id": ada.id})
    );
    assert_eq!(
        created_event["target"],
        json!({"type": "workspace", "id": ws["id"]})
    );
    assert_eq!(created_event["request_id"], "req-create-1");
    assert_eq!(
        created_event["changes"],
        json!({"name": [null, "Audit"], "slug": [null, ws["slug"]]})
    );
    assert!(created_event["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(log[4]["target"], json!({"type": "member", "id": bob.id}));
    assert_eq!(log[4]["changes"], json!({"role": [null, "member"]}));
    assert_eq!(log[3]["changes"], json!({"role": ["member", "admin"]}));
    assert_eq!(
        log[2]["changes"],
        json!({"name": ["Audit", "Audited"], "description": [null, "Who did what"]})
    );
    assert_eq!(log[1]["changes"], json!({"theme": [null, "dark"]}));
    assert_eq!(log[0]["changes"], json!({"role": ["admin", null]}));
    // The request id is the one the response carried (generated here).
    assert_eq!(log[4]["request_id"], added.header("x-request-id").unwrap());

    // Filtered by type; an unknown type is a bad parameter.
    let r = app
        .get(
            &format!("{}?type=member.role_changed", ws_path(&ws, "events")),
            &ada.token,
        )
        .await;
    r.assert(200);
    assert_eq!(
        types(r.body["data"].as_array().unwrap()),
        ["member.role_changed"]
    );
    app.get(
        &format!("{}?type=member.exploded", ws_path(&ws, "events")),
        &ada.token,
    )
    .await
    .assert_problem(400, "invalid_parameter");
    // Every type of SPEC §9 is a valid filter, even one never listed here.
    for kind in ["workspace.purged", "organization.created"] {
        let r = app
            .get(
                &format!("{}?type={kind}", ws_path(&ws, "events")),
                &ada.token,
            )
            .await;
        r.assert(200);
        assert_eq!(r.body["data"], json!([]), "{kind}");
    }

    // Lifecycle events say what moved: the status.
    let base = format!("/v1/workspaces/{}", ws["id"].as_str().unwrap());
    let archive = format!("{base}/archive");
    for on in [true, false] {
        app.post(&archive, &ada.token, json!({"archive": on}))
            .await
            .assert(200);
    }
    app.delete(&base, &ada.token).await.assert(200);
    app.post(&format!("{base}/restore"), &ada.token, json!({}))
        .await
        .assert(200);
    let log = events(&app, &ws, &ada.token).await;
    let lifecycle: Vec<(&str, &Value)> = log[..4]
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), &e["changes"]))
        .collect();
    assert_eq!(
        lifecycle,
        [
            (
                "workspace.restored",
                &json!({"status": ["deleted", "active"]})
            ),
            (
                "workspace.deleted",
                &json!({"status": ["active", "deleted"]})
            ),
            (
                "workspace.unarchived",
                &json!({"status": ["archived", "active"]})
            ),
            (
                "workspace.archived",
                &json!({"status": ["active", "archived"]})
            ),
        ]
    );
}

#[tokio::test]
async fn a_change_that_fails_records_nothing_and_secrets_never_appear() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Quiet").await;
    app.workspace(&ada, "Taken Name").await;
    let before = events(&app, &ws, &ada.token).await.len();
    // Refused changes: a taken slug, a bad setting, a stale If-Match.
    app.call(
        "PATCH",
        &format!("/v1/workspaces/{}", ws["id"].as_str().unwrap()),
        Some(&ada.token),
        Some(json!({"slug": "taken-name"})),
    )
    .await
    .assert_problem(409, "slug_taken");
    app.patch(
        &ws_path(&ws, "settings"),
        &ada.token,
        json!({"theme": "neon"}),
    )
    .await
    .assert_problem(400, "validation_failed");
    app.call_with(
        "PATCH",
        &format!("/v1/workspaces/{}", ws["id"].as_str().unwrap()),
        Some(&ada.token),
        Some(json!({"name": "Stale"})),
        &[("if-match", "\"99\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    assert_eq!(events(&app, &ws, &ada.token).await.len(), before);

    // Bridge credentials: only whether there are any.
    let secret = "ntn_never_in_the_log_0123456789";
    let r = app
        .post(
            &ws_path(&ws, "bridges"),
            &ada.token,
            json!({"kind": "notion", "name": "Wiki", "credentials": {"token": secret}}),
        )
        .await;
    r.assert(201);
    let b = format!(
        "{}/{}",
        ws_path(&ws, "bridges"),
        r.body["id"].as_str().unwrap()
    );
    app.patch(
        &b,
        &ada.token,
        json!({"credentials": {"token": format!("{secret}-2")}}),
    )
    .await
    .assert(200);
    let r = app.get(&ws_path(&ws, "events"), &ada.token).await;
    assert!(!r.text.contains(secret), "{}", r.text);
    assert_eq!(r.body["data"][0]["type"], "bridge.updated");
    assert_eq!(r.body["data"][1]["type"], "bridge.created");
}

#[tokio::test]
async fn the_audit_log_is_for_admins_of_the_workspace() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Private").await;
    let member = app.member_of(&ws, Role::Member).await;
    let admin = app.member_of(&ws, Role::Admin).await;
    let stranger = app.signup("Eve").await;
    let theirs = app.workspace(&stranger, "Theirs").await;
    let path = ws_path(&ws, "events");
    app.get(&path, &member.token)
        .await
        .assert_problem(403, "forbidden");
    app.get(&path, &stranger.token)
        .await
        .assert_problem(404, "not_found");
    let log = events(&app, &ws, &admin.token).await;
    // Only this workspace's events: none of the stranger's workspace.
    assert!(log.iter().all(|e| e["workspace_id"] == ws["id"]));
    let r = app.get(&ws_path(&theirs, "events"), &stranger.token).await;
    assert!(!r.text.contains(ws["id"].as_str().unwrap()));
}

#[tokio::test]
async fn services_and_the_system_are_actors_too() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Auto").await;
    app.call(
        "PUT",
        &ws_path(&ws, "providers"),
        Some(&ada.token),
        Some(json!({"providers": ["openai"]})),
    )
    .await
    .assert(200);
    let r = app
        .call(
            "PUT",
            &ws_path(&ws, "schedule"),
            Some(&ada.token),
            Some(json!({"cron": "0 * * * *"})),
        )
        .await;
    let tick =
        chrono::DateTime::parse_from_rfc3339(r.body["schedule"]["next_run_at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
    // The scheduler (no request) queues the due tick.
    app.store.enqueue_due(tick + HOUR / 2, 100).await.unwrap();
    // A worker takes it.
    let t = app
        .post(
            "/v1/admin/tokens",
            ADMIN_TOKEN,
            json!({"name": "w", "scopes": ["runs"]}),
        )
        .await;
    let (worker, worker_id) = (t.body["token"].as_str().unwrap(), t.body["id"].clone());
    app.call("POST", "/v1/runs/claim", Some(worker), None)
        .await
        .assert(200);

    let log = events(&app, &ws, &ada.token).await;
    assert_eq!(
        types(&log[..5]),
        [
            "run.started",
            "run.queued",
            "run.queued",
            "schedule.updated",
            "providers.updated"
        ]
    );
    assert_eq!(log[0]["actor"], json!({"type": "service", "id": worker_id}));
    assert_eq!(log[0]["changes"]["status"], json!(["queued", "running"]));
    let scheduled = &log[1];
    assert_eq!(scheduled["actor"], json!({"type": "system", "id": null}));
    assert_eq!(scheduled["request_id"], Value::Null);
    assert_eq!(log[2]["actor"]["type"], "user"); // the schedule's own run
                                                 // The zone was UTC already (the default): only the cron moved.
    assert_eq!(log[3]["changes"], json!({"cron": [null, "0 * * * *"]}));
    assert_eq!(log[4]["changes"], json!({"providers": [[], ["openai"]]}));
}

#[tokio::test]
async fn side_effects_are_recorded_too() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Effects").await;
    // Inviting an address again revokes the pending invitation.
    let invitations = ws_path(&ws, "invitations");
    let first = app
        .post(
            &invitations,
            &ada.token,
            json!({"email": "guest@example.com"}),
        )
        .await;
    first.assert(201);
    app.post(
        &invitations,
        &ada.token,
        json!({"email": "guest@example.com"}),
    )
    .await
    .assert(201);
    // Deleting the default project clears the setting.
    let p = app
        .post(
            &ws_path(&ws, "projects"),
            &ada.token,
            json!({"name": "Main"}),
        )
        .await;
    let pid = p.body["id"].as_str().unwrap().to_owned();
    app.patch(
        &ws_path(&ws, "settings"),
        &ada.token,
        json!({"default_project_id": pid}),
    )
    .await
    .assert(200);
    app.delete(&ws_path(&ws, &format!("projects/{pid}")), &ada.token)
        .await
        .assert(204);

    let log = events(&app, &ws, &ada.token).await;
    assert_eq!(
        types(&log[..7]),
        [
            "project.deleted",
            "settings.updated",
            "settings.updated",
            "project.created",
            "invitation.created",
            "invitation.revoked",
            "invitation.created"
        ]
    );
    assert_eq!(
        log[1]["changes"],
        json!({"default_project_id": [pid, null]})
    );
    assert_eq!(log[5]["target"]["id"], first.body["id"]);
}
