//! Members (SPEC §4, §5): list, add, roles, removal, leave, the last-owner
//! rule (also under races), transfer and account deletion.

use futures_util::future::join_all;
use serde_json::{json, Value};
use workspaced::domain::roles::Role;

use crate::helpers::*;

fn id(ws: &Value) -> &str {
    ws["id"].as_str().unwrap()
}

async fn member_count(app: &TestApp, ws: &Value, token: &str) -> i64 {
    let r = app.get(&format!("/v1/workspaces/{}", id(ws)), token).await;
    r.assert(200);
    r.body["member_count"].as_i64().unwrap()
}

#[tokio::test]
async fn members_list_with_user_details_filters_and_pages() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Crew").await;
    let base = format!("/v1/workspaces/{}/members", id(&ws));
    let mut added = Vec::new();
    for (i, name) in ["Grace Hopper", "Alan Turing", "Ada Lovelace"]
        .iter()
        .enumerate()
    {
        let u = app.signup(name).await;
        let role = if i == 0 { "viewer" } else { "member" };
        let r = app
            .post(
                &base,
                &owner.token,
                json!({"email": u.email.to_uppercase(), "role": role}),
            )
            .await;
        r.assert(201);
        assert_eq!(r.body["user"]["id"], u.id.as_str());
        assert_eq!(r.body["user"]["email"], u.email.as_str());
        assert_eq!(r.body["role"], role);
        assert_eq!(r.body["invited_by"], owner.id.as_str());
        added.push(u);
    }
    assert_eq!(member_count(&app, &ws, &owner.token).await, 4);

    let viewer = &added[0];
    let r = app.get(&base, &viewer.token).await;
    r.assert(200);
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 4);
    // Newest first: the last added comes first, the owner last.
    assert_eq!(data[0]["user"]["name"], "Ada Lovelace");
    assert_eq!(data[3]["user"]["id"], owner.id.as_str());
    assert_eq!(data[3]["role"], "owner");
    assert!(data[0]["joined_at"].as_str().unwrap().ends_with('Z'));

    let r = app.get(&format!("{base}?role=member"), &owner.token).await;
    r.assert(200);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    let r = app.get(&format!("{base}?q=TURING"), &owner.token).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["user"]["name"], "Alan Turing");
    let r = app
        .get(&format!("{base}?q=grace.hopper"), &owner.token)
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    app.get(&format!("{base}?role=superuser"), &owner.token)
        .await
        .assert_problem(400, "invalid_parameter");

    // Keyset pages cover everyone once.
    let mut seen = Vec::new();
    let mut url = format!("{base}?limit=3&include_total=true");
    loop {
        let r = app.get(&url, &owner.token).await;
        r.assert(200);
        assert_eq!(r.body["meta"]["total"], 4);
        for m in r.body["data"].as_array().unwrap() {
            seen.push(m["user"]["id"].as_str().unwrap().to_owned());
        }
        match r.body["meta"]["next_cursor"].as_str() {
            Some(c) => url = format!("{base}?limit=3&include_total=true&cursor={c}"),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4);
}

#[tokio::test]
async fn adding_members_refuses_bad_input_and_duplicates() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Adds").await;
    let base = format!("/v1/workspaces/{}/members", id(&ws));
    let u = app.signup("User").await;
    app.post(&base, &owner.token, json!({"email": "nobody@example.com"}))
        .await
        .assert_problem(404, "user_not_found");
    app.post(
        &base,
        &owner.token,
        json!({"user_id": "usr_0123456789abcdef0123456789abcdef"}),
    )
    .await
    .assert_problem(404, "user_not_found");
    let r = app
        .post(
            &base,
            &owner.token,
            json!({"user_id": u.id, "role": "superuser"}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["role"]);
    app.post(&base, &owner.token, json!({}))
        .await
        .assert_problem(400, "validation_failed");
    app.post(
        &base,
        &owner.token,
        json!({"user_id": u.id, "owner_id": "x"}),
    )
    .await
    .assert_problem(400, "unknown_field");
    let r = app
        .post(&base, &owner.token, json!({"user_id": u.id}))
        .await;
    r.assert(201);
    assert_eq!(r.body["role"], "member");
    app.post(&base, &owner.token, json!({"email": u.email}))
        .await
        .assert_problem(409, "already_member");
    assert_eq!(member_count(&app, &ws, &owner.token).await, 2);
}

#[tokio::test]
async fn admins_manage_non_owners_and_only_owners_touch_owners() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Perms").await;
    let admin = app.member_of(&ws, Role::Admin).await;
    let member = app.member_of(&ws, Role::Member).await;
    let viewer = app.member_of(&ws, Role::Viewer).await;
    let m = |u: &Actor| format!("/v1/workspaces/{}/members/{}", id(&ws), u.id);
    let base = format!("/v1/workspaces/{}/members", id(&ws));
    let outsider = app.signup("Outsider").await;

    // Viewers and members: every admin action is 403 forbidden.
    for who in [&viewer, &member] {
        app.patch(&m(&admin), &who.token, json!({"role": "viewer"}))
            .await
            .assert_problem(403, "forbidden");
        app.delete(&m(&admin), &who.token)
            .await
            .assert_problem(403, "forbidden");
        app.post(&base, &who.token, json!({"user_id": outsider.id}))
            .await
            .assert_problem(403, "forbidden");
    }
    // Admins: non-owners yes, owners no.
    let r = app
        .patch(&m(&member), &admin.token, json!({"role": "admin"}))
        .await;
    r.assert(200);
    assert_eq!(r.body["role"], "admin");
    app.patch(&m(&member), &admin.token, json!({"role": "owner"}))
        .await
        .assert_problem(403, "needs_owner");
    app.patch(&m(&owner), &admin.token, json!({"role": "member"}))
        .await
        .assert_problem(403, "needs_owner");
    app.delete(&m(&owner), &admin.token)
        .await
        .assert_problem(403, "needs_owner");
    app.post(
        &base,
        &admin.token,
        json!({"user_id": outsider.id, "role": "owner"}),
    )
    .await
    .assert_problem(403, "needs_owner");
    app.patch(&m(&member), &admin.token, json!({"role": "boss"}))
        .await
        .assert_problem(400, "validation_failed");
    app.delete(&m(&viewer), &admin.token).await.assert(204);
    // Removing a non-member, or a malformed id: 404.
    app.delete(&m(&viewer), &admin.token)
        .await
        .assert_problem(404, "not_found");
    app.delete(&m(&outsider), &admin.token)
        .await
        .assert_problem(404, "not_found");
    app.delete(&format!("{base}/not-an-id"), &admin.token)
        .await
        .assert_problem(404, "not_found");
    // Owners grant owner.
    let r = app
        .patch(&m(&admin), &owner.token, json!({"role": "owner"}))
        .await;
    r.assert(200);
    assert_eq!(r.body["role"], "owner");
    assert_eq!(member_count(&app, &ws, &owner.token).await, 3);
}

#[tokio::test]
async fn a_membership_is_versioned_and_if_match_guards_it() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Versions").await;
    let bob = app.signup("Bob").await;
    let members = format!("/v1/workspaces/{}/members", id(&ws));
    let added = app
        .post(&members, &ada.token, json!({"user_id": bob.id}))
        .await;
    added.assert(201);
    assert_eq!(added.body["version"], 1);
    assert_eq!(added.header("etag"), Some("\"1\""));
    let bob_path = format!("{members}/{}", bob.id);
    let patch = |tag: &'static str, role: &'static str| {
        let (app, path, token) = (&app, bob_path.clone(), ada.token.clone());
        async move {
            app.call_with(
                "PATCH",
                &path,
                Some(&token),
                Some(json!({"role": role})),
                &[("if-match", tag)],
            )
            .await
        }
    };
    // A stale or weak tag changes nothing.
    for tag in ["\"2\"", "W/\"1\""] {
        patch(tag, "admin")
            .await
            .assert_problem(412, "version_mismatch");
    }
    let r = patch("\"1\"", "admin").await;
    r.assert(200);
    assert_eq!(r.body["role"], "admin");
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.header("etag"), Some("\"2\""));
    // The same role again is no change: the version stays.
    let r = patch("\"2\"", "admin").await;
    r.assert(200);
    assert_eq!(r.body["version"], 2);
    let listed = app.get(&members, &ada.token).await;
    let row = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["id"] == bob.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["version"], 2);
    // DELETE takes If-Match too; role checks come first.
    let viewer = app.member_of(&ws, Role::Viewer).await;
    app.call_with(
        "DELETE",
        &bob_path,
        Some(&viewer.token),
        None,
        &[("if-match", "\"9\"")],
    )
    .await
    .assert_problem(403, "forbidden");
    app.call_with(
        "DELETE",
        &bob_path,
        Some(&ada.token),
        None,
        &[("if-match", "\"1\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    assert_eq!(member_count(&app, &ws, &ada.token).await, 3);
    app.call_with(
        "DELETE",
        &bob_path,
        Some(&ada.token),
        None,
        &[("if-match", "\"2\"")],
    )
    .await
    .assert(204);
    assert_eq!(member_count(&app, &ws, &ada.token).await, 2);
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_removed_nor_leave() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Keep").await;
    let member = app.member_of(&ws, Role::Member).await;
    let me = format!("/v1/workspaces/{}/members/{}", id(&ws), owner.id);
    app.patch(&me, &owner.token, json!({"role": "admin"}))
        .await
        .assert_problem(409, "last_owner");
    app.delete(&me, &owner.token)
        .await
        .assert_problem(409, "last_owner");
    app.post(
        &format!("/v1/workspaces/{}/leave", id(&ws)),
        &owner.token,
        json!({}),
    )
    .await
    .assert_problem(409, "last_owner");
    // Anyone else may leave; member_count follows.
    app.call(
        "POST",
        &format!("/v1/workspaces/{}/leave", id(&ws)),
        Some(&member.token),
        None,
    )
    .await
    .assert(204);
    app.get(&format!("/v1/workspaces/{}", id(&ws)), &member.token)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(member_count(&app, &ws, &owner.token).await, 1);
    // With a second owner, the first may step down.
    let second = app.member_of(&ws, Role::Owner).await;
    app.patch(&me, &second.token, json!({"role": "admin"}))
        .await
        .assert(200);
}

#[tokio::test]
async fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    let app = TestApp::spawn().await;
    for round in 0..5 {
        let a = app.signup("A").await;
        let ws = app.workspace(&a, &format!("Race {round}")).await;
        let b = app.member_of(&ws, Role::Owner).await;
        let path = |u: &Actor| format!("/v1/workspaces/{}/members/{}", id(&ws), u.id);
        let (pa, pb) = (path(&b), path(&a));
        let calls = vec![
            app.patch(&pa, &a.token, json!({"role": "admin"})),
            app.patch(&pb, &b.token, json!({"role": "admin"})),
        ];
        let results = join_all(calls).await;
        let ok = results.iter().filter(|r| r.status == 200).count();
        assert_eq!(
            ok,
            1,
            "exactly one demotion wins: {:?}",
            results.iter().map(|r| &r.text).collect::<Vec<_>>()
        );
        for r in results.iter().filter(|r| r.status != 200) {
            assert!(
                r.code() == "last_owner" || r.code() == "needs_owner",
                "{}",
                r.text
            );
        }
        let owners = app
            .get(
                &format!("/v1/workspaces/{}/members?role=owner", id(&ws)),
                &a.token,
            )
            .await;
        assert_eq!(owners.body["data"].as_array().unwrap().len(), 1);
    }
    // Two owners removing each other at once: one stays.
    let a = app.signup("A").await;
    let ws = app.workspace(&a, "Race remove").await;
    let b = app.member_of(&ws, Role::Owner).await;
    let results = join_all(vec![
        app.delete(
            &format!("/v1/workspaces/{}/members/{}", id(&ws), b.id),
            &a.token,
        ),
        app.delete(
            &format!("/v1/workspaces/{}/members/{}", id(&ws), a.id),
            &b.token,
        ),
    ])
    .await;
    assert_eq!(results.iter().filter(|r| r.status == 204).count(), 1);
    let survivor = if results[0].status == 204 { &a } else { &b };
    assert_eq!(member_count(&app, &ws, &survivor.token).await, 1);
}

#[tokio::test]
async fn transfer_makes_the_target_owner_and_the_caller_admin() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Handover").await;
    let heir = app.member_of(&ws, Role::Member).await;
    let stranger = app.signup("Stranger").await;
    let path = format!("/v1/workspaces/{}/transfer", id(&ws));
    let r = app
        .post(&path, &owner.token, json!({"user_id": stranger.id}))
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["user_id"]);
    let r = app
        .post(&path, &owner.token, json!({"user_id": "garbage"}))
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["user_id"]);
    app.post(&path, &heir.token, json!({"user_id": heir.id}))
        .await
        .assert_problem(403, "needs_owner");
    // A transfer changes the workspace: a stale If-Match changes nothing.
    let version = ws["version"].as_i64().unwrap();
    for stale in [format!("\"{}\"", version + 1), format!("W/\"{version}\"")] {
        app.call_with(
            "POST",
            &path,
            Some(&owner.token),
            Some(json!({"user_id": heir.id})),
            &[("if-match", stale.as_str())],
        )
        .await
        .assert_problem(412, "version_mismatch");
    }
    assert_eq!(
        app.get(&format!("/v1/workspaces/{}", id(&ws)), &owner.token)
            .await
            .body["role"],
        "owner"
    );
    let r = app
        .call_with(
            "POST",
            &path,
            Some(&owner.token),
            Some(json!({"user_id": heir.id})),
            &[("if-match", format!("\"{version}\"").as_str())],
        )
        .await;
    r.assert(200);
    assert_eq!(r.body["version"], version + 1);
    assert_eq!(r.body["id"], id(&ws));
    assert_eq!(r.body["role"], "admin");
    assert_eq!(r.body["member_count"], 2);
    let r = app
        .get(&format!("/v1/workspaces/{}", id(&ws)), &heir.token)
        .await;
    assert_eq!(r.body["role"], "owner");
    // The former owner is an admin now: owner-only actions are refused.
    app.post(&path, &owner.token, json!({"user_id": heir.id}))
        .await
        .assert_problem(403, "needs_owner");
}

#[tokio::test]
async fn deleting_an_account_purges_solo_workspaces_and_leaves_the_rest() {
    let app = TestApp::spawn().await;
    let me = app.signup("Me").await;
    let other = app.signup("Other").await;
    let solo = app.workspace(&me, "Solo").await;
    let shared = app.workspace(&other, "Shared").await;
    app.post(
        &format!("/v1/workspaces/{}/members", id(&shared)),
        &other.token,
        json!({"user_id": me.id, "role": "admin"}),
    )
    .await
    .assert(201);
    let r = app
        .call(
            "DELETE",
            "/v1/me",
            Some(&me.token),
            Some(json!({"confirm": "wrong@example.com"})),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["confirm"]);
    app.call(
        "DELETE",
        "/v1/me",
        Some(&me.token),
        Some(json!({"confirm": me.email.to_uppercase()})),
    )
    .await
    .assert(204);
    app.get("/v1/me", &me.token)
        .await
        .assert_problem(401, "unauthenticated");
    // Authentication reads the token alone: the account's tokens went with
    // it, so no route lets them in.
    app.get("/v1/workspaces", &me.token)
        .await
        .assert_problem(401, "unauthenticated");
    app.get(&format!("/v1/workspaces/{}", id(&shared)), &me.token)
        .await
        .assert_problem(401, "unauthenticated");
    app.get(&format!("/v1/workspaces/{}", id(&solo)), ADMIN_TOKEN)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(member_count(&app, &shared, &other.token).await, 1);
}

#[tokio::test]
async fn the_last_owner_of_a_shared_workspace_cannot_delete_the_account() {
    let app = TestApp::spawn().await;
    let me = app.signup("Me").await;
    let ws = app.workspace(&me, "Mine").await;
    let solo = app.workspace(&me, "Solo").await;
    app.member_of(&ws, Role::Member).await;
    let r = app
        .call(
            "DELETE",
            "/v1/me",
            Some(&me.token),
            Some(json!({"confirm": me.email})),
        )
        .await;
    r.assert_problem(409, "last_owner");
    assert_eq!(r.body["workspaces"], json!([id(&ws)]));
    // Nothing was deleted.
    app.get("/v1/me", &me.token).await.assert(200);
    app.get(&format!("/v1/workspaces/{}", id(&solo)), &me.token)
        .await
        .assert(200);
}

#[tokio::test]
async fn members_of_another_workspace_are_not_found() {
    let app = TestApp::spawn().await;
    let a = app.signup("A").await;
    let b = app.signup("B").await;
    let ws_a = app.workspace(&a, "Tenant A").await;
    let ws_b = app.workspace(&b, "Tenant B").await;
    let b_member = app.member_of(&ws_b, Role::Member).await;
    // A's admin addresses B's member through A's workspace: 404.
    app.patch(
        &format!("/v1/workspaces/{}/members/{}", id(&ws_a), b_member.id),
        &a.token,
        json!({"role": "viewer"}),
    )
    .await
    .assert_problem(404, "not_found");
    // And B's workspace directly: 404, nothing leaks.
    for (m, p) in [
        ("GET", format!("/v1/workspaces/{}/members", id(&ws_b))),
        (
            "DELETE",
            format!("/v1/workspaces/{}/members/{}", id(&ws_b), b_member.id),
        ),
        ("POST", format!("/v1/workspaces/{}/leave", id(&ws_b))),
    ] {
        app.call(m, &p, Some(&a.token), None)
            .await
            .assert_problem(404, "not_found");
    }
}

#[tokio::test]
async fn a_full_plan_refuses_new_members() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Full").await;
    // The free plan allows 25 members; pretend 24 more joined.
    app.store
        .execute_sql(
            "UPDATE workspaces SET member_count = 25 WHERE id = $1",
            vec![id(&ws).into()],
        )
        .await
        .unwrap();
    let u = app.signup("Late").await;
    app.post(
        &format!("/v1/workspaces/{}/members", id(&ws)),
        &owner.token,
        json!({"user_id": u.id}),
    )
    .await
    .assert_problem(403, "plan_limit");
}

#[tokio::test]
async fn deleting_an_account_drops_the_pending_invitations_it_sent() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Shared").await;
    let admin = app.member_of(&ws, Role::Admin).await;
    let guest = app.signup("Guest").await;
    let r = app
        .post(
            &format!("/v1/workspaces/{}/invitations", id(&ws)),
            &admin.token,
            json!({"email": guest.email}),
        )
        .await;
    r.assert(201);
    app.call(
        "DELETE",
        "/v1/me",
        Some(&admin.token),
        Some(json!({"confirm": admin.email})),
    )
    .await
    .assert(204);
    let list = app
        .get(
            &format!("/v1/workspaces/{}/invitations", id(&ws)),
            &owner.token,
        )
        .await;
    assert!(list.body["data"].as_array().unwrap().is_empty());
    app.post(
        "/v1/invitations/accept",
        &guest.token,
        json!({"token": r.body["token"]}),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(member_count(&app, &ws, &owner.token).await, 1);
}

#[tokio::test]
async fn a_solo_workspace_shared_through_an_organization_blocks_account_deletion() {
    let app = TestApp::spawn().await;
    let me = app.signup("Me").await;
    let colleague = app.signup("Colleague").await;
    let r = app
        .post(
            "/v1/workspaces",
            &me.token,
            json!({"name": "Team space", "organization": {"name": "Team"}}),
        )
        .await;
    r.assert(201);
    let ws_id = r.body["id"].as_str().unwrap().to_owned();
    let org = r.body["organization_id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/v1/organizations/{org}/members"),
        &me.token,
        json!({"user_id": colleague.id, "role": "owner"}),
    )
    .await
    .assert(201);
    let r = app
        .call(
            "DELETE",
            "/v1/me",
            Some(&me.token),
            Some(json!({"confirm": me.email})),
        )
        .await;
    r.assert_problem(409, "last_owner");
    assert_eq!(r.body["workspaces"], json!([ws_id]));
    app.get(&format!("/v1/workspaces/{ws_id}"), &colleague.token)
        .await
        .assert(200);
}
