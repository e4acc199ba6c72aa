//! Bridges (SPEC §7): admin-managed integrations whose credentials are
//! write-only and encrypted at rest.

use serde_json::{json, Value};
use workspaced::config::TemplateBridge;
use workspaced::domain::ids::BridgeId;
use workspaced::domain::roles::Role;

use crate::helpers::*;

fn path(ws: &Value) -> String {
    format!("/v1/workspaces/{}/bridges", ws["id"].as_str().unwrap())
}

#[tokio::test]
async fn admins_manage_bridges_and_members_read_them_without_secrets() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Links").await;
    let member = app.member_of(&ws, Role::Member).await;
    let admin = app.member_of(&ws, Role::Admin).await;
    let secret = "ntn_topsecret_0123456789";
    let r = app
        .post(
            &path(&ws),
            &admin.token,
            json!({"kind": "notion", "name": "Wiki", "config": {"space": "eng"},
            "credentials": {"token": secret}}),
        )
        .await;
    r.assert(201);
    assert!(!r.text.contains(secret));
    let b = r.body.clone();
    assert!(b["id"].as_str().unwrap().starts_with("brg_"));
    assert_eq!(b["has_credentials"], true);
    assert_eq!(b["enabled"], true);
    assert_eq!(b["config"], json!({"space": "eng"}));
    assert!(b.get("credentials").is_none());
    let item = format!("{}/{}", path(&ws), b["id"].as_str().unwrap());
    let got = app.get(&item, &member.token).await;
    got.assert(200);
    assert_eq!(got.body, b);
    let listed = app.get(&path(&ws), &member.token).await;
    assert!(!listed.text.contains(secret));
    assert_eq!(listed.body["data"][0]["id"], b["id"]);
    app.post(
        &path(&ws),
        &member.token,
        json!({"kind": "github", "name": "x"}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.patch(&item, &member.token, json!({"enabled": false}))
        .await
        .assert_problem(403, "forbidden");
    app.delete(&item, &member.token)
        .await
        .assert_problem(403, "forbidden");
    let r = app
        .patch(
            &item,
            &admin.token,
            json!({"enabled": false, "name": "Wiki 2", "config": {"space": "ops"}}),
        )
        .await;
    r.assert(200);
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["config"], json!({"space": "ops"}));
    assert_eq!(r.body["has_credentials"], true);
    assert_eq!(r.body["version"], 2);
    let r = app
        .patch(&item, &admin.token, json!({"credentials": null}))
        .await;
    assert_eq!(r.body["has_credentials"], false);
    let id = BridgeId::parse(b["id"].as_str().unwrap()).unwrap();
    assert!(app
        .store
        .sealed_bridge_credentials(&id)
        .await
        .unwrap()
        .is_none());
    app.patch(&item, &admin.token, json!({"kind": "github"}))
        .await
        .assert_problem(400, "unknown_field");
    app.call_with(
        "DELETE",
        &item,
        Some(&admin.token),
        None,
        &[("if-match", "\"1\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    app.delete(&item, &admin.token).await.assert(204);
    app.get(&item, &member.token)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn bridge_fields_are_validated() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Links").await;
    let r = app
        .post(
            &path(&ws),
            &ada.token,
            json!({"kind": "slack", "name": "", "config": [1], "credentials": "pw"}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["kind", "name", "config", "credentials"]);
    let r = app
        .post(
            &path(&ws),
            &ada.token,
            json!({"kind": "custom", "name": "Big", "credentials": {"k": "x".repeat(17 * 1024)}}),
        )
        .await;
    assert_eq!(r.fields(), vec!["credentials"]);
    let b = app
        .post(
            &path(&ws),
            &ada.token,
            json!({"kind": "webhook", "name": "Hook", "enabled": false}),
        )
        .await;
    b.assert(201);
    assert_eq!(b.body["has_credentials"], false);
    assert_eq!(b.body["enabled"], false);
    let item = format!("{}/{}", path(&ws), b.body["id"].as_str().unwrap());
    let r = app
        .patch(&item, &ada.token, json!({"name": null, "enabled": null}))
        .await;
    assert_eq!(r.fields(), vec!["name", "enabled"]);
}

#[tokio::test]
async fn credentials_are_encrypted_at_rest_and_bound_to_their_bridge() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Vault").await;
    let secret = format!("plaintext-canary-{}", uuid::Uuid::now_v7().simple());
    let r = app
        .post(
            &path(&ws),
            &ada.token,
            json!({"kind": "github", "name": "GH", "credentials": {"token": secret}}),
        )
        .await;
    r.assert(201);
    let id = BridgeId::parse(r.body["id"].as_str().unwrap()).unwrap();
    let sealed = app
        .store
        .sealed_bridge_credentials(&id)
        .await
        .unwrap()
        .unwrap();
    let needle = secret.as_bytes();
    assert!(!sealed.0.windows(needle.len()).any(|w| w == needle));
    let opened = app
        .state
        .cipher
        .open(id.as_str().as_bytes(), &sealed.0)
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&opened).unwrap(),
        json!({"token": secret})
    );
    // Bound to the bridge id: it does not open as another bridge's.
    assert!(app
        .state
        .cipher
        .open(BridgeId::new().as_str().as_bytes(), &sealed.0)
        .is_err());
    // Replacing credentials reseals with a fresh nonce.
    let item = format!("{}/{}", path(&ws), id);
    app.patch(&item, &ada.token, json!({"credentials": {"token": secret}}))
        .await
        .assert(200);
    let again = app
        .store
        .sealed_bridge_credentials(&id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(again.0, sealed.0);
    if backend() == "sqlite" {
        // Not in any database file either (main file and write-ahead log).
        for entry in std::fs::read_dir(&app.state.config.data_dir).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("workspaced.db") {
                let bytes = std::fs::read(&p).unwrap();
                assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{name}");
            }
        }
    }
}

#[tokio::test]
async fn the_template_gives_new_workspaces_their_bridges() {
    let app = TestApp::spawn_with(|c| {
        c.template.bridges = vec![TemplateBridge {
            kind: "notion".into(),
            name: "Team wiki".into(),
            config: json!({"space": "eng"}).as_object().unwrap().clone(),
            enabled: false,
        }];
    })
    .await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Tpl").await;
    let r = app.get(&path(&ws), &ada.token).await;
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["kind"], "notion");
    assert_eq!(data[0]["name"], "Team wiki");
    assert_eq!(data[0]["enabled"], false);
    assert_eq!(data[0]["has_credentials"], false);
}

#[tokio::test]
async fn archived_workspaces_refuse_bridge_writes() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Old").await;
    let b = app
        .post(
            &path(&ws),
            &ada.token,
            json!({"kind": "custom", "name": "x"}),
        )
        .await
        .body
        .clone();
    let item = format!("{}/{}", path(&ws), b["id"].as_str().unwrap());
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
        json!({"kind": "custom", "name": "y"}),
    )
    .await
    .assert_problem(409, "workspace_archived");
    app.patch(&item, &ada.token, json!({"enabled": false}))
        .await
        .assert_problem(409, "workspace_archived");
    app.delete(&item, &ada.token)
        .await
        .assert_problem(409, "workspace_archived");
    app.get(&item, &ada.token).await.assert(200);
}
