//! Every class of malformed request gets a 4xx problem naming the field.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use crate::helpers::*;

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
