//! Projects (SPEC §7): CRUD, slugs unique per workspace, keyset pages, the
//! plan's project limit.

use std::collections::HashSet;

use serde_json::{json, Value};
use workspaced::domain::plans::Plan;
use workspaced::domain::roles::Role;

use crate::helpers::*;

fn path(ws: &Value) -> String {
    format!("/v1/workspaces/{}/projects", ws["id"].as_str().unwrap())
}

#[tokio::test]
async fn members_create_read_update_and_delete_projects() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Lighthouse").await;
    let member = app.member_of(&ws, Role::Member).await;
    let viewer = app.member_of(&ws, Role::Viewer).await;
    let r = app
        .post(
            &path(&ws),
            &member.token,
            json!({"name": "Road Map", "description": "Q3"}),
        )
        .await;
    r.assert(201);
    let p = r.body.clone();
    assert!(p["id"].as_str().unwrap().starts_with("prj_"));
    assert_eq!(p["slug"], "road-map");
    assert_eq!(p["status"], "active");
    assert_eq!(p["description"], "Q3");
    assert_eq!(p["version"], 1);
    assert_eq!(r.header("etag"), Some("\"1\""));
    let item = format!("{}/{}", path(&ws), p["id"].as_str().unwrap());
    assert_eq!(r.header("location"), Some(item.as_str()));
    // Same name: a suffixed slug; a chosen taken slug: 409.
    let r = app
        .post(&path(&ws), &member.token, json!({"name": "Road map"}))
        .await;
    assert_eq!(r.body["slug"], "road-map-2");
    app.post(
        &path(&ws),
        &member.token,
        json!({"name": "X", "slug": "road-map"}),
    )
    .await
    .assert_problem(409, "slug_taken");
    // By id and by slug, for a viewer.
    let by_slug = app
        .get(&format!("{}/road-map", path(&ws)), &viewer.token)
        .await;
    by_slug.assert(200);
    assert_eq!(by_slug.body, p);
    assert_eq!(app.get(&item, &viewer.token).await.body, p);
    viewer_cannot_write(&app, &ws, &viewer, &item).await;
    let r = app
        .patch(
            &item,
            &member.token,
            json!({"name": "Roadmap", "status": "archived", "description": null}),
        )
        .await;
    r.assert(200);
    assert_eq!(r.body["name"], "Roadmap");
    assert_eq!(r.body["status"], "archived");
    assert_eq!(r.body["description"], Value::Null);
    assert_eq!(r.body["slug"], "road-map");
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.header("etag"), Some("\"2\""));
    app.patch(&item, &member.token, json!({"slug": "road-map-2"}))
        .await
        .assert_problem(409, "slug_taken");
    app.call_with(
        "PATCH",
        &item,
        Some(&member.token),
        Some(json!({"name": "Late"})),
        &[("if-match", "\"1\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    let r = app
        .call_with(
            "PATCH",
            &item,
            Some(&member.token),
            Some(json!({"slug": "roadmap"})),
            &[("if-match", "\"2\"")],
        )
        .await;
    r.assert(200);
    app.get(&format!("{}/roadmap", path(&ws)), &viewer.token)
        .await
        .assert(200);
    app.call_with(
        "DELETE",
        &item,
        Some(&member.token),
        None,
        &[("if-match", "\"2\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    app.delete(&item, &member.token).await.assert(204);
    app.get(&item, &viewer.token)
        .await
        .assert_problem(404, "not_found");
    app.delete(&item, &member.token)
        .await
        .assert_problem(404, "not_found");
}

async fn viewer_cannot_write(app: &TestApp, ws: &Value, viewer: &Actor, item: &str) {
    app.post(&path(ws), &viewer.token, json!({"name": "Nope"}))
        .await
        .assert_problem(403, "forbidden");
    app.patch(item, &viewer.token, json!({"name": "Nope"}))
        .await
        .assert_problem(403, "forbidden");
    app.delete(item, &viewer.token)
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn project_fields_are_validated() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Lighthouse").await;
    let r = app
        .post(&path(&ws), &ada.token, json!({"name": " ", "slug": "Bad Slug", "status": "done", "description": "x".repeat(501)}))
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["name", "slug", "description", "status"]);
    app.post(
        &path(&ws),
        &ada.token,
        json!({"name": "Ok", "workspace_id": "ws_x"}),
    )
    .await
    .assert_problem(400, "unknown_field");
    let r = app.post(&path(&ws), &ada.token, json!({})).await;
    assert_eq!(r.fields(), vec!["name"]);
    let p = app
        .post(&path(&ws), &ada.token, json!({"name": "Ok"}))
        .await
        .body
        .clone();
    let item = format!("{}/{}", path(&ws), p["id"].as_str().unwrap());
    let r = app
        .patch(
            &item,
            &ada.token,
            json!({"name": null, "slug": null, "status": "x"}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["name", "slug", "status"]);
    // An empty patch changes nothing.
    let r = app.patch(&item, &ada.token, json!({})).await;
    assert_eq!(r.body["version"], 1);
}

#[tokio::test]
async fn projects_page_by_cursor_newest_first_and_sort_by_name() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Lighthouse").await;
    let mut made = Vec::new();
    for name in ["delta", "Alpha", "charlie", "Bravo", "echo"] {
        let r = app
            .post(&path(&ws), &ada.token, json!({"name": name}))
            .await;
        r.assert(201);
        made.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut url = format!("{}?limit=2&include_total=true", path(&ws));
    loop {
        let r = app.get(&url, &ada.token).await;
        r.assert(200);
        assert_eq!(r.body["meta"]["total"], 5);
        for p in r.body["data"].as_array().unwrap() {
            seen.push(p["id"].as_str().unwrap().to_owned());
        }
        match r.body["meta"]["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(r.body["meta"]["has_more"], true);
                url = format!("{}?limit=2&include_total=true&cursor={c}", path(&ws));
            }
            None => break,
        }
    }
    made.reverse();
    assert_eq!(seen, made);
    let mut names = Vec::new();
    let mut url = format!("{}?limit=3&sort=name", path(&ws));
    loop {
        let r = app.get(&url, &ada.token).await;
        for p in r.body["data"].as_array().unwrap() {
            names.push(p["name"].as_str().unwrap().to_owned());
        }
        match r.body["meta"]["next_cursor"].as_str() {
            Some(c) => url = format!("{}?limit=3&sort=name&cursor={c}", path(&ws)),
            None => break,
        }
    }
    assert_eq!(names, ["Alpha", "Bravo", "charlie", "delta", "echo"]);
    let r = app
        .get(
            &format!("{}?sort=-name&offset=1&limit=1", path(&ws)),
            &ada.token,
        )
        .await;
    assert_eq!(r.body["data"][0]["name"], "delta");
    app.get(&format!("{}?sort=size", path(&ws)), &ada.token)
        .await
        .assert_problem(400, "invalid_parameter");
    app.get(&format!("{}?limit=0", path(&ws)), &ada.token)
        .await
        .assert_problem(400, "invalid_parameter");
    let first = app.get(&format!("{}?limit=1", path(&ws)), &ada.token).await;
    let c = first.body["meta"]["next_cursor"].as_str().unwrap();
    app.get(&format!("{}?sort=name&cursor={c}", path(&ws)), &ada.token)
        .await
        .assert_problem(400, "invalid_parameter");
}

#[tokio::test]
async fn projects_of_another_workspace_are_not_found() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let a = app.workspace(&ada, "Alpha").await;
    let b = app.workspace(&ada, "Beta").await;
    let p = app
        .post(&path(&a), &ada.token, json!({"name": "Secret"}))
        .await
        .body
        .clone();
    // Same slug in another workspace is fine.
    app.post(&path(&b), &ada.token, json!({"name": "Secret"}))
        .await
        .assert(201);
    let wrong = format!("{}/{}", path(&b), p["id"].as_str().unwrap());
    app.get(&wrong, &ada.token)
        .await
        .assert_problem(404, "not_found");
    app.patch(&wrong, &ada.token, json!({"name": "x"}))
        .await
        .assert_problem(404, "not_found");
    app.delete(&wrong, &ada.token)
        .await
        .assert_problem(404, "not_found");
    let stranger = app.signup("Eve").await;
    app.get(&path(&a), &stranger.token)
        .await
        .assert_problem(404, "not_found");
    let listed = app.get(&path(&b), &ada.token).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert!(!listed.text.contains(p["id"].as_str().unwrap()));
}

#[tokio::test]
async fn the_plan_caps_projects_inside_the_create_transaction() {
    let app = TestApp::spawn_with(|c| {
        let mut free = *c.plans.get("free").unwrap();
        free.limits.max_projects = Some(2);
        c.plans.0.insert("free".into(), free);
        c.plans.0.insert("unlimited".into(), Plan::default());
    })
    .await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Small").await;
    assert_eq!(ws["limits"]["max_projects"], 2);
    // Concurrent creates: exactly the limit succeed.
    let list = path(&ws);
    let futs: Vec<_> = (0..4)
        .map(|i| app.post(&list, &ada.token, json!({"name": format!("P{i}")})))
        .collect();
    let results = futures_util::future::join_all(futs).await;
    let ok = results.iter().filter(|r| r.status == 201).count();
    assert_eq!(ok, 2);
    for r in results.iter().filter(|r| r.status != 201) {
        r.assert_problem(403, "plan_limit");
    }
    let ids: HashSet<_> = results
        .iter()
        .filter_map(|r| r.body["slug"].as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    app.call(
        "PUT",
        &format!("/v1/admin/workspaces/{}/plan", ws["id"].as_str().unwrap()),
        Some(ADMIN_TOKEN),
        Some(json!({"plan": "unlimited"})),
    )
    .await
    .assert(200);
    app.post(&path(&ws), &ada.token, json!({"name": "More"}))
        .await
        .assert(201);
}

#[tokio::test]
async fn archived_workspaces_refuse_project_writes() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Old").await;
    let p = app
        .post(&path(&ws), &ada.token, json!({"name": "Keep"}))
        .await
        .body
        .clone();
    let item = format!("{}/{}", path(&ws), p["id"].as_str().unwrap());
    app.post(
        &format!("/v1/workspaces/{}/archive", ws["id"].as_str().unwrap()),
        &ada.token,
        json!({"archive": true}),
    )
    .await
    .assert(200);
    app.post(&path(&ws), &ada.token, json!({"name": "New"}))
        .await
        .assert_problem(409, "workspace_archived");
    app.patch(&item, &ada.token, json!({"name": "x"}))
        .await
        .assert_problem(409, "workspace_archived");
    app.delete(&item, &ada.token)
        .await
        .assert_problem(409, "workspace_archived");
    app.get(&item, &ada.token).await.assert(200);
    app.get(&path(&ws), &ada.token).await.assert(200);
}
