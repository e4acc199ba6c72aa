//! Invitations (SPEC §5): token shown once, single use, replaced not
//! duplicated, email must match, statuses, bulk 207, concurrency.

use futures_util::future::join_all;
use serde_json::{json, Value};
use workspaced::domain::roles::Role;

use crate::helpers::*;

fn inv_path(ws: &Value) -> String {
    format!("/v1/workspaces/{}/invitations", ws["id"].as_str().unwrap())
}

async fn invite(app: &TestApp, ws: &Value, by: &Actor, body: Value) -> TestResponse {
    app.post(&inv_path(ws), &by.token, body).await
}

#[tokio::test]
async fn invite_then_accept_makes_a_member_once() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Invites").await;
    let guest = app.signup("Guest").await;
    let r = invite(
        &app,
        &ws,
        &owner,
        json!({"email": guest.email.to_uppercase(), "role": "admin"}),
    )
    .await;
    r.assert(201);
    let token = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["role"], "admin");
    assert!(r.body["id"].as_str().unwrap().starts_with("inv_"));

    // Listed without the token.
    let list = app.get(&inv_path(&ws), &owner.token).await;
    list.assert(200);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    assert!(list.body["data"][0].get("token").is_none());
    assert!(!list.text.contains(&token));

    // The guest sees it in /v1/me/invitations.
    let mine = app.get("/v1/me/invitations", &guest.token).await;
    mine.assert(200);
    assert_eq!(mine.body["data"][0]["workspace"]["name"], "Invites");

    // Someone else cannot use it.
    let thief = app.signup("Thief").await;
    app.post(
        "/v1/invitations/accept",
        &thief.token,
        json!({"token": token}),
    )
    .await
    .assert_problem(403, "forbidden");

    let r = app
        .post(
            "/v1/invitations/accept",
            &guest.token,
            json!({"token": token}),
        )
        .await;
    r.assert(201);
    assert_eq!(r.body["membership"]["role"], "admin");
    assert_eq!(r.body["membership"]["invited_by"], owner.id.as_str());
    assert_eq!(r.body["workspace"]["role"], "admin");
    assert_eq!(r.body["workspace"]["member_count"], 2);
    // Single use.
    app.post(
        "/v1/invitations/accept",
        &guest.token,
        json!({"token": token}),
    )
    .await
    .assert_problem(410, "gone");
    app.post(
        "/v1/invitations/decline",
        &guest.token,
        json!({"token": token}),
    )
    .await
    .assert_problem(410, "gone");
    app.post(
        "/v1/invitations/accept",
        &guest.token,
        json!({"token": "wsd_unknown"}),
    )
    .await
    .assert_problem(404, "not_found");
    let list = app
        .get(&format!("{}?status=accepted", inv_path(&ws)), &owner.token)
        .await;
    assert_eq!(list.body["data"][0]["status"], "accepted");
    // Inviting a member now: 409.
    invite(&app, &ws, &owner, json!({"email": guest.email}))
        .await
        .assert_problem(409, "already_member");
}

#[tokio::test]
async fn a_new_invitation_replaces_the_pending_one_and_resend_kills_the_old_token() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Replace").await;
    let guest = app.signup("Guest").await;
    let first = invite(&app, &ws, &owner, json!({"email": guest.email})).await;
    first.assert(201);
    let second = invite(
        &app,
        &ws,
        &owner,
        json!({"email": guest.email, "role": "viewer"}),
    )
    .await;
    second.assert(201);
    let pending = app
        .get(&format!("{}?status=pending", inv_path(&ws)), &owner.token)
        .await;
    assert_eq!(pending.body["data"].as_array().unwrap().len(), 1);
    app.post(
        "/v1/invitations/accept",
        &guest.token,
        json!({"token": first.body["token"]}),
    )
    .await
    .assert_problem(404, "not_found");

    let id = second.body["id"].as_str().unwrap();
    let resent = app
        .post(
            &format!("{}/{id}/resend", inv_path(&ws)),
            &owner.token,
            json!({"expires_in_days": 3}),
        )
        .await;
    resent.assert(200);
    assert_ne!(resent.body["token"], second.body["token"]);
    app.post(
        "/v1/invitations/accept",
        &guest.token,
        json!({"token": second.body["token"]}),
    )
    .await
    .assert_problem(404, "not_found");
    // Decline with the new token; then it is gone.
    app.post(
        "/v1/invitations/decline",
        &guest.token,
        json!({"token": resent.body["token"]}),
    )
    .await
    .assert(204);
    app.post(
        "/v1/invitations/accept",
        &guest.token,
        json!({"token": resent.body["token"]}),
    )
    .await
    .assert_problem(410, "gone");
    app.post(
        &format!("{}/{id}/resend", inv_path(&ws)),
        &owner.token,
        json!({}),
    )
    .await
    .assert_problem(409, "conflict");
}

#[tokio::test]
async fn revoked_and_expired_invitations_cannot_be_used() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Expiry").await;
    let guest = app.signup("Guest").await;
    let r = invite(&app, &ws, &owner, json!({"email": guest.email})).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    app.delete(&format!("{}/{id}", inv_path(&ws)), &owner.token)
        .await
        .assert(204);
    app.post(
        "/v1/invitations/accept",
        &guest.token,
        json!({"token": r.body["token"]}),
    )
    .await
    .assert_problem(404, "not_found");
    app.delete(&format!("{}/{id}", inv_path(&ws)), &owner.token)
        .await
        .assert_problem(404, "not_found");

    let r = invite(
        &app,
        &ws,
        &owner,
        json!({"email": guest.email, "expires_in_days": 1}),
    )
    .await;
    r.assert(201);
    app.store
        .execute_sql(
            "UPDATE invitations SET expires_at = 1 WHERE id = $1",
            vec![r.body["id"].as_str().unwrap().into()],
        )
        .await
        .unwrap();
    app.post(
        "/v1/invitations/accept",
        &guest.token,
        json!({"token": r.body["token"]}),
    )
    .await
    .assert_problem(410, "gone");
    let list = app
        .get(&format!("{}?status=expired", inv_path(&ws)), &owner.token)
        .await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["data"][0]["status"], "expired");
    app.get(&format!("{}?status=lost", inv_path(&ws)), &owner.token)
        .await
        .assert_problem(400, "invalid_parameter");
    assert!(
        app.get("/v1/me/invitations", &guest.token).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn invitation_input_is_validated() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Checks").await;
    for (body, field) in [
        (
            json!({"email": "x@example.com", "expires_in_days": 31}),
            "expires_in_days",
        ),
        (
            json!({"email": "x@example.com", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (json!({"email": "not-an-email"}), "email"),
        (
            json!({"email": "x@example.com", "role": "superadmin"}),
            "role",
        ),
        (json!({}), "email"),
    ] {
        let r = invite(&app, &ws, &owner, body).await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.fields(), vec![field]);
    }
    invite(
        &app,
        &ws,
        &owner,
        json!({"email": "x@example.com", "status": "accepted"}),
    )
    .await
    .assert_problem(400, "unknown_field");
    // Admins cannot invite owners; viewers cannot invite or read at all.
    let admin = app.member_of(&ws, Role::Admin).await;
    invite(
        &app,
        &ws,
        &admin,
        json!({"email": "o@example.com", "role": "owner"}),
    )
    .await
    .assert_problem(403, "needs_owner");
    let viewer = app.member_of(&ws, Role::Viewer).await;
    invite(&app, &ws, &viewer, json!({"email": "v@example.com"}))
        .await
        .assert_problem(403, "forbidden");
    app.get(&inv_path(&ws), &viewer.token)
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn bulk_invitations_answer_one_result_per_row() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Bulk").await;
    let member = app.member_of(&ws, Role::Member).await;
    let r = invite(
        &app,
        &ws,
        &owner,
        json!({"invitations": [
            {"email": "a@example.com"},
            {"email": "bad"},
            {"email": member.email},
            {"email": "A@example.com", "role": "viewer"},
            {"email": "b@example.com", "role": "viewer"},
        ]}),
    )
    .await;
    r.assert(207);
    let rows = r.body["data"].as_array().unwrap();
    let statuses: Vec<i64> = rows.iter().map(|x| x["status"].as_i64().unwrap()).collect();
    assert_eq!(statuses, vec![201, 400, 409, 409, 201]);
    assert!(rows[0]["invitation"]["token"].is_string());
    assert_eq!(rows[1]["problem"]["code"], "validation_failed");
    assert_eq!(
        rows[1]["problem"]["errors"][0]["field"],
        "invitations[1].email"
    );
    assert_eq!(rows[2]["problem"]["code"], "already_member");
    let too_many: Vec<Value> = (0..51)
        .map(|i| json!({"email": format!("u{i}@example.com")}))
        .collect();
    let r = invite(&app, &ws, &owner, json!({"invitations": too_many})).await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["invitations"]);
}

#[tokio::test]
async fn accepting_twice_at_once_yields_one_membership() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Race").await;
    let guest = app.signup("Guest").await;
    let r = invite(&app, &ws, &owner, json!({"email": guest.email})).await;
    let token = r.body["token"].as_str().unwrap().to_owned();
    let results = join_all((0..4).map(|_| {
        app.post(
            "/v1/invitations/accept",
            &guest.token,
            json!({"token": token}),
        )
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.status == 201).count(), 1);
    for r in results.iter().filter(|r| r.status != 201) {
        r.assert_problem(410, "gone");
    }
    let members = app
        .get(
            &format!("/v1/workspaces/{}/members", ws["id"].as_str().unwrap()),
            &owner.token,
        )
        .await;
    assert_eq!(members.body["data"].as_array().unwrap().len(), 2);
    let ws_now = app
        .get(
            &format!("/v1/workspaces/{}", ws["id"].as_str().unwrap()),
            &owner.token,
        )
        .await;
    assert_eq!(ws_now.body["member_count"], 2);
}

#[tokio::test]
async fn invitations_of_another_workspace_are_not_found() {
    let app = TestApp::spawn().await;
    let a = app.signup("A").await;
    let b = app.signup("B").await;
    let ws_a = app.workspace(&a, "Tenant A").await;
    let ws_b = app.workspace(&b, "Tenant B").await;
    let r = invite(&app, &ws_b, &b, json!({"email": "x@example.com"})).await;
    let id = r.body["id"].as_str().unwrap();
    // Through A's workspace, B's invitation does not exist.
    app.delete(&format!("{}/{id}", inv_path(&ws_a)), &a.token)
        .await
        .assert_problem(404, "not_found");
    app.post(
        &format!("{}/{id}/resend", inv_path(&ws_a)),
        &a.token,
        json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    // And B's workspace is invisible to A.
    app.get(&inv_path(&ws_b), &a.token)
        .await
        .assert_problem(404, "not_found");
    invite(&app, &ws_b, &a, json!({"email": "y@example.com"}))
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn invitation_lists_walk_in_pages_with_their_totals() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let guest = app.signup("Guest").await;
    let mut spaces = Vec::new();
    for name in ["First", "Second", "Third"] {
        let ws = app.workspace(&owner, name).await;
        invite(&app, &ws, &owner, json!({"email": guest.email}))
            .await
            .assert(201);
        spaces.push(ws);
    }
    let ws = &spaces[0];
    let mut revoked = None;
    for name in ["x", "y"] {
        let email = format!("{name}-{}@example.com", app.unique());
        let r = invite(&app, ws, &owner, json!({ "email": email })).await;
        r.assert(201);
        revoked = Some(r.body["id"].as_str().unwrap().to_owned());
    }
    let revoked = revoked.unwrap();
    app.delete(&format!("{}/{revoked}", inv_path(ws)), &owner.token)
        .await
        .assert(204);

    let all = app.walk(&inv_path(ws), &owner.token, 2).await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["id"], revoked.as_str(), "newest first");
    let pending = app
        .walk(&format!("{}?status=pending", inv_path(ws)), &owner.token, 1)
        .await;
    assert_eq!(pending.len(), 2);
    assert!(pending.iter().all(|i| i["status"] == "pending"));

    // The guest's own list: one per workspace, with the workspace named.
    let mine = app.walk("/v1/me/invitations", &guest.token, 2).await;
    let names: Vec<_> = mine
        .iter()
        .map(|i| i["workspace"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Third", "Second", "First"]);
}
