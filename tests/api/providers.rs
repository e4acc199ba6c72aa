//! AI providers of a workspace (SPEC §7).

use serde_json::{json, Value};
use workspaced::domain::roles::Role;

use crate::helpers::*;

fn path(ws: &Value) -> String {
    format!("/v1/workspaces/{}/providers", ws["id"].as_str().unwrap())
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> TestResponse {
    app.call("PUT", path, Some(token), Some(body)).await
}

#[tokio::test]
async fn a_new_workspace_has_no_providers_and_admins_choose_them() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Ai").await;
    let viewer = app.member_of(&ws, Role::Viewer).await;
    let r = app.get(&path(&ws), &viewer.token).await;
    r.assert(200);
    assert_eq!(r.body, json!({"providers": []}));
    assert_eq!(r.header("etag"), Some("\"1\""));
    let r = put(
        &app,
        &path(&ws),
        &ada.token,
        json!({"providers": ["anthropic", "OpenAI", "anthropic"]}),
    )
    .await;
    r.assert(200);
    assert_eq!(r.body, json!({"providers": ["anthropic", "openai"]}));
    assert_eq!(r.header("etag"), Some("\"2\""));
    assert_eq!(app.get(&path(&ws), &viewer.token).await.body, r.body);
    // The same list again changes nothing.
    let r = put(
        &app,
        &path(&ws),
        &ada.token,
        json!({"providers": ["anthropic", "openai"]}),
    )
    .await;
    assert_eq!(r.header("etag"), Some("\"2\""));
    app.call_with(
        "PUT",
        &path(&ws),
        Some(&ada.token),
        Some(json!({"providers": ["google"]})),
        &[("if-match", "\"1\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    app.call_with(
        "PUT",
        &path(&ws),
        Some(&ada.token),
        Some(json!({"providers": ["google"]})),
        &[("if-match", "\"2\"")],
    )
    .await
    .assert(200);
}

#[tokio::test]
async fn unknown_or_missing_providers_are_refused_by_name() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Ai").await;
    let r = put(
        &app,
        &path(&ws),
        &ada.token,
        json!({"providers": ["openai", "skynet", "hal"]}),
    )
    .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["providers[1]", "providers[2]"]);
    assert!(r.body["detail"].as_str().unwrap().contains("skynet, hal"));
    let r = put(&app, &path(&ws), &ada.token, json!({"providers": []})).await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["providers"]);
    let r = put(&app, &path(&ws), &ada.token, json!({})).await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["providers"]);
    put(&app, &path(&ws), &ada.token, json!({"providers": "openai"}))
        .await
        .assert_problem(400, "validation_failed");
    let member = app.member_of(&ws, Role::Member).await;
    put(
        &app,
        &path(&ws),
        &member.token,
        json!({"providers": ["openai"]}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        &format!("/v1/workspaces/{}/archive", ws["id"].as_str().unwrap()),
        &ada.token,
        json!({"archive": true}),
    )
    .await
    .assert(200);
    put(
        &app,
        &path(&ws),
        &ada.token,
        json!({"providers": ["openai"]}),
    )
    .await
    .assert_problem(409, "workspace_archived");
}

#[tokio::test]
async fn the_configured_list_and_the_template_decide() {
    let app = TestApp::spawn_with(|c| {
        c.providers = vec!["local-llm".into(), "anthropic".into()];
        c.template.providers = vec!["anthropic".into()];
    })
    .await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Ai").await;
    assert_eq!(
        app.get(&path(&ws), &ada.token).await.body,
        json!({"providers": ["anthropic"]})
    );
    put(
        &app,
        &path(&ws),
        &ada.token,
        json!({"providers": ["openai"]}),
    )
    .await
    .assert_problem(400, "validation_failed");
    put(
        &app,
        &path(&ws),
        &ada.token,
        json!({"providers": ["local-llm"]}),
    )
    .await
    .assert(200);
}
