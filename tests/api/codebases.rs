//! Codebases (SPEC §7): local paths and GitHub repositories.

use serde_json::{json, Value};
use workspaced::domain::roles::Role;

use crate::helpers::*;

fn path(ws: &Value) -> String {
    format!("/v1/workspaces/{}/codebases", ws["id"].as_str().unwrap())
}

#[tokio::test]
async fn members_manage_local_and_github_codebases() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Code").await;
    let member = app.member_of(&ws, Role::Member).await;
    let viewer = app.member_of(&ws, Role::Viewer).await;
    let r = app
        .post(
            &path(&ws),
            &member.token,
            json!({"name": "Server", "source_type": "local", "path": "/srv/app", "branch": "main"}),
        )
        .await;
    r.assert(201);
    let local = r.body.clone();
    assert!(local["id"].as_str().unwrap().starts_with("cb_"));
    assert_eq!(local["path"], "/srv/app");
    assert_eq!(local["repository"], Value::Null);
    assert_eq!(local["branch"], "main");
    assert_eq!(r.header("etag"), Some("\"1\""));
    let r = app
        .post(
            &path(&ws),
            &member.token,
            json!({"name": "Web", "source_type": "github", "repository": "acme/web"}),
        )
        .await;
    r.assert(201);
    let gh = r.body.clone();
    let item = format!("{}/{}", path(&ws), gh["id"].as_str().unwrap());
    assert_eq!(app.get(&item, &viewer.token).await.body, gh);
    app.post(
        &path(&ws),
        &viewer.token,
        json!({"name": "x", "source_type": "local", "path": "/x"}),
    )
    .await
    .assert_problem(403, "forbidden");
    // Switching type drops the other type's field when the request sets it.
    let r = app
        .patch(
            &item,
            &member.token,
            json!({"source_type": "local", "path": "/srv/web"}),
        )
        .await;
    r.assert(200);
    assert_eq!(r.body["repository"], Value::Null);
    assert_eq!(r.body["path"], "/srv/web");
    assert_eq!(r.body["version"], 2);
    let r = app
        .patch(&item, &member.token, json!({"source_type": "github"}))
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["repository"]);
    app.call_with(
        "PATCH",
        &item,
        Some(&member.token),
        Some(json!({"branch": null})),
        &[("if-match", "\"1\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    let r = app
        .patch(
            &item,
            &member.token,
            json!({"branch": "dev", "name": "Web app"}),
        )
        .await;
    assert_eq!(r.body["branch"], "dev");
    assert_eq!(r.body["name"], "Web app");
    // The workspace embeds them on request.
    let w = app
        .get(
            &format!(
                "/v1/workspaces/{}?expand=codebases,organization",
                ws["id"].as_str().unwrap()
            ),
            &viewer.token,
        )
        .await;
    w.assert(200);
    let ids: Vec<_> = w.body["codebases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(ids, vec![gh["id"].clone(), local["id"].clone()]);
    assert_eq!(w.body["organization"], Value::Null);
    let plain = app
        .get(
            &format!("/v1/workspaces/{}", ws["id"].as_str().unwrap()),
            &viewer.token,
        )
        .await;
    assert!(plain.body.get("codebases").is_none());
    app.get(
        &format!(
            "/v1/workspaces/{}?expand=members",
            ws["id"].as_str().unwrap()
        ),
        &viewer.token,
    )
    .await
    .assert_problem(400, "invalid_parameter");
    // Lists page.
    let r = app
        .get(&format!("{}?limit=1", path(&ws)), &viewer.token)
        .await;
    assert_eq!(r.body["data"][0]["id"], gh["id"]);
    let c = r.body["meta"]["next_cursor"].as_str().unwrap();
    let r = app
        .get(&format!("{}?limit=1&cursor={c}", path(&ws)), &viewer.token)
        .await;
    assert_eq!(r.body["data"][0]["id"], local["id"]);
    assert_eq!(r.body["meta"]["has_more"], false);
    app.delete(&item, &viewer.token)
        .await
        .assert_problem(403, "forbidden");
    app.delete(&item, &member.token).await.assert(204);
    app.get(&item, &viewer.token)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn codebase_fields_must_fit_the_source_type() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Code").await;
    for (body, fields) in [
        (json!({"name": "a", "source_type": "local"}), vec!["path"]),
        (
            json!({"name": "a", "source_type": "local", "path": "relative/dir"}),
            vec!["path"],
        ),
        (
            json!({"name": "a", "source_type": "github"}),
            vec!["repository"],
        ),
        (
            json!({"name": "a", "source_type": "github", "repository": "not a repo"}),
            vec!["repository"],
        ),
        (
            json!({"name": "a", "source_type": "github", "repository": "a/b", "path": "/x"}),
            vec!["path"],
        ),
        (
            json!({"name": "a", "source_type": "svn", "path": "/x"}),
            vec!["source_type"],
        ),
        (
            json!({"name": "", "source_type": "local", "path": "/x", "branch": "a..b"}),
            vec!["name", "branch"],
        ),
    ] {
        let r = app.post(&path(&ws), &ada.token, body.clone()).await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.fields(), fields, "{body}");
    }
    app.post(
        &path(&ws),
        &ada.token,
        json!({"name": "a", "source_type": "local", "path": "/x", "url": "y"}),
    )
    .await
    .assert_problem(400, "unknown_field");
    let other = app.workspace(&ada, "Other").await;
    let c = app
        .post(
            &path(&other),
            &ada.token,
            json!({"name": "a", "source_type": "local", "path": "/x"}),
        )
        .await
        .body
        .clone();
    app.get(
        &format!("{}/{}", path(&ws), c["id"].as_str().unwrap()),
        &ada.token,
    )
    .await
    .assert_problem(404, "not_found");
}

#[tokio::test]
async fn archived_workspaces_refuse_codebase_writes() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Old").await;
    let c = app
        .post(
            &path(&ws),
            &ada.token,
            json!({"name": "a", "source_type": "local", "path": "/x"}),
        )
        .await
        .body
        .clone();
    let item = format!("{}/{}", path(&ws), c["id"].as_str().unwrap());
    app.post(
        &format!("/v1/workspaces/{}/archive", ws["id"].as_str().unwrap()),
        &ada.token,
        json!({"archive": true}),
    )
    .await
    .assert(200);
    app.post(
        &path(&ws),
        &ada.token,
        json!({"name": "b", "source_type": "local", "path": "/y"}),
    )
    .await
    .assert_problem(409, "workspace_archived");
    app.patch(&item, &ada.token, json!({"name": "b"}))
        .await
        .assert_problem(409, "workspace_archived");
    app.delete(&item, &ada.token)
        .await
        .assert_problem(409, "workspace_archived");
    app.get(&item, &ada.token).await.assert(200);
}
