//! Plans (SPEC §3): configured limits on the workspace object, the platform
//! admin's plan change, and the member limit in the store.

use serde_json::{json, Value};
use workspaced::domain::error::Error;
use workspaced::domain::ids::WorkspaceId;
use workspaced::domain::plans::{Limits, Plan};
use workspaced::domain::roles::Role;

use crate::helpers::*;

fn plan_path(ws: &Value) -> String {
    format!("/v1/admin/workspaces/{}/plan", ws["id"].as_str().unwrap())
}

async fn put(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> TestResponse {
    app.call("PUT", path, token, Some(body)).await
}

/// The platform admin puts `ws` on `plan`.
async fn set_plan(app: &TestApp, ws: &Value, plan: &str) -> TestResponse {
    put(
        app,
        &plan_path(ws),
        Some(ADMIN_TOKEN),
        json!({ "plan": plan }),
    )
    .await
}

#[tokio::test]
async fn the_platform_admin_sets_plans_and_trials_start() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Growth").await;
    assert_eq!(ws["plan"], "free");
    assert_eq!(ws["trial_ends_at"], Value::Null);
    // A stale If-Match changes nothing.
    app.call_with(
        "PUT",
        &plan_path(&ws),
        Some(ADMIN_TOKEN),
        Some(json!({"plan": "pro"})),
        &[("if-match", "\"2\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    let r = app
        .call_with(
            "PUT",
            &plan_path(&ws),
            Some(ADMIN_TOKEN),
            Some(json!({"plan": "pro"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    r.assert(200);
    assert_eq!(r.body["plan"], "pro");
    assert_eq!(r.body["limits"]["max_members"], 1000);
    assert_eq!(
        r.body["limits"]["max_agent_size"],
        10i64 * 1024 * 1024 * 1024
    );
    assert_eq!(r.body["version"], 2);
    let trial = r.body["trial_ends_at"].as_str().unwrap();
    let created = ws["created_at"].as_str().unwrap();
    let days = (chrono::DateTime::parse_from_rfc3339(trial).unwrap()
        - chrono::DateTime::parse_from_rfc3339(created).unwrap())
    .num_hours();
    assert!((14 * 24 - 1..=14 * 24 + 1).contains(&days), "{days}");
    // By slug too; free has no trial.
    let by_slug = format!("/v1/admin/workspaces/{}/plan", ws["slug"].as_str().unwrap());
    let r = put(&app, &by_slug, Some(ADMIN_TOKEN), json!({"plan": "free"})).await;
    r.assert(200);
    assert_eq!(r.body["trial_ends_at"], Value::Null);
    assert_eq!(
        app.get(
            &format!("/v1/workspaces/{}", ws["id"].as_str().unwrap()),
            &ada.token
        )
        .await
        .body["plan"],
        "free"
    );
}

#[tokio::test]
async fn only_the_platform_admin_sets_plans_and_only_known_ones() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Growth").await;
    put(
        &app,
        &plan_path(&ws),
        Some(&ada.token),
        json!({"plan": "pro"}),
    )
    .await
    .assert_problem(403, "forbidden");
    put(&app, &plan_path(&ws), None, json!({"plan": "pro"}))
        .await
        .assert_problem(401, "unauthenticated");
    let r = set_plan(&app, &ws, "platinum").await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["plan"]);
    let r = put(&app, &plan_path(&ws), Some(ADMIN_TOKEN), json!({})).await;
    assert_eq!(r.fields(), vec!["plan"]);
    put(
        &app,
        "/v1/admin/workspaces/ws_0000/plan",
        Some(ADMIN_TOKEN),
        json!({"plan": "pro"}),
    )
    .await
    .assert_problem(404, "not_found");
    let w = app
        .get(
            &format!("/v1/workspaces/{}", ws["id"].as_str().unwrap()),
            &ada.token,
        )
        .await;
    assert_eq!(w.body["plan"], "free");
    assert_eq!(w.body["version"], 1);
}

#[tokio::test]
async fn configured_plans_set_the_limits_and_cap_members() {
    let app = TestApp::spawn_with(|c| {
        c.plans.0.insert(
            "free".into(),
            Plan {
                limits: Limits {
                    max_members: Some(2),
                    ..Limits::default()
                },
                trial_days: None,
            },
        );
        c.plans.0.insert(
            "team".into(),
            Plan {
                limits: Limits {
                    max_members: Some(3),
                    max_projects: Some(50),
                    ..Limits::default()
                },
                trial_days: Some(30),
            },
        );
    })
    .await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Tiny").await;
    assert_eq!(
        ws["limits"],
        json!({"max_members": 2, "max_projects": null, "max_doc_size": null, "max_agent_size": null, "max_agents": null})
    );
    app.member_of(&ws, Role::Member).await;
    let id = WorkspaceId::parse(ws["id"].as_str().unwrap()).unwrap();
    let extra = app.signup("Extra").await;
    let err = app
        .store
        .add_member(&id, &extra.user_id(), Role::Viewer, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PlanLimit(_)), "{err:?}");
    // Refused inside the transaction: the count did not move.
    let w = app
        .get(
            &format!("/v1/workspaces/{}", ws["id"].as_str().unwrap()),
            &ada.token,
        )
        .await;
    assert_eq!(w.body["member_count"], 2);
    let r = set_plan(&app, &ws, "team").await;
    r.assert(200);
    assert_eq!(r.body["limits"]["max_members"], 3);
    assert!(r.body["trial_ends_at"].is_string());
    app.store
        .add_member(&id, &extra.user_id(), Role::Viewer, None)
        .await
        .unwrap();
    // Concurrent adds on the last seat(s): never more than the limit.
    set_plan(&app, &ws, "free").await.assert(200);
    let a = app.signup("A").await;
    assert!(matches!(
        app.store
            .add_member(&id, &a.user_id(), Role::Viewer, None)
            .await,
        Err(Error::PlanLimit(_))
    ));
}

#[tokio::test]
async fn concurrent_member_adds_never_pass_the_limit() {
    let app = TestApp::spawn_with(|c| {
        let mut free = *c.plans.get("free").unwrap();
        free.limits.max_members = Some(3);
        c.plans.0.insert("free".into(), free);
    })
    .await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Race").await;
    let id = WorkspaceId::parse(ws["id"].as_str().unwrap()).unwrap();
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(app.signup(&format!("U{i}")).await.user_id());
    }
    let futs: Vec<_> = users
        .iter()
        .map(|u| app.store.add_member(&id, u, Role::Viewer, None))
        .collect();
    let results = futures_util::future::join_all(futs).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| matches!(e, Error::PlanLimit(_))));
}

#[tokio::test]
async fn a_plan_taken_out_of_the_configuration_leaves_its_workspaces_unlimited() {
    let legacy = Plan {
        limits: Limits {
            max_members: Some(2),
            max_projects: Some(1),
            ..Limits::default()
        },
        trial_days: None,
    };
    let mut app = TestApp::spawn_with(|c| {
        c.plans.0.insert("legacy".into(), legacy);
    })
    .await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Old deal").await;
    let r = set_plan(&app, &ws, "legacy").await;
    r.assert(200);
    assert_eq!(r.body["limits"]["max_members"], 2);

    app.reconfigure(|_| {});
    let unlimited = json!({"max_members": null, "max_projects": null, "max_doc_size": null,
        "max_agent_size": null, "max_agents": null});
    let id = ws["id"].as_str().unwrap();
    let one = app.get(&format!("/v1/workspaces/{id}"), &ada.token).await;
    one.assert(200);
    assert_eq!(one.body["plan"], "legacy");
    assert_eq!(one.body["limits"], unlimited);
    let list = app.get("/v1/workspaces", &ada.token).await;
    assert_eq!(list.body["data"][0]["id"], id);
    assert_eq!(list.body["data"][0]["limits"], unlimited);
    // And the store enforces none: a second project is created.
    for name in ["One", "Two"] {
        app.post(
            &format!("/v1/workspaces/{id}/projects"),
            &ada.token,
            json!({"name": name}),
        )
        .await
        .assert(201);
    }
}
