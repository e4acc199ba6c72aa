//! Organizations (SPEC §6): CRUD, members with the last-owner rule (also
//! racing), inherited workspace roles, and what strangers see.

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::*;

async fn org(app: &TestApp, owner: &Actor, name: &str) -> Value {
    let r = app
        .post("/v1/organizations", &owner.token, json!({"name": name}))
        .await;
    r.assert(201);
    r.body
}

fn oid(o: &Value) -> &str {
    o["id"].as_str().unwrap()
}

async fn add(app: &TestApp, o: &Value, by: &Actor, who: &Actor, role: &str) -> TestResponse {
    app.post(
        &format!("/v1/organizations/{}/members", oid(o)),
        &by.token,
        json!({"user_id": who.id, "role": role}),
    )
    .await
}

#[tokio::test]
async fn organizations_are_created_read_renamed_and_listed() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let r = app
        .post(
            "/v1/organizations",
            &owner.token,
            json!({"name": "Acme Corp"}),
        )
        .await;
    r.assert(201);
    assert_eq!(r.body["slug"], "acme-corp");
    assert_eq!(r.body["role"], "owner");
    assert_eq!(r.body["workspace_count"], 0);
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.header("etag"), Some("\"1\""));
    let o = r.body.clone();
    app.post(
        "/v1/organizations",
        &owner.token,
        json!({"name": "Other", "slug": "acme-corp"}),
    )
    .await
    .assert_problem(409, "slug_taken");
    let r = app
        .post("/v1/organizations", &owner.token, json!({"name": "A"}))
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["name"]);
    app.post(
        "/v1/organizations",
        &owner.token,
        json!({"name": "Xy", "role": "owner"}),
    )
    .await
    .assert_problem(400, "unknown_field");

    app.get("/v1/organizations/acme-corp", &owner.token)
        .await
        .assert(200);
    let r = app
        .patch(
            &format!("/v1/organizations/{}", oid(&o)),
            &owner.token,
            json!({"name": "Acme Inc"}),
        )
        .await;
    r.assert(200);
    assert_eq!(r.body["name"], "Acme Inc");
    assert_eq!(r.body["version"], 2);
    app.call_with(
        "PATCH",
        &format!("/v1/organizations/{}", oid(&o)),
        Some(&owner.token),
        Some(json!({"name": "Stale"})),
        &[("if-match", "\"1\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");

    let list = app.get("/v1/organizations", &owner.token).await;
    list.assert(200);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);

    let stranger = app.signup("Stranger").await;
    for path in [
        format!("/v1/organizations/{}", oid(&o)),
        "/v1/organizations/acme-corp".to_string(),
        format!("/v1/organizations/{}/members", oid(&o)),
        format!("/v1/organizations/{}/workspaces", oid(&o)),
    ] {
        app.get(&path, &stranger.token)
            .await
            .assert_problem(404, "not_found");
    }
    app.patch(
        &format!("/v1/organizations/{}", oid(&o)),
        &stranger.token,
        json!({"name": "Pwned"}),
    )
    .await
    .assert_problem(404, "not_found");
    assert!(
        app.get("/v1/organizations", &stranger.token).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn organization_create_is_rate_limited() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limits.organization_create = workspaced::config::RateSpec::parse("2/1h").unwrap()
    })
    .await;
    let owner = app.signup("Owner").await;
    let r = app
        .post("/v1/organizations", &owner.token, json!({"name": "One"}))
        .await;
    r.assert(201);
    assert_eq!(r.header("ratelimit-remaining"), Some("1"));
    app.post("/v1/organizations", &owner.token, json!({"name": "Two"}))
        .await
        .assert(201);
    let r = app
        .post("/v1/organizations", &owner.token, json!({"name": "Three"}))
        .await;
    r.assert_problem(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn only_empty_organizations_can_be_deleted_by_owners() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let o = org(&app, &owner, "Holder").await;
    let admin = app.signup("Admin").await;
    add(&app, &o, &owner, &admin, "admin").await.assert(201);
    let ws = app
        .post(
            "/v1/workspaces",
            &owner.token,
            json!({"name": "Inside", "organization_id": oid(&o)}),
        )
        .await;
    ws.assert(201);
    let path = format!("/v1/organizations/{}", oid(&o));
    assert_eq!(
        app.get(&path, &owner.token).await.body["workspace_count"],
        1
    );
    app.delete(&path, &admin.token)
        .await
        .assert_problem(403, "needs_owner");
    app.patch(&path, &admin.token, json!({"name": "Renamed"}))
        .await
        .assert_problem(403, "needs_owner");
    app.delete(&path, &owner.token)
        .await
        .assert_problem(409, "organization_not_empty");
    // An archived workspace is still held.
    let ws_path = format!("/v1/workspaces/{}", ws.body["id"].as_str().unwrap());
    app.post(
        &format!("{ws_path}/archive"),
        &owner.token,
        json!({"archive": true}),
    )
    .await
    .assert(200);
    app.delete(&path, &owner.token)
        .await
        .assert_problem(409, "organization_not_empty");
    // A soft-deleted one is not: it leaves the organization with it and
    // stays restorable by its owner.
    app.delete(&ws_path, &owner.token).await.assert(200);
    assert_eq!(
        app.get(&path, &owner.token).await.body["workspace_count"],
        0
    );
    app.delete(&path, &owner.token).await.assert(204);
    app.get(&path, &owner.token)
        .await
        .assert_problem(404, "not_found");
    let restored = app
        .post(&format!("{ws_path}/restore"), &owner.token, json!({}))
        .await;
    restored.assert(200);
    assert_eq!(restored.body["organization_id"], Value::Null);
    assert_eq!(restored.body["status"], "archived");
    assert_eq!(restored.body["role"], "owner");
}

#[tokio::test]
async fn org_roles_are_inherited_by_its_workspaces() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let o = org(&app, &owner, "Parent").await;
    let ws = app
        .post(
            "/v1/workspaces",
            &owner.token,
            json!({"name": "Child", "organization_id": oid(&o)}),
        )
        .await;
    ws.assert(201);
    let ws_id = ws.body["id"].as_str().unwrap().to_owned();
    let admin = app.signup("OrgAdmin").await;
    add(&app, &o, &owner, &admin, "admin").await.assert(201);
    let r = app
        .get(&format!("/v1/workspaces/{ws_id}"), &admin.token)
        .await;
    r.assert(200);
    assert_eq!(r.body["role"], "admin");
    // member_count counts direct members only.
    assert_eq!(r.body["member_count"], 1);
    let list = app
        .get(
            &format!("/v1/organizations/{}/workspaces", oid(&o)),
            &admin.token,
        )
        .await;
    list.assert(200);
    assert_eq!(list.body["data"][0]["id"], ws_id.as_str());
    // A direct viewer who is an org admin acts as admin.
    app.post(
        &format!("/v1/workspaces/{ws_id}/members"),
        &owner.token,
        json!({"user_id": admin.id, "role": "viewer"}),
    )
    .await
    .assert(201);
    let r = app
        .get(&format!("/v1/workspaces/{ws_id}"), &admin.token)
        .await;
    assert_eq!(r.body["role"], "admin");
    assert_eq!(r.body["member_count"], 2);
    // Removed from the org: back to the direct role.
    app.delete(
        &format!("/v1/organizations/{}/members/{}", oid(&o), admin.id),
        &owner.token,
    )
    .await
    .assert(204);
    let r = app
        .get(&format!("/v1/workspaces/{ws_id}"), &admin.token)
        .await;
    assert_eq!(r.body["role"], "viewer");
}

#[tokio::test]
async fn my_workspace_list_merges_direct_and_inherited_workspaces_once() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let x = app.signup("Xavier").await;
    let o = org(&app, &owner, "Parent").await;
    let mut ids = Vec::new();
    for (name, in_org) in [("Alpha", true), ("Bravo", true), ("Charlie", false)] {
        let mut body = json!({"name": name});
        if in_org {
            body["organization_id"] = json!(oid(&o));
        }
        let r = app.post("/v1/workspaces", &owner.token, body).await;
        r.assert(201);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    add(&app, &o, &owner, &x, "member").await.assert(201);
    // Bravo is reached both ways (direct viewer, org member); Charlie only
    // directly; Alpha only through the organization.
    for (ws, role) in [(&ids[1], "viewer"), (&ids[2], "admin")] {
        app.post(
            &format!("/v1/workspaces/{ws}/members"),
            &owner.token,
            json!({"user_id": x.id, "role": role}),
        )
        .await
        .assert(201);
    }
    let names_roles = |r: &TestResponse| -> Vec<(String, String)> {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["name"].as_str().unwrap().to_owned(),
                    w["role"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pair = |n: &str, r: &str| (n.to_owned(), r.to_owned());
    let all = app.get("/v1/workspaces?include_total=true", &x.token).await;
    all.assert(200);
    assert_eq!(
        names_roles(&all),
        [
            pair("Charlie", "admin"),
            pair("Bravo", "member"),
            pair("Alpha", "member")
        ]
    );
    assert_eq!(all.body["meta"]["total"], 3);
    // Newest first in pages of two: the cursor crosses from one branch to
    // the other without losing or repeating a workspace.
    let first = app.get("/v1/workspaces?limit=2", &x.token).await;
    assert_eq!(
        names_roles(&first),
        [pair("Charlie", "admin"), pair("Bravo", "member")]
    );
    let cursor = first.body["meta"]["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("/v1/workspaces?limit=2&cursor={cursor}"), &x.token)
        .await;
    assert_eq!(names_roles(&second), [pair("Alpha", "member")]);
    assert_eq!(second.body["meta"]["has_more"], false);
    let by_name = app.get("/v1/workspaces?sort=-name&limit=2", &x.token).await;
    assert_eq!(
        names_roles(&by_name),
        [pair("Charlie", "admin"), pair("Bravo", "member")]
    );
    let cursor = by_name.body["meta"]["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("/v1/workspaces?sort=-name&limit=2&cursor={cursor}"),
            &x.token,
        )
        .await;
    assert_eq!(names_roles(&rest), [pair("Alpha", "member")]);
    let viewers = app.get("/v1/workspaces?role=member", &x.token).await;
    assert_eq!(
        names_roles(&viewers),
        [pair("Bravo", "member"), pair("Alpha", "member")]
    );
}

#[tokio::test]
async fn org_admins_manage_non_owners_and_the_last_owner_stays() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let o = org(&app, &owner, "Team").await;
    let admin = app.signup("Admin").await;
    let member = app.signup("Member").await;
    let newbie = app.signup("Newbie").await;
    add(&app, &o, &owner, &admin, "admin").await.assert(201);
    let r = add(&app, &o, &admin, &member, "member").await;
    r.assert(201);
    assert_eq!(r.body["role"], "member");
    add(&app, &o, &admin, &member, "member")
        .await
        .assert_problem(409, "already_member");
    add(&app, &o, &admin, &newbie, "owner")
        .await
        .assert_problem(403, "needs_owner");
    add(&app, &o, &member, &newbie, "member")
        .await
        .assert_problem(403, "forbidden");
    let r = add(&app, &o, &admin, &newbie, "viewer").await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["role"]);
    app.post(
        &format!("/v1/organizations/{}/members", oid(&o)),
        &admin.token,
        json!({"email": "ghost@example.com"}),
    )
    .await
    .assert_problem(404, "user_not_found");

    let m = |u: &Actor| format!("/v1/organizations/{}/members/{}", oid(&o), u.id);
    app.patch(&m(&owner), &admin.token, json!({"role": "member"}))
        .await
        .assert_problem(403, "needs_owner");
    app.patch(&m(&member), &admin.token, json!({"role": "admin"}))
        .await
        .assert(200);
    app.patch(&m(&owner), &owner.token, json!({"role": "admin"}))
        .await
        .assert_problem(409, "last_owner");
    app.delete(&m(&owner), &owner.token)
        .await
        .assert_problem(409, "last_owner");
    app.delete(&m(&newbie), &owner.token)
        .await
        .assert_problem(404, "not_found");
    // Members may leave on their own.
    app.delete(&m(&member), &member.token).await.assert(204);
    let list = app
        .get(
            &format!("/v1/organizations/{}/members", oid(&o)),
            &admin.token,
        )
        .await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn two_org_owners_demoting_each_other_at_once_leave_one() {
    let app = TestApp::spawn().await;
    for _ in 0..4 {
        let a = app.signup("A").await;
        let b = app.signup("B").await;
        let o = org(&app, &a, "Race").await;
        add(&app, &o, &a, &b, "owner").await.assert(201);
        let m = |u: &Actor| format!("/v1/organizations/{}/members/{}", oid(&o), u.id);
        let (pa, pb) = (m(&b), m(&a));
        let results = join_all(vec![
            app.patch(&pa, &a.token, json!({"role": "member"})),
            app.patch(&pb, &b.token, json!({"role": "member"})),
        ])
        .await;
        assert_eq!(results.iter().filter(|r| r.status == 200).count(), 1);
        let list = app
            .get(
                &format!("/v1/organizations/{}/members", oid(&o)),
                ADMIN_TOKEN,
            )
            .await;
        let owners = list.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["role"] == "owner")
            .count();
        assert_eq!(owners, 1);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum OrgWho {
    NoToken,
    NonMember,
    Member,
    Admin,
    Owner,
    PlatformAdmin,
}

struct OrgRoute {
    method: &'static str,
    suffix: fn(&str) -> String,
    body: fn(&str) -> Option<Value>,
    /// Lowest org role allowed (Member, Admin or Owner).
    min: OrgWho,
    ok: u16,
    /// What the platform admin gets (it has no workspaces of its own).
    admin: u16,
}

#[tokio::test]
async fn every_org_route_answers_each_caller_exactly() {
    let app = TestApp::spawn().await;
    let stranger = app.signup("Stranger").await;
    let routes = [
        OrgRoute {
            method: "GET",
            suffix: |_| String::new(),
            body: |_| None,
            min: OrgWho::Member,
            ok: 200,
            admin: 200,
        },
        OrgRoute {
            method: "PATCH",
            suffix: |_| String::new(),
            body: |_| Some(json!({"name": "Renamed"})),
            min: OrgWho::Owner,
            ok: 200,
            admin: 200,
        },
        OrgRoute {
            method: "DELETE",
            suffix: |_| String::new(),
            body: |_| None,
            min: OrgWho::Owner,
            ok: 204,
            admin: 204,
        },
        OrgRoute {
            method: "GET",
            suffix: |_| "/workspaces".into(),
            body: |_| None,
            min: OrgWho::Member,
            ok: 200,
            admin: 403,
        },
        OrgRoute {
            method: "GET",
            suffix: |_| "/members".into(),
            body: |_| None,
            min: OrgWho::Member,
            ok: 200,
            admin: 200,
        },
        OrgRoute {
            method: "POST",
            suffix: |_| "/members".into(),
            body: |s| Some(json!({"user_id": s})),
            min: OrgWho::Admin,
            ok: 201,
            admin: 201,
        },
        OrgRoute {
            method: "PATCH",
            suffix: |t| format!("/members/{t}"),
            body: |_| Some(json!({"role": "admin"})),
            min: OrgWho::Admin,
            ok: 200,
            admin: 200,
        },
        OrgRoute {
            method: "DELETE",
            suffix: |t| format!("/members/{t}"),
            body: |_| None,
            min: OrgWho::Admin,
            ok: 204,
            admin: 204,
        },
    ];
    let callers = [
        OrgWho::NoToken,
        OrgWho::NonMember,
        OrgWho::Member,
        OrgWho::Admin,
        OrgWho::Owner,
        OrgWho::PlatformAdmin,
    ];
    for route in &routes {
        for who in callers {
            let owner = app.signup("Owner").await;
            let o = org(&app, &owner, "Matrix").await;
            let target = app.signup("Target").await;
            add(&app, &o, &owner, &target, "member").await.assert(201);
            let newcomer = app.signup("Newcomer").await;
            let token = match who {
                OrgWho::NoToken => None,
                OrgWho::NonMember => Some(stranger.token.clone()),
                OrgWho::Member | OrgWho::Admin => {
                    let u = app.signup("Caller").await;
                    let role = if who == OrgWho::Member {
                        "member"
                    } else {
                        "admin"
                    };
                    add(&app, &o, &owner, &u, role).await.assert(201);
                    Some(u.token)
                }
                OrgWho::Owner => Some(owner.token.clone()),
                OrgWho::PlatformAdmin => Some(ADMIN_TOKEN.to_owned()),
            };
            let suffix = (route.suffix)(&target.id);
            let path = format!("/v1/organizations/{}{suffix}", oid(&o));
            let r = app
                .call(
                    route.method,
                    &path,
                    token.as_deref(),
                    (route.body)(&newcomer.id),
                )
                .await;
            let (status, code) = match who {
                OrgWho::NoToken => (401, "unauthenticated"),
                OrgWho::NonMember => (404, "not_found"),
                OrgWho::PlatformAdmin => (
                    route.admin,
                    if route.admin == 403 { "forbidden" } else { "" },
                ),
                w if w >= route.min => (route.ok, ""),
                _ if route.min == OrgWho::Owner => (403, "needs_owner"),
                _ => (403, "forbidden"),
            };
            assert_eq!(
                r.status.as_u16(),
                status,
                "{} {suffix} as {who:?}: {}",
                route.method,
                r.text
            );
            if !code.is_empty() {
                assert_eq!(r.code(), code, "{} {suffix} as {who:?}", route.method);
            }
        }
    }
}

#[tokio::test]
async fn organization_lists_walk_in_pages_with_their_totals() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let mut made = Vec::new();
    for name in ["One", "Two", "Three"] {
        let r = app
            .post("/v1/organizations", &owner.token, json!({ "name": name }))
            .await;
        r.assert(201);
        made.push(r.body["id"].as_str().unwrap().to_owned());
    }
    // An organization of someone else's is not in the owner's list.
    let other = app.signup("Other").await;
    app.post("/v1/organizations", &other.token, json!({"name": "Theirs"}))
        .await
        .assert(201);
    let orgs = app.walk("/v1/organizations", &owner.token, 2).await;
    let ids: Vec<_> = orgs.iter().map(|o| o["id"].as_str().unwrap()).collect();
    made.reverse();
    assert_eq!(ids, made, "newest first");

    let o = &made[0];
    for name in ["A", "B", "C", "D"] {
        let who = app.signup(name).await;
        app.post(
            &format!("/v1/organizations/{o}/members"),
            &owner.token,
            json!({"user_id": who.id, "role": "member"}),
        )
        .await
        .assert(201);
    }
    let members = app
        .walk(&format!("/v1/organizations/{o}/members"), &owner.token, 3)
        .await;
    assert_eq!(members.len(), 5, "the owner and four members");
    assert_eq!(members.last().unwrap()["user"]["id"], owner.id.as_str());
}
