//! Every class of malformed request gets a 4xx problem naming the field.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use crate::helpers::*;
use workspaced::domain::roles::Role;

fn raw_post(path: &str, token: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn malformed_json_is_invalid_json() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    for body in [
        "{",
        "{\"name\": }",
        "[1,",
        "nul",
        "{\"name\":\"a\"} trailing",
    ] {
        let r = app
            .raw(raw_post(
                "/v1/workspaces",
                &ada.token,
                "application/json",
                body,
            ))
            .await;
        assert_eq!(r.code(), "invalid_json", "{body}: {}", r.text);
        r.assert_problem(400, "invalid_json");
    }
    let r = app
        .raw(raw_post(
            "/v1/workspaces",
            &ada.token,
            "application/json",
            "",
        ))
        .await;
    r.assert_problem(400, "invalid_json");
    let r = app
        .raw(raw_post(
            "/v1/workspaces",
            &ada.token,
            "application/json",
            vec![b'{', b'"', 0xff, 0xfe, b'"', b'}'],
        ))
        .await;
    r.assert_problem(400, "invalid_json");
}

#[tokio::test]
async fn deep_nesting_is_refused_before_parsing() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let deep = format!(
        "{{\"name\":\"Deep\",\"metadata\":{}{}}}",
        "{\"a\":".repeat(40),
        "1".to_owned() + &"}".repeat(40)
    );
    let r = app
        .raw(raw_post(
            "/v1/workspaces",
            &ada.token,
            "application/json",
            deep,
        ))
        .await;
    r.assert_problem(400, "invalid_json");
    let ok = format!(
        "{{\"name\":\"Shallow\",\"metadata\":{}1{}}}",
        "{\"a\":".repeat(20),
        "}".repeat(20)
    );
    app.raw(raw_post(
        "/v1/workspaces",
        &ada.token,
        "application/json",
        ok,
    ))
    .await
    .assert(201);
}

#[tokio::test]
async fn wrong_types_and_missing_fields_name_the_field() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let r = app
        .post("/v1/workspaces", &ada.token, json!({"name": 5}))
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["name"]);
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"description": "no name"}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["name"]);
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Org", "organization": {"name": 7}}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["organization.name"]);
    let r = app
        .post("/v1/workspaces", &ada.token, json!(["name"]))
        .await;
    r.assert_problem(400, "validation_failed");
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Fine", "settings": "dark"}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["settings"]);
}

#[tokio::test]
async fn missing_and_mistyped_fields_are_listed_with_every_other_error() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    // A missing name with a bad slug and a long description: all three.
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"slug": "-bad-", "description": "d".repeat(501)}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["name", "slug", "description"]);
    assert_eq!(r.body["errors"][0]["code"], "required");
    // Two fields of the wrong type, one nested: all three.
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": 5, "slug": 5, "organization": {"name": true}}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    let mut f = r.fields();
    f.sort();
    assert_eq!(f, vec!["name", "organization.name", "slug"]);
    assert!(r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["code"] == "invalid_type"));
    // A signup with nothing in it names every field.
    let r = app
        .call("POST", "/v1/auth/signup", None, Some(json!({})))
        .await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["email", "password", "name"]);
    let r = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(json!({"email": "not-an-email", "password": 12})),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    // Types are checked before values: a body with a field of the wrong JSON
    // type lists every such field; the rules on values come after.
    assert_eq!(r.fields(), vec!["password"]);
    // Routes whose fields serde requires: every shape error at once.
    let r = app
        .post(
            "/v1/me/tokens",
            &ada.token,
            json!({"expires_in_days": "soon"}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    let mut f = r.fields();
    f.sort();
    assert_eq!(f, vec!["expires_in_days", "name"]);
    // An unknown field with a missing one: unknown_field, both listed.
    let r = app
        .post("/v1/me/tokens", &ada.token, json!({"nmae": "cli"}))
        .await;
    r.assert_problem(400, "unknown_field");
    assert_eq!(r.fields(), vec!["nmae", "name"]);
}

#[tokio::test]
async fn unknown_fields_are_refused_to_stop_mass_assignment() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    for field in ["role", "owner_id", "status", "nmae"] {
        let r = app
            .post(
                "/v1/workspaces",
                &ada.token,
                json!({"name": "X", field: "owner"}),
            )
            .await;
        r.assert_problem(400, "unknown_field");
        assert_eq!(r.fields(), vec![field]);
    }
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "X", "organization": {"name": "Y", "owner": 1}}),
        )
        .await;
    r.assert_problem(400, "unknown_field");
    assert_eq!(r.fields(), vec!["organization.owner"]);
}

#[tokio::test]
async fn field_rules_are_enforced_and_listed_together() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "x".repeat(51), "description": "d".repeat(501), "domain": "-bad-", "branch": "has space",
                   "repo_path": "p".repeat(1025), "icon": "way too long icon"}),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    let mut f = r.fields();
    f.sort();
    assert_eq!(
        f,
        vec![
            "branch",
            "description",
            "domain",
            "icon",
            "name",
            "repo_path"
        ]
    );
    for name in ["a", "   ", "tab\there", "bell\u{7}"] {
        let r = app
            .post("/v1/workspaces", &ada.token, json!({"name": name}))
            .await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.fields(), vec!["name"], "{name:?}");
    }
    let big = json!({"name": "Big", "settings": {"blob": "x".repeat(17 * 1024)}});
    let r = app.post("/v1/workspaces", &ada.token, big).await;
    r.assert_problem(400, "validation_failed");
    assert_eq!(r.fields(), vec!["settings"]);
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_refused() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let huge = format!("{{\"name\":\"{}\"}}", "x".repeat(1024 * 1024 + 10));
    let r = app
        .raw(raw_post(
            "/v1/workspaces",
            &ada.token,
            "application/json",
            huge,
        ))
        .await;
    r.assert_problem(413, "payload_too_large");
}

#[tokio::test]
async fn non_json_content_types_are_refused() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let r = app
        .raw(raw_post(
            "/v1/workspaces",
            &ada.token,
            "text/plain",
            "{\"name\":\"X\"}",
        ))
        .await;
    r.assert_problem(415, "unsupported_media_type");
    let r = app
        .raw(raw_post(
            "/v1/workspaces",
            &ada.token,
            "application/x-www-form-urlencoded",
            "name=X",
        ))
        .await;
    r.assert_problem(415, "unsupported_media_type");
    let ok = app
        .raw(raw_post(
            "/v1/workspaces",
            &ada.token,
            "application/json; charset=utf-8",
            "{\"name\":\"Yes\"}",
        ))
        .await;
    ok.assert(201);
}

#[tokio::test]
async fn bad_pagination_and_filters_are_invalid_parameters() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("cursor=garbage!", "cursor"),
        ("cursor=abc&offset=1", "cursor"),
        ("offset=-5", "offset"),
        ("include_total=maybe", "include_total"),
        ("sort=size", "sort"),
        ("status=gone", "status"),
        ("role=king", "role"),
    ] {
        let r = app
            .get(&format!("/v1/workspaces?{query}"), &ada.token)
            .await;
        r.assert_problem(400, "invalid_parameter");
        assert_eq!(r.fields(), vec![field], "{query}");
    }
    app.get("/v1/workspaces?limit=100&unknown=1", &ada.token)
        .await
        .assert(200);
}

#[tokio::test]
async fn nul_characters_are_refused_everywhere_the_same_on_both_databases() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    // Found by schemathesis: PostgreSQL cannot store NUL in text (SQLite
    // can), so it used to be a 500 there.
    let r = app
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"email": "a\u{0}@example.com", "password": "whatever12345"})),
        )
        .await;
    r.assert_problem(400, "invalid_json");
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Fine", "description": "x\u{0}y"}),
        )
        .await;
    r.assert_problem(400, "invalid_json");
    let r = app.get("/v1/workspaces/ws%00", &ada.token).await;
    r.assert_problem(400, "invalid_parameter");
    assert_eq!(r.fields(), vec!["path"]);
    let r = app.get("/v1/workspaces?q=a%00b", &ada.token).await;
    r.assert_problem(400, "invalid_parameter");
    assert_eq!(r.fields(), vec!["query"]);
    // A literal backslash followed by "u0000" is ordinary text.
    let r = app
        .post(
            "/v1/workspaces",
            &ada.token,
            json!({"name": "Fine", "description": "\\u0000"}),
        )
        .await;
    r.assert(201);
    assert_eq!(r.body["description"], "\\u0000");
}

#[tokio::test]
async fn missing_or_garbage_tokens_are_unauthenticated() {
    let app = TestApp::spawn().await;
    for auth in [
        None,
        Some("Bearer"),
        Some("Bearer "),
        Some("Bearer nonsense"),
        Some("Basic dXNlcjpwYXNz"),
        Some("wsd_abc"),
    ] {
        let mut b = Request::builder().uri("/v1/workspaces");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        let r = app.raw(b.body(Body::empty()).unwrap()).await;
        r.assert_problem(401, "unauthenticated");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    // Authentication comes before body parsing.
    let r = app
        .raw(raw_post("/v1/workspaces", "nope", "application/json", "{"))
        .await;
    r.assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn problems_carry_status_title_detail_and_request_id() {
    let app = TestApp::spawn().await;
    let r = app.call("GET", "/v1/workspaces", None, None).await;
    for key in ["status", "code", "title", "detail", "request_id"] {
        assert!(r.body.get(key).is_some(), "{key} missing from {}", r.text);
    }
    assert_eq!(r.body["status"], 401);
}

/// Every list hands out cursors that only it takes back: a cursor of
/// another list, or of another sort order of the same list, is 400
/// `invalid_parameter` on `cursor` (docs/errors.md), never a page of
/// something else.
#[tokio::test]
async fn a_cursor_is_taken_only_by_the_list_and_sort_order_that_made_it() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let guest = app.signup("Guest").await;
    let ws = app.workspace(&ada, "Alpha").await;
    app.workspace(&ada, "Beta").await;
    let w = ws["id"].as_str().unwrap().to_owned();
    app.member_of(&ws, Role::Member).await;
    let org = app
        .post("/v1/organizations", &ada.token, json!({"name": "Org one"}))
        .await;
    org.assert(201);
    app.post("/v1/organizations", &ada.token, json!({"name": "Org two"}))
        .await
        .assert(201);
    let o = org.body["id"].as_str().unwrap().to_owned();
    let bob = app.signup("Bob").await;
    app.post(
        &format!("/v1/organizations/{o}/members"),
        &ada.token,
        json!({"user_id": bob.id, "role": "member"}),
    )
    .await
    .assert(201);
    let other = app.workspace(&ada, "Gamma").await;
    for n in ["one", "two"] {
        let made = [
            app.post(
                &format!("/v1/workspaces/{w}/projects"),
                &ada.token,
                json!({ "name": n }),
            )
            .await,
            app.post(
                &format!("/v1/workspaces/{w}/codebases"),
                &ada.token,
                json!({"name": n, "source_type": "local", "path": format!("/src/{n}")}),
            )
            .await,
            app.post(
                &format!("/v1/workspaces/{w}/bridges"),
                &ada.token,
                json!({"kind": "webhook", "name": n}),
            )
            .await,
            app.post("/v1/me/tokens", &ada.token, json!({ "name": n }))
                .await,
        ];
        for r in made {
            r.assert(201);
        }
    }
    for (target, who) in [(&ws, &guest), (&ws, &bob), (&other, &guest)] {
        app.post(
            &format!(
                "/v1/workspaces/{}/invitations",
                target["id"].as_str().unwrap()
            ),
            &ada.token,
            json!({"email": who.email}),
        )
        .await
        .assert(201);
    }

    // (list, who reads it, what its cursor points into); every list has a
    // second page at limit=1. The two invitation lists walk the same rows
    // in the same order, so their cursors are one kind.
    let lists = [
        (
            "/v1/workspaces?limit=1".to_owned(),
            &ada.token,
            "ws by date",
        ),
        (
            "/v1/workspaces?limit=1&sort=name".to_owned(),
            &ada.token,
            "ws by name",
        ),
        (
            format!("/v1/workspaces/{w}/members?limit=1"),
            &ada.token,
            "member",
        ),
        (
            format!("/v1/workspaces/{w}/projects?limit=1"),
            &ada.token,
            "project by date",
        ),
        (
            format!("/v1/workspaces/{w}/projects?limit=1&sort=name"),
            &ada.token,
            "project by name",
        ),
        (
            format!("/v1/workspaces/{w}/codebases?limit=1"),
            &ada.token,
            "codebase",
        ),
        (
            format!("/v1/workspaces/{w}/bridges?limit=1"),
            &ada.token,
            "bridge",
        ),
        (
            format!("/v1/workspaces/{w}/invitations?limit=1"),
            &ada.token,
            "invitation",
        ),
        (
            "/v1/me/invitations?limit=1".to_owned(),
            &guest.token,
            "invitation",
        ),
        (
            "/v1/organizations?limit=1".to_owned(),
            &ada.token,
            "organization",
        ),
        (
            format!("/v1/organizations/{o}/members?limit=1"),
            &ada.token,
            "org member",
        ),
        ("/v1/me/tokens?limit=1".to_owned(), &ada.token, "token"),
    ];
    let mut cursors = Vec::new();
    for (list, token, _) in &lists {
        let r = app.get(list, token).await;
        r.assert(200);
        let cursor = r.body["meta"]["next_cursor"].as_str();
        cursors.push(
            cursor
                .unwrap_or_else(|| panic!("{list}: no second page"))
                .to_owned(),
        );
    }
    for (list, token, kind) in &lists {
        for (cursor, (from, _, cursor_kind)) in cursors.iter().zip(&lists) {
            let r = app.get(&format!("{list}&cursor={cursor}"), token).await;
            if kind == cursor_kind {
                r.assert(200);
            } else {
                r.assert_problem(400, "invalid_parameter");
                assert_eq!(
                    r.fields(),
                    vec!["cursor"],
                    "{list} with the cursor of {from}"
                );
            }
        }
    }
}
