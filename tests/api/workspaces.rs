use std::collections::HashSet;

use serde_json::{json, Value};
use workspaced::domain::roles::Role;

use crate::helpers::*;

fn ws_path(ws: &Value) -> String {
    format!("/v1/workspaces/{}", ws["id"].as_str().unwrap())
}

#[tokio::test]
async fn creating_a_workspace_makes_the_caller_its_owner() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Project Lighthouse", "description": "Q3 launch", "icon": "🏗️", "domain": "example.com",
                   "repo_path": "/srv/repo", "branch": "main", "settings": {"theme": "dark"}, "metadata": {"k": 1}}),
        )
        .await;
    r.assert(201);
    let ws = &r.body;
    assert!(ws["id"].as_str().unwrap().starts_with("ws_"));
    assert_eq!(ws["slug"], "project-lighthouse");
    assert_eq!(ws["role"], "owner");
    assert_eq!(ws["member_count"], 1);
    assert_eq!(ws["status"], "active");
    assert_eq!(ws["version"], 1);
    assert_eq!(ws["plan"], "free");
    assert_eq!(ws["limits"]["max_members"], 25);
    assert_eq!(ws["settings"], json!({"theme": "dark"}));
    assert!(ws["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(r.header("location"), Some(ws_path(ws).as_str()));
    for key in [
        "organization_id",
        "logo_url",
        "trial_ends_at",
        "archived_at",
        "deleted_at",
        "purge_at",
        "onboarding_completed_at",
    ] {
        assert!(ws[key].is_null(), "{key}");
    }
}

#[tokio::test]
async fn slugs_are_transliterated_and_made_unique() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    assert_eq!(
        app.workspace(&ada, "Café Ünïcode").await["slug"],
        "cafe-unicode"
    );
    assert_eq!(
        app.workspace(&ada, "Cafe Unicode").await["slug"],
        "cafe-unicode-2"
    );
    assert_eq!(
        app.workspace(&ada, "café  ünïcode!").await["slug"],
        "cafe-unicode-3"
    );
    let random = app.workspace(&ada, "🏗️🚀").await;
    assert!(random["slug"].as_str().unwrap().starts_with("ws-"));
}

#[tokio::test]
async fn a_chosen_slug_that_is_taken_is_a_conflict() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    app.post(
        "/v1/workspaces",
        &ada.token,
        json!({"name": "One", "slug": "lighthouse"}),
    )
    .await
    .assert(201);
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Two", "slug": "lighthouse"}),
        )
        .await;
    r.assert_problem(409, "slug_taken");
    assert_eq!(r.fields(), vec!["slug"]);
    for bad in ["admin", "Has Caps", "a", "-x-", "a_b"] {
        let r = app
            .post(
                "/v1/workspaces",
                &ada.token,
                json!({"name": "Three", "slug": bad}),
            )
            .await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.fields(), vec!["slug"], "{bad}");
    }
}

#[tokio::test]
async fn racing_creates_for_one_slug_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let calls = (0..50).map(|i| {
        let (app, token) = (&app, ada.token.clone());
        async move {
            app.post(
                "/v1/workspaces",
                &token,
                json!({"name": format!("Racer {i}"), "slug": "contested"}),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    let taken = results
        .iter()
        .filter(|r| r.status == 409 && r.code() == "slug_taken")
        .count();
    assert_eq!(
        (created, taken),
        (1, 49),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn racing_creates_without_slugs_get_distinct_suffixes() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let calls = (0..20).map(|_| {
        let (app, token) = (&app, ada.token.clone());
        async move {
            app.post("/v1/workspaces", &token, json!({"name": "Same Name"}))
                .await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let slugs: HashSet<String> = results
        .iter()
        .map(|r| {
            r.assert(201);
            r.body["slug"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(slugs.len(), 20);
    assert!(slugs.contains("same-name") && slugs.contains("same-name-20"));
}

#[tokio::test]
async fn workspaces_are_found_by_id_or_slug_by_members_only() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let eve = app.signup("Eve").await;
    let ws = app.workspace(&ada, "Lighthouse").await;
    let viewer = app.member_of(&ws, Role::Viewer).await;
    app.get(&ws_path(&ws), &ada.token).await.assert(200);
    let by_slug = app.get("/v1/workspaces/lighthouse", &viewer.token).await;
    by_slug.assert(200);
    assert_eq!(by_slug.body["id"], ws["id"]);
    assert_eq!(by_slug.body["role"], "viewer");
    assert_eq!(by_slug.body["member_count"], 2);
    // A stranger cannot tell an existing workspace from a missing one.
    let hidden = app.get(&ws_path(&ws), &eve.token).await;
    hidden.assert_problem(404, "not_found");
    let missing = app
        .get(
            "/v1/workspaces/ws_0000000000000000000000000000000f",
            &eve.token,
        )
        .await;
    missing.assert_problem(404, "not_found");
    assert_eq!(hidden.body["detail"], missing.body["detail"]);
    app.get("/v1/workspaces/lighthouse", &eve.token)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn lists_show_only_my_workspaces_newest_first_in_keyset_pages() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let bob = app.signup("Bob").await;
    let mut created = Vec::new();
    for i in 0..25 {
        created.push(
            app.workspace(&ada, &format!("Ada {i:02}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.workspace(&bob, "Bob only").await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/workspaces?limit=10&cursor={c}"),
            None => "/v1/workspaces?limit=10".into(),
        };
        let r = app.get(&path, &ada.token).await;
        r.assert(200);
        pages += 1;
        assert_eq!(r.body["meta"]["limit"], 10);
        assert!(r.body["meta"].get("total").is_none());
        for w in r.body["data"].as_array().unwrap() {
            seen.push(w["id"].as_str().unwrap().to_owned());
            assert_eq!(w["role"], "owner");
        }
        if !r.body["meta"]["has_more"].as_bool().unwrap() {
            assert!(r.body["meta"]["next_cursor"].is_null());
            break;
        }
        cursor = Some(r.body["meta"]["next_cursor"].as_str().unwrap().to_owned());
    }
    assert_eq!(pages, 3);
    created.reverse();
    assert_eq!(seen, created, "newest first, each once, none of Bob's");

    let total = app
        .get("/v1/workspaces?limit=5&include_total=true", &ada.token)
        .await;
    assert_eq!(total.body["meta"]["total"], 25);
    let offset = app
        .get("/v1/workspaces?limit=5&offset=20", &ada.token)
        .await;
    let ids: Vec<_> = offset.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, created[20..].to_vec());
    assert_eq!(offset.body["meta"]["has_more"], false);
    let oldest = app
        .get("/v1/workspaces?limit=1&sort=created_at", &ada.token)
        .await;
    assert_eq!(oldest.body["data"][0]["id"], created[24].as_str());
}

#[tokio::test]
async fn lists_filter_by_name_role_status_and_sort_by_name() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let bob = app.signup("Bob").await;
    app.workspace(&ada, "Zeta Lab").await;
    app.workspace(&ada, "alpha lab").await;
    let beta = app.workspace(&bob, "Beta Corp").await;
    let beta_id =
        workspaced::domain::ids::WorkspaceId::parse(beta["id"].as_str().unwrap()).unwrap();
    app.store
        .add_member(&beta_id, &ada.user_id(), Role::Viewer, None)
        .await
        .unwrap();

    let names = |r: &TestResponse| -> Vec<String> {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = app.get("/v1/workspaces?sort=name", &ada.token).await;
    assert_eq!(
        names(&r),
        vec!["alpha lab", "Beta Corp", "Zeta Lab"],
        "case-insensitive"
    );
    let r = app.get("/v1/workspaces?q=LAB&sort=-name", &ada.token).await;
    assert_eq!(names(&r).len(), 2);
    let r = app.get("/v1/workspaces?role=viewer", &ada.token).await;
    assert_eq!(names(&r), vec!["Beta Corp"]);
    let r = app.get("/v1/workspaces?q=beta-c", &ada.token).await;
    assert_eq!(names(&r), vec!["Beta Corp"], "q matches slugs too");
    let r = app.get("/v1/workspaces?q=%25", &ada.token).await;
    assert_eq!(names(&r).len(), 0, "LIKE wildcards are matched literally");

    // Name pages walk with a cursor too.
    let first = app
        .get("/v1/workspaces?sort=name&limit=2", &ada.token)
        .await;
    let cursor = first.body["meta"]["next_cursor"].as_str().unwrap();
    let second = app
        .get(
            &format!("/v1/workspaces?sort=name&limit=2&cursor={cursor}"),
            &ada.token,
        )
        .await;
    assert_eq!(names(&second).len(), 1);
    // A created_at cursor does not fit a name sort.
    let by_date = app.get("/v1/workspaces?limit=1", &ada.token).await;
    let c = by_date.body["meta"]["next_cursor"].as_str().unwrap();
    app.get(&format!("/v1/workspaces?sort=name&cursor={c}"), &ada.token)
        .await
        .assert(400);
}

#[tokio::test]
async fn patch_updates_fields_and_merges_documents() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app
        .post("/v1/workspaces", &ada.token, json!({"name": "Docs", "settings": {"theme": "dark", "a": {"b": 1, "c": 2}}, "description": "old"}))
        .await
        .body
        .clone();
    let r = app
        .patch(
            &ws_path(&ws),
            &ada.token,
            json!({"name": "Docs Two", "slug": "docs-two", "description": null, "settings": {"a": {"c": null, "d": 3}, "theme": null},
                   "metadata": {"team": "core"}, "onboarding": {"step": 2}, "onboarding_completed_at": "2026-03-03T10:00:00Z"}),
        )
        .await;
    r.assert(200);
    assert_eq!(r.body["name"], "Docs Two");
    assert_eq!(r.body["slug"], "docs-two");
    assert!(r.body["description"].is_null());
    assert_eq!(r.body["settings"], json!({"a": {"b": 1, "d": 3}}));
    assert_eq!(r.body["metadata"], json!({"team": "core"}));
    assert_eq!(r.body["onboarding"], json!({"step": 2}));
    assert_eq!(
        r.body["onboarding_completed_at"],
        "2026-03-03T10:00:00.000Z"
    );
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.header("etag"), Some("\"2\""));
    assert_eq!(r.body["role"], "owner");
    let again = app.get("/v1/workspaces/docs-two", &ada.token).await;
    assert_eq!(again.body["settings"], r.body["settings"]);
}

#[tokio::test]
async fn if_match_guards_updates() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Guarded").await;
    let path = ws_path(&ws);
    let with = |tag: &'static str| [("if-match", tag)];
    app.call_with(
        "PATCH",
        &path,
        Some(&ada.token),
        Some(json!({"name": "Nope"})),
        &with("\"7\""),
    )
    .await
    .assert_problem(412, "version_mismatch");
    app.call_with(
        "PATCH",
        &path,
        Some(&ada.token),
        Some(json!({"name": "Nope"})),
        &with("W/\"1\""),
    )
    .await
    .assert_problem(412, "version_mismatch");
    assert_eq!(
        app.get(&path, &ada.token).await.body["name"],
        "Guarded",
        "a 412 changes nothing"
    );
    app.call_with(
        "PATCH",
        &path,
        Some(&ada.token),
        Some(json!({"name": "Yes"})),
        &with("\"1\""),
    )
    .await
    .assert(200);
    // A stranger gets 404, not 412, even with a wrong tag.
    let eve = app.signup("Eve").await;
    app.call_with(
        "PATCH",
        &path,
        Some(&eve.token),
        Some(json!({"name": "x"})),
        &with("\"9\""),
    )
    .await
    .assert_problem(404, "not_found");
}

#[tokio::test]
async fn patch_validates_fields() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Valid").await;
    let other = app.workspace(&ada, "Other").await;
    let path = ws_path(&ws);
    let r = app
        .patch(
            &path,
            &ada.token,
            json!({"name": null, "domain": "not a host", "branch": "a..b", "icon": "ABCDEFGHIJ"}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    let mut f = r.fields();
    f.sort();
    assert_eq!(f, vec!["branch", "domain", "icon", "name"]);
    let big = "x".repeat(17 * 1024);
    let r = app
        .patch(&path, &ada.token, json!({"metadata": {"big": big}}))
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["metadata"]);
    // Up to 16 KiB is kept whole (on SQLite such a row spills to overflow
    // pages of the clustered workspaces table), read alone and in a list.
    let large = "y".repeat(15 * 1024);
    app.patch(&path, &ada.token, json!({"settings": {"large": large}}))
        .await
        .assert(200);
    let one = app.get(&path, &ada.token).await;
    assert_eq!(one.body["settings"]["large"], large.as_str());
    let listed = app.get("/v1/workspaces?limit=100", &ada.token).await;
    let row = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == one.body["id"])
        .expect("listed");
    assert_eq!(row["settings"]["large"], large.as_str());
    app.patch(&path, &ada.token, json!({"settings": [1, 2]}))
        .await
        .assert_problem(400, "validation_failed");
    let r = app
        .patch(&path, &ada.token, json!({"slug": other["slug"]}))
        .await;
    r.assert_problem(409, "slug_taken");
    app.patch(&path, &ada.token, json!({"status": "archived"}))
        .await
        .assert_problem(400, "unknown_field");
    app.patch(&path, &ada.token, json!({"role": "owner"}))
        .await
        .assert_problem(400, "unknown_field");
}

#[tokio::test]
async fn a_patch_that_changes_nothing_keeps_the_version() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Steady").await;
    let path = ws_path(&ws);
    let same = json!({"name": "Steady", "slug": ws["slug"], "settings": {}, "description": null});
    let r = app.patch(&path, &ada.token, same).await;
    r.assert(200);
    assert_eq!(r.body["version"], ws["version"]);
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(r.body["updated_at"], ws["updated_at"]);
    let r = app.patch(&path, &ada.token, json!({"name": "Moved"})).await;
    assert_eq!(r.body["version"], 2);
    // The same holds for a profile.
    let me = app.get("/v1/me", &ada.token).await;
    let name = me.body["name"].as_str().unwrap();
    let r = app.patch("/v1/me", &ada.token, json!({"name": name})).await;
    r.assert(200);
    assert_eq!(r.body["version"], me.body["version"]);
    let log = app
        .get(&format!("{path}/events?type=workspace.updated"), &ada.token)
        .await;
    assert_eq!(log.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn archived_workspaces_are_read_only() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Old").await;
    let viewer = app.member_of(&ws, Role::Viewer).await;
    let path = ws_path(&ws);
    let r = app
        .post(
            &format!("{path}/archive"),
            &ada.token,
            json!({"archive": true}),
        )
        .await;
    r.assert(200);
    assert_eq!(r.body["status"], "archived");
    assert!(r.body["archived_at"].is_string());
    app.patch(&path, &ada.token, json!({"name": "New"}))
        .await
        .assert_problem(409, "workspace_archived");
    // Leaving is a write as well (SPEC §3: every write but unarchive and
    // delete); the member is still there afterwards.
    app.post(&format!("{path}/leave"), &viewer.token, json!({}))
        .await
        .assert_problem(409, "workspace_archived");
    app.get(&path, &viewer.token).await.assert(200);
    app.get(&path, &ada.token).await.assert(200);
    let listed = app.get("/v1/workspaces?status=archived", &ada.token).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    let active = app.get("/v1/workspaces?status=active", &ada.token).await;
    assert_eq!(active.body["data"].as_array().unwrap().len(), 0);
    let r = app
        .post(
            &format!("{path}/archive"),
            &ada.token,
            json!({"archive": false}),
        )
        .await;
    r.assert(200);
    assert_eq!(r.body["status"], "active");
    app.patch(&path, &ada.token, json!({"name": "New"}))
        .await
        .assert(200);
    app.post(&format!("{path}/archive"), &ada.token, json!({}))
        .await
        .assert_problem(400, "validation_failed");
}

#[tokio::test]
async fn deleted_workspaces_are_hidden_but_restorable_by_owners() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Doomed").await;
    let admin = app.member_of(&ws, Role::Admin).await;
    let path = ws_path(&ws);
    let r = app.delete(&path, &ada.token).await;
    r.assert(200);
    assert_eq!(r.body["deleted"], true);
    assert!(r.body["purge_at"].is_string());
    let owner_view = app.get(&path, &ada.token).await;
    owner_view.assert(200);
    assert_eq!(owner_view.body["status"], "deleted");
    // Timestamps in RFC 3339 with milliseconds; purge_at = deleted_at + 30 days.
    let at = |k: &str| {
        let v = owner_view.body[k].as_str().unwrap().to_owned();
        assert_eq!(v.len(), 24, "{k}: {v}");
        chrono::DateTime::parse_from_rfc3339(&v).unwrap()
    };
    assert_eq!(
        at("purge_at") - at("deleted_at"),
        chrono::Duration::days(30)
    );
    assert_eq!(owner_view.body["purge_at"], r.body["purge_at"]);
    app.get(&path, &admin.token)
        .await
        .assert_problem(404, "not_found");
    app.patch(&path, &ada.token, json!({"name": "x"}))
        .await
        .assert_problem(404, "not_found");
    assert_eq!(
        app.get("/v1/workspaces", &ada.token).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let deleted = app.get("/v1/workspaces?status=deleted", &ada.token).await;
    assert_eq!(deleted.body["data"][0]["id"], ws["id"]);
    assert_eq!(
        app.get("/v1/workspaces?status=deleted", &admin.token)
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The slug stays taken until the purge.
    app.post(
        "/v1/workspaces",
        &ada.token,
        json!({"name": "Again", "slug": ws["slug"]}),
    )
    .await
    .assert_problem(409, "slug_taken");
    let restored = app
        .post(&format!("{path}/restore"), &ada.token, json!({}))
        .await;
    restored.assert(200);
    assert_eq!(restored.body["status"], "active");
    assert!(restored.body["purge_at"].is_null());
    app.get(&path, &admin.token).await.assert(200);
}

#[tokio::test]
async fn permanent_deletion_frees_the_slug_at_once() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Gone Soon").await;
    app.call(
        "DELETE",
        &format!("{}?permanent=true", ws_path(&ws)),
        Some(&ada.token),
        None,
    )
    .await
    .assert(200);
    app.get(&ws_path(&ws), &ada.token)
        .await
        .assert_problem(404, "not_found");
    app.post(
        "/v1/workspaces",
        &ada.token,
        json!({"name": "Reuse", "slug": ws["slug"]}),
    )
    .await
    .assert(201);
    app.call(
        "DELETE",
        &format!("{}?permanent=maybe", ws_path(&ws)),
        Some(&ada.token),
        None,
    )
    .await
    .assert(404);
}

#[tokio::test]
async fn the_background_purge_removes_expired_workspaces() {
    let app = TestApp::spawn_with(|c| {
        c.retention_days = 0;
        c.purge_interval_seconds = 1;
    })
    .await;
    let stop = tokio_util::sync::CancellationToken::new();
    let jobs = workspaced::app::spawn_jobs(&app.state, stop.clone());
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Ephemeral").await;
    app.delete(&ws_path(&ws), &ada.token).await.assert(200);
    let mut purged = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if app.get(&ws_path(&ws), &ada.token).await.status == 404 {
            purged = true;
            break;
        }
    }
    stop.cancel();
    for j in jobs {
        j.await.unwrap();
    }
    assert!(purged, "the purge job did not remove the workspace");
    app.post(
        "/v1/workspaces",
        &ada.token,
        json!({"name": "Reuse", "slug": ws["slug"]}),
    )
    .await
    .assert(201);
}

#[tokio::test]
async fn keep_last_workspace_refuses_deleting_the_last_one() {
    let app = TestApp::spawn_with(|c| c.policy.keep_last_workspace = true).await;
    let ada = app.signup("Ada").await;
    let one = app.workspace(&ada, "One").await;
    let two = app.workspace(&ada, "Two").await;
    app.delete(&ws_path(&one), &ada.token).await.assert(200);
    app.delete(&ws_path(&two), &ada.token)
        .await
        .assert_problem(400, "last_workspace");
    // Purging at once is a deletion too.
    app.delete(&format!("{}?permanent=true", ws_path(&two)), &ada.token)
        .await
        .assert_problem(400, "last_workspace");
    app.get(&ws_path(&two), &ada.token).await.assert(200);
    // The soft-deleted one may still be purged: it is not one she has.
    app.delete(&format!("{}?permanent=true", ws_path(&one)), &ada.token)
        .await
        .assert(200);
}

#[tokio::test]
async fn a_permanent_delete_checks_if_match_in_its_transaction() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Short Lived").await;
    let path = format!("{}?permanent=true", ws_path(&ws));
    app.call_with(
        "DELETE",
        &path,
        Some(&ada.token),
        None,
        &[("if-match", "\"7\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    app.get(&ws_path(&ws), &ada.token).await.assert(200);
    app.call_with(
        "DELETE",
        &path,
        Some(&ada.token),
        None,
        &[("if-match", "\"1\"")],
    )
    .await
    .assert(200);
    app.get(&ws_path(&ws), &ada.token)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn owned_workspace_limit_is_enforced_when_configured() {
    let app = TestApp::spawn_with(|c| c.policy.max_owned_workspaces_per_user = Some(2)).await;
    let ada = app.signup("Ada").await;
    app.workspace(&ada, "One").await;
    app.workspace(&ada, "Two").await;
    app.post("/v1/workspaces", &ada.token, json!({"name": "Three"}))
        .await
        .assert_problem(403, "owned_workspace_limit");
}

#[tokio::test]
async fn workspaces_can_come_with_a_new_organization() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Acme HQ", "organization": {"name": "Acme"}}),
        )
        .await;
    r.assert(201);
    let org = r.body["organization_id"].as_str().unwrap().to_owned();
    assert!(org.starts_with("org_"));
    let second = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Acme Labs", "organization_id": org}),
        )
        .await;
    second.assert(201);
    assert_eq!(second.body["organization_id"], org.as_str());
    let expanded = app
        .get(
            &format!("{}?expand=organization", ws_path(&second.body)),
            &ada.token,
        )
        .await;
    assert_eq!(expanded.body["organization"]["name"], "Acme");
    app.get(
        &format!("{}?expand=everything", ws_path(&second.body)),
        &ada.token,
    )
    .await
    .assert_problem(400, "invalid_parameter");
    let filtered = app
        .get(&format!("/v1/workspaces?organization_id={org}"), &ada.token)
        .await;
    assert_eq!(filtered.body["data"].as_array().unwrap().len(), 2);
    // Someone else's organization is invisible.
    let eve = app.signup("Eve").await;
    app.post(
        "/v1/workspaces",
        &eve.token,
        json!({"name": "Sneaky", "organization_id": org}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        "/v1/workspaces",
        &eve.token,
        json!({"name": "Sneaky", "organization_id": "org_nope"}),
    )
    .await
    .assert_problem(404, "not_found");
    let both = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "X", "organization_id": org, "organization": {"name": "Y"}}),
        )
        .await;
    both.assert_problem(400, "validation_failed");
    let default_name = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Named Like Me", "organization": {}}),
        )
        .await;
    default_name.assert(201);
}

#[tokio::test]
async fn permissions_list_the_callers_actions() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Perms").await;
    let viewer = app.member_of(&ws, Role::Viewer).await;
    let r = app
        .get(&format!("{}/permissions", ws_path(&ws)), &viewer.token)
        .await;
    r.assert(200);
    assert_eq!(r.body["role"], "viewer");
    let actions: Vec<_> = r.body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(actions.contains(&"workspace.read") && !actions.contains(&"workspace.update"));
    let owner = app
        .get(&format!("{}/permissions", ws_path(&ws)), &ada.token)
        .await;
    assert!(owner.body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "owners.manage"));

    let check = |user: &str, action: &str| json!({"user_id": user, "action": action});
    let path = format!("{}/permissions/check", ws_path(&ws));
    let r = app
        .post(&path, &ada.token, check(&viewer.id, "workspace.update"))
        .await;
    assert_eq!(r.body, json!({"allowed": false, "role": "viewer"}));
    let r = app
        .post(&path, &ada.token, check(&viewer.id, "projects.read"))
        .await;
    assert_eq!(r.body, json!({"allowed": true, "role": "viewer"}));
    let eve = app.signup("Eve").await;
    let r = app
        .post(&path, &ada.token, check(&eve.id, "workspace.read"))
        .await;
    assert_eq!(r.body, json!({"allowed": false, "role": null}));
    app.post(&path, &ada.token, check(&eve.id, "launch.missiles"))
        .await
        .assert_problem(400, "validation_failed");
    app.post(&path, &viewer.token, check(&eve.id, "workspace.read"))
        .await
        .assert_problem(403, "forbidden");
    app.post(&path, ADMIN_TOKEN, check(&viewer.id, "workspace.read"))
        .await
        .assert(200);
}

/// Every filter of the list at once, with `include_total` and a cursor, for
/// a user who is in an organization (on SQLite the plan with both
/// branches): each value lands in its own placeholder, whatever order the
/// statuses are asked in, and the count leaves out the cursor.
#[tokio::test]
async fn all_list_filters_at_once_page_through_the_matching_workspaces() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let hq = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Lab One", "organization": {"name": "Acme"}}),
        )
        .await;
    hq.assert(201);
    let org = hq.body["organization_id"].as_str().unwrap().to_owned();
    let in_org = |name: &str| json!({"name": name, "organization_id": org});
    let mut ids = vec![hq.body["id"].as_str().unwrap().to_owned()];
    for name in ["Lab Two", "Lab Three", "Beta"] {
        let r = app.post("/v1/workspaces", &ada.token, in_org(name)).await;
        r.assert(201);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    app.workspace(&ada, "Lab Elsewhere").await;
    app.post(
        &format!("/v1/workspaces/{}/archive", ids[1]),
        &ada.token,
        json!({"archive": true}),
    )
    .await
    .assert(200);
    app.delete(&format!("/v1/workspaces/{}", ids[2]), &ada.token)
        .await
        .assert(200);

    let base = format!(
        "/v1/workspaces?status=deleted,archived,active,archived&role=owner\
         &organization_id={org}&q=LAB&sort=name&limit=1&include_total=true"
    );
    let mut names = Vec::new();
    let mut url = base.clone();
    loop {
        let r = app.get(&url, &ada.token).await;
        r.assert(200);
        assert_eq!(r.body["meta"]["total"], 3, "{}", r.body);
        for w in r.body["data"].as_array().unwrap() {
            names.push(w["name"].as_str().unwrap().to_owned());
        }
        match r.body["meta"]["next_cursor"].as_str() {
            Some(c) => url = format!("{base}&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(names, ["Lab One", "Lab Three", "Lab Two"]);
    // A role the caller does not have: nothing, counted as nothing.
    let r = app
        .get(&base.replace("role=owner", "role=viewer"), &ada.token)
        .await;
    r.assert(200);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 0);
    assert_eq!(r.body["meta"]["total"], 0);
}
