//! Workspace settings and the "today" pin (SPEC §7).

use serde_json::{json, Value};
use workspaced::domain::roles::Role;

use crate::helpers::*;

fn path(ws: &Value, suffix: &str) -> String {
    format!("/v1/workspaces/{}{suffix}", ws["id"].as_str().unwrap())
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> TestResponse {
    app.call("PUT", path, Some(token), Some(body)).await
}

#[tokio::test]
async fn settings_show_every_known_key_with_its_default_and_keep_custom_keys() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Lighthouse", "settings": {"theme": "dark", "custom": {"a": 1}}}),
        )
        .await;
    r.assert(201);
    let ws = r.body.clone();
    let viewer = app.member_of(&ws, Role::Viewer).await;
    let s = app.get(&path(&ws, "/settings"), &viewer.token).await;
    s.assert(200);
    assert_eq!(
        s.body,
        json!({"theme": "dark", "todo_block_ids_enabled": true, "default_response_mode": "streaming",
               "default_engagement_mode": "mention", "today_pinned_note_id": null,
               "default_project_id": null, "notifications": {}, "custom": {"a": 1}})
    );
    assert_eq!(s.header("etag"), Some("\"1\""));
}

#[tokio::test]
async fn put_replaces_patch_merges_and_if_match_guards_both() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Docs").await;
    let p = path(&ws, "/settings");
    let r = put(
        &app,
        &p,
        &ada.token,
        json!({"theme": "light", "x": {"a": 1}, "gone": true}),
    )
    .await;
    r.assert(200);
    assert_eq!(r.body["theme"], "light");
    assert_eq!(r.header("etag"), Some("\"2\""));
    let r = put(&app, &p, &ada.token, json!({"x": {"a": 1}})).await;
    r.assert(200);
    assert_eq!(r.body["theme"], "system");
    assert!(r.body.get("gone").is_none());
    let r = app
        .patch(&p, &ada.token, json!({"x": {"b": 2}, "theme": "dark"}))
        .await;
    r.assert(200);
    assert_eq!(r.body["x"], json!({"a": 1, "b": 2}));
    assert_eq!(r.body["theme"], "dark");
    let r = app.patch(&p, &ada.token, json!({"theme": null})).await;
    r.assert(200);
    assert_eq!(r.body["theme"], "system");
    let version = r.header("etag").unwrap().to_owned();
    app.call_with(
        "PATCH",
        &p,
        Some(&ada.token),
        Some(json!({"theme": "dark"})),
        &[("if-match", "\"1\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    app.call_with(
        "PUT",
        &p,
        Some(&ada.token),
        Some(json!({})),
        &[("if-match", "W/\"5\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    app.call_with(
        "PATCH",
        &p,
        Some(&ada.token),
        Some(json!({"theme": "dark"})),
        &[("if-match", &version)],
    )
    .await
    .assert(200);
    // The workspace shows the stored document and the same version.
    let w = app.get(&path(&ws, ""), &ada.token).await;
    assert_eq!(
        w.body["settings"],
        json!({"x": {"a": 1, "b": 2}, "theme": "dark"})
    );
    assert_eq!(
        w.header("etag"),
        app.get(&p, &ada.token).await.header("etag")
    );
}

#[tokio::test]
async fn known_keys_are_checked_by_type_and_value() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Docs").await;
    let p = path(&ws, "/settings");
    for (body, field) in [
        (json!({"theme": "blue"}), "theme"),
        (
            json!({"todo_block_ids_enabled": "yes"}),
            "todo_block_ids_enabled",
        ),
        (
            json!({"default_response_mode": "loud"}),
            "default_response_mode",
        ),
        (
            json!({"default_engagement_mode": 3}),
            "default_engagement_mode",
        ),
        (json!({"today_pinned_note_id": 5}), "today_pinned_note_id"),
        (json!({"default_project_id": ["x"]}), "default_project_id"),
        (json!({"notifications": []}), "notifications"),
    ] {
        let r = put(&app, &p, &ada.token, body.clone()).await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.fields(), vec![field], "{body}");
        let r = app.patch(&p, &ada.token, body.clone()).await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.fields(), vec![field], "{body}");
    }
    let r = put(
        &app,
        &p,
        &ada.token,
        json!({"theme": "x", "notifications": 1}),
    )
    .await;
    assert_eq!(r.fields(), vec!["theme", "notifications"]);
    let r = put(&app, &p, &ada.token, json!({"big": "x".repeat(17 * 1024)})).await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["settings"]);
    put(&app, &p, &ada.token, json!([1, 2]))
        .await
        .assert_problem(400, "validation_failed");
    // Nothing above changed the workspace.
    assert_eq!(app.get(&p, &ada.token).await.header("etag"), Some("\"1\""));
    // Workspace create and PATCH apply the same rule.
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Neon", "settings": {"theme": "neon"}}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["settings.theme"]);
    let r = app
        .patch(
            &path(&ws, ""),
            &ada.token,
            json!({"settings": {"todo_block_ids_enabled": 1}}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["settings.todo_block_ids_enabled"]);
}

#[tokio::test]
async fn default_project_must_be_a_project_of_this_workspace() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Mine").await;
    let other = app.workspace(&ada, "Other").await;
    let mine = app
        .post(
            &path(&ws, "/projects"),
            &ada.token,
            json!({"name": "Roadmap"}),
        )
        .await;
    mine.assert(201);
    let theirs = app
        .post(
            &path(&other, "/projects"),
            &ada.token,
            json!({"name": "Roadmap"}),
        )
        .await;
    theirs.assert(201);
    let p = path(&ws, "/settings");
    for bad in [theirs.body["id"].clone(), json!("prj_nope")] {
        let r = app
            .patch(&p, &ada.token, json!({"default_project_id": bad}))
            .await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.fields(), vec!["default_project_id"]);
    }
    let r = app
        .patch(
            &path(&ws, ""),
            &ada.token,
            json!({"settings": {"default_project_id": theirs.body["id"]}}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["settings.default_project_id"]);
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "New", "settings": {"default_project_id": mine.body["id"]}}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["settings.default_project_id"]);
    let r = app
        .patch(
            &p,
            &ada.token,
            json!({"default_project_id": mine.body["id"]}),
        )
        .await;
    r.assert(200);
    assert_eq!(r.body["default_project_id"], mine.body["id"]);
    // Deleting the project clears the setting.
    app.delete(
        &format!(
            "{}/{}",
            path(&ws, "/projects"),
            mine.body["id"].as_str().unwrap()
        ),
        &ada.token,
    )
    .await
    .assert(204);
    let r = app.get(&p, &ada.token).await;
    assert_eq!(r.body["default_project_id"], Value::Null);
}

#[tokio::test]
async fn members_pin_today_and_viewers_cannot() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Daily").await;
    let member = app.member_of(&ws, Role::Member).await;
    let viewer = app.member_of(&ws, Role::Viewer).await;
    let p = path(&ws, "/today-pin");
    let r = put(&app, &p, &member.token, json!({"note_id": "note-42"})).await;
    r.assert(200);
    assert_eq!(r.body["today_pinned_note_id"], "note-42");
    assert_eq!(r.body["theme"], "system");
    assert_eq!(r.header("etag"), Some("\"2\""));
    put(&app, &p, &viewer.token, json!({"note_id": "x"}))
        .await
        .assert_problem(403, "forbidden");
    let r = put(&app, &p, &member.token, json!({})).await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["note_id"]);
    let r = put(&app, &p, &member.token, json!({"note_id": ""})).await;
    assert_eq!(r.fields(), vec!["note_id"]);
    put(&app, &p, &member.token, json!({"note_id": "n", "x": 1}))
        .await
        .assert_problem(400, "unknown_field");
    app.call_with(
        "PUT",
        &p,
        Some(&member.token),
        Some(json!({"note_id": null})),
        &[("if-match", "\"1\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    let r = put(&app, &p, &member.token, json!({"note_id": null})).await;
    r.assert(200);
    assert_eq!(r.body["today_pinned_note_id"], Value::Null);
    // Writing settings is admin+, reading any member.
    put(&app, &path(&ws, "/settings"), &member.token, json!({}))
        .await
        .assert_problem(403, "forbidden");
    app.get(&path(&ws, "/settings"), &viewer.token)
        .await
        .assert(200);
}

#[tokio::test]
async fn archived_workspaces_refuse_settings_writes() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Old").await;
    app.post(&path(&ws, "/archive"), &ada.token, json!({"archive": true}))
        .await
        .assert(200);
    put(&app, &path(&ws, "/settings"), &ada.token, json!({}))
        .await
        .assert_problem(409, "workspace_archived");
    app.patch(&path(&ws, "/settings"), &ada.token, json!({}))
        .await
        .assert_problem(409, "workspace_archived");
    put(
        &app,
        &path(&ws, "/today-pin"),
        &ada.token,
        json!({"note_id": "n"}),
    )
    .await
    .assert_problem(409, "workspace_archived");
    app.get(&path(&ws, "/settings"), &ada.token)
        .await
        .assert(200);
}

#[tokio::test]
async fn template_settings_apply_under_the_clients() {
    let app = TestApp::spawn_with(|c| {
        c.template.settings = json!({"theme": "dark", "notifications": {"email": true}})
            .as_object()
            .unwrap()
            .clone();
    })
    .await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Tpl").await;
    assert_eq!(
        ws["settings"],
        json!({"theme": "dark", "notifications": {"email": true}})
    );
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Tpl Two", "settings": {"theme": "light"}}),
        )
        .await;
    r.assert(201);
    assert_eq!(r.body["settings"]["theme"], "light");
    assert_eq!(r.body["settings"]["notifications"], json!({"email": true}));
}
