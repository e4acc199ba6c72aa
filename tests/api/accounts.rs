use serde_json::json;

use crate::helpers::*;
use workspaced::domain::account::TokenKind;

#[tokio::test]
async fn signup_returns_the_user_and_a_working_token() {
    let app = TestApp::spawn().await;
    let r = app
        .call("POST", "/v1/auth/signup", None, Some(json!({"email": "Ada@Example.com", "password": "correct horse battery", "name": " Ada "})))
        .await;
    r.assert(201);
    assert!(r.body["user"]["id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(r.body["user"]["name"], "Ada");
    assert!(r.body["user"].get("password_hash").is_none());
    let token = r.body["token"].as_str().unwrap();
    let me = app.get("/v1/me", token).await;
    me.assert(200);
    assert_eq!(me.body["email"], "Ada@Example.com");
    assert_eq!(me.header("etag"), Some("\"1\""));
}

#[tokio::test]
async fn emails_are_unique_whatever_their_case() {
    let app = TestApp::spawn().await;
    let body = |email: &str| {
        Some(json!({"email": email, "password": "correct horse battery", "name": "Ada"}))
    };
    app.call("POST", "/v1/auth/signup", None, body("ada@example.com"))
        .await
        .assert(201);
    let r = app
        .call("POST", "/v1/auth/signup", None, body("ADA@example.COM"))
        .await;
    r.assert_problem(409, "conflict");
    assert_eq!(r.fields(), vec!["email"]);
}

#[tokio::test]
async fn signup_lists_every_invalid_field_at_once() {
    let app = TestApp::spawn().await;
    let r = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(json!({"email": "nope", "password": "short", "name": ""})),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(fields, vec!["email", "name", "password"]);
}

#[tokio::test]
async fn signup_can_be_turned_off() {
    let app = TestApp::spawn_with(|c| c.signup_enabled = false).await;
    let r = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(
                json!({"email": "a@example.com", "password": "correct horse battery", "name": "A"}),
            ),
        )
        .await;
    r.assert_problem(403, "forbidden");
}

#[tokio::test]
async fn login_takes_the_right_password_only() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ok = app
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"email": ada.email.to_uppercase(), "password": "correct horse battery"})),
        )
        .await;
    ok.assert(200);
    assert_eq!(ok.body["user"]["id"], ada.id.as_str());
    app.get("/v1/me", ok.body["token"].as_str().unwrap())
        .await
        .assert(200);
    let bad = app
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"email": ada.email, "password": "wrong horse battery"})),
        )
        .await;
    bad.assert_problem(401, "unauthenticated");
    let unknown = app
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"email": "nobody@example.com", "password": "whatever12345"})),
        )
        .await;
    unknown.assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn logout_revokes_the_presented_token_only() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let second = app
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"email": ada.email, "password": "correct horse battery"})),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.call("POST", "/v1/auth/logout", Some(&ada.token), None)
        .await
        .assert(204);
    app.get("/v1/me", &ada.token)
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/v1/me", &second).await.assert(200);
}

#[tokio::test]
async fn renaming_yourself_bumps_the_version_and_honours_if_match() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let r = app
        .patch("/v1/me", &ada.token, json!({"name": "Ada Lovelace"}))
        .await;
    r.assert(200);
    assert_eq!(r.body["name"], "Ada Lovelace");
    assert_eq!(r.body["version"], 2);
    let stale = app
        .call_with(
            "PATCH",
            "/v1/me",
            Some(&ada.token),
            Some(json!({"name": "Countess"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    stale.assert_problem(412, "version_mismatch");
    // A weak or malformed tag never matches (SPEC §1: strong comparison).
    for tag in ["W/\"2\"", "2", "abc"] {
        app.call_with(
            "PATCH",
            "/v1/me",
            Some(&ada.token),
            Some(json!({"name": "Countess"})),
            &[("if-match", tag)],
        )
        .await
        .assert_problem(412, "version_mismatch");
    }
    assert_eq!(
        app.get("/v1/me", &ada.token).await.body["name"],
        "Ada Lovelace"
    );
    let fresh = app
        .call_with(
            "PATCH",
            "/v1/me",
            Some(&ada.token),
            Some(json!({"name": "Countess"})),
            &[("if-match", "\"2\"")],
        )
        .await;
    fresh.assert(200);
    // No change asked: the profile as it is, still under If-Match.
    app.call_with(
        "PATCH",
        "/v1/me",
        Some(&ada.token),
        Some(json!({})),
        &[("if-match", "\"2\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    let same = app
        .call_with(
            "PATCH",
            "/v1/me",
            Some(&ada.token),
            Some(json!({})),
            &[("if-match", "\"3\"")],
        )
        .await;
    same.assert(200);
    assert_eq!(same.body["name"], "Countess");
    assert_eq!(same.header("etag"), Some("\"3\""));
    app.patch("/v1/me", &ada.token, json!({"name": ""}))
        .await
        .assert_problem(400, "validation_failed");
    app.patch("/v1/me", &ada.token, json!({"email": "x@y.com"}))
        .await
        .assert_problem(400, "unknown_field");
}

#[tokio::test]
async fn personal_access_tokens_are_shown_once_and_revocable() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let created = app
        .post("/v1/me/tokens", &ada.token, json!({"name": "ci"}))
        .await;
    created.assert(201);
    assert!(created.body["id"].as_str().unwrap().starts_with("tok_"));
    assert!(created.body["expires_at"].is_null());
    assert!(created.body["last_used_at"].is_null());
    let pat = created.body["token"].as_str().unwrap().to_owned();
    app.get("/v1/me", &pat).await.assert(200);

    let expiring = app
        .post(
            "/v1/me/tokens",
            &ada.token,
            json!({"name": "short", "expires_in_days": 7}),
        )
        .await;
    expiring.assert(201);
    assert!(expiring.body["expires_at"].is_string());

    let list = app.get("/v1/me/tokens", &ada.token).await;
    list.assert(200);
    let data = list.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(
        data.iter().all(|t| t.get("token").is_none()),
        "secrets must never be listed"
    );

    let id = created.body["id"].as_str().unwrap();
    let bob = app.signup("Bob").await;
    app.delete(&format!("/v1/me/tokens/{id}"), &bob.token)
        .await
        .assert_problem(404, "not_found");
    app.delete(&format!("/v1/me/tokens/{id}"), &ada.token)
        .await
        .assert(204);
    app.get("/v1/me", &pat)
        .await
        .assert_problem(401, "unauthenticated");
    app.delete(&format!("/v1/me/tokens/{id}"), &ada.token)
        .await
        .assert_problem(404, "not_found");
}

/// On SQLite a token found in a read snapshot is kept with it for the
/// next request (`store/accounts.rs`); revoking it must still take effect
/// on the very next request, on workspace routes and the others alike.
#[tokio::test]
async fn a_token_used_a_moment_ago_is_refused_once_revoked() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Lab").await;
    let path = format!("/v1/workspaces/{}", ws["id"].as_str().unwrap());
    let created = app
        .post("/v1/me/tokens", &ada.token, json!({"name": "ci"}))
        .await;
    created.assert(201);
    let pat = created.body["token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        app.get(&path, &pat).await.assert(200);
        app.get("/v1/me", &pat).await.assert(200);
    }
    let id = created.body["id"].as_str().unwrap();
    app.delete(&format!("/v1/me/tokens/{id}"), &ada.token)
        .await
        .assert(204);
    app.get(&path, &pat)
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/v1/me", &pat)
        .await
        .assert_problem(401, "unauthenticated");
    // The same for the token that revokes itself, used right before.
    app.get(&path, &ada.token).await.assert(200);
    app.call("POST", "/v1/auth/logout", Some(&ada.token), None)
        .await
        .assert(204);
    app.get(&path, &ada.token)
        .await
        .assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn token_requests_are_validated() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    for days in [0, -1, 100_000] {
        let r = app
            .post(
                "/v1/me/tokens",
                &ada.token,
                json!({"name": "x", "expires_in_days": days}),
            )
            .await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.fields(), vec!["expires_in_days"]);
    }
    app.post(
        "/v1/me/tokens",
        &ada.token,
        json!({"name": "x", "expires_in_days": "soon"}),
    )
    .await
    .assert_problem(400, "validation_failed");
}

#[tokio::test]
async fn expired_tokens_do_not_authenticate() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let secret = workspaced::auth::new_token();
    app.store
        .create_token(workspaced::store::accounts::NewToken {
            kind: TokenKind::Session,
            user_id: Some(&ada.user_id()),
            name: "old",
            hash: &workspaced::auth::token_hash(&secret),
            scopes: &[],
            expires_at: Some(workspaced::domain::time::now_ms() - 1),
        })
        .await
        .unwrap();
    app.get("/v1/me", &secret)
        .await
        .assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn the_platform_admin_creates_scoped_service_tokens() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/v1/admin/tokens",
            ADMIN_TOKEN,
            json!({"name": "worker", "scopes": ["runs"]}),
        )
        .await;
    r.assert(201);
    assert_eq!(r.body["scopes"], json!(["runs"]));
    assert!(r.body["token"].as_str().unwrap().len() > 40);
    let bad = app
        .post(
            "/v1/admin/tokens",
            ADMIN_TOKEN,
            json!({"name": "worker", "scopes": ["root"]}),
        )
        .await;
    bad.assert_problem(400, "validation_failed");
    assert_eq!(bad.fields(), vec!["scopes"]);
    let ada = app.signup("Ada").await;
    app.post(
        "/v1/admin/tokens",
        &ada.token,
        json!({"name": "w", "scopes": ["runs"]}),
    )
    .await
    .assert_problem(403, "forbidden");
    // A service token is not a user.
    let service = r.body["token"].as_str().unwrap();
    app.get("/v1/me", service)
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn admin_tokens_from_the_cli_path_work_like_the_configured_one() {
    let app = TestApp::spawn_with(|c| c.admin_token = None).await;
    let secret = workspaced::auth::new_token();
    app.store
        .create_token(workspaced::store::accounts::NewToken {
            kind: TokenKind::Admin,
            user_id: None,
            name: "admin",
            hash: &workspaced::auth::token_hash(&secret),
            scopes: &[],
            expires_at: None,
        })
        .await
        .unwrap();
    app.post(
        "/v1/admin/tokens",
        &secret,
        json!({"name": "worker", "scopes": ["runs"]}),
    )
    .await
    .assert(201);
    // The configured token is off in this app.
    app.post(
        "/v1/admin/tokens",
        ADMIN_TOKEN,
        json!({"name": "worker", "scopes": ["runs"]}),
    )
    .await
    .assert_problem(401, "unauthenticated");
}

/// Creates `n` personal tokens for `actor`; their `(created_at, id)`.
async fn personal_tokens(app: &TestApp, actor: &Actor, n: usize) -> Vec<(String, String)> {
    let mut made = Vec::with_capacity(n);
    for i in 0..n {
        let r = app
            .post(
                "/v1/me/tokens",
                &actor.token,
                json!({"name": format!("t{i}")}),
            )
            .await;
        r.assert(201);
        made.push((
            r.body["created_at"].as_str().unwrap().to_owned(),
            r.body["id"].as_str().unwrap().to_owned(),
        ));
    }
    made
}

fn ids(r: &TestResponse) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn token_pages_walk_every_token_once_newest_first() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let bob = app.signup("Bob").await;
    let bobs = personal_tokens(&app, &bob, 3).await;
    let mut adas = personal_tokens(&app, &ada, 25).await;
    // Newest first: created_at desc, then id desc (timestamps sort as text).
    adas.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = adas.into_iter().map(|(_, id)| id).collect();

    let first = app.get("/v1/me/tokens", &ada.token).await;
    first.assert(200);
    assert_eq!(first.body["meta"]["limit"], 10);
    assert_eq!(first.body["meta"]["has_more"], true);
    assert!(first.body["meta"].get("total").is_none());
    assert_eq!(ids(&first), expected[..10]);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/v1/me/tokens?limit=7".to_owned(),
            Some(c) => format!("/v1/me/tokens?limit=7&cursor={c}"),
        };
        let r = app.get(&path, &ada.token).await;
        r.assert(200);
        pages += 1;
        assert_eq!(r.body["meta"]["limit"], 7);
        seen.extend(ids(&r));
        match r.body["meta"]["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(r.body["meta"]["has_more"], true);
                cursor = Some(c.to_owned());
            }
            None => {
                assert_eq!(r.body["meta"]["has_more"], false);
                assert!(r.body["meta"]["next_cursor"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, 4, "7 + 7 + 7 + 4");
    assert_eq!(seen, expected, "each token exactly once, newest first");
    for (_, bob_token) in &bobs {
        assert!(!seen.contains(bob_token), "another user's token was listed");
    }

    // A list that fits one page says so.
    let all = app.get("/v1/me/tokens?limit=100", &ada.token).await;
    all.assert(200);
    assert_eq!(ids(&all), expected);
    assert_eq!(all.body["meta"]["has_more"], false);
    assert!(all.body["meta"]["next_cursor"].is_null());
}

#[tokio::test]
async fn token_pages_take_offset_and_include_total() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let bob = app.signup("Bob").await;
    personal_tokens(&app, &bob, 2).await;
    personal_tokens(&app, &ada, 12).await;
    let all = ids(&app.get("/v1/me/tokens?limit=100", &ada.token).await);
    assert_eq!(all.len(), 12);

    let r = app.get("/v1/me/tokens?offset=4&limit=5", &ada.token).await;
    r.assert(200);
    assert_eq!(ids(&r), all[4..9]);
    assert_eq!(r.body["meta"]["has_more"], true);
    let end = app.get("/v1/me/tokens?offset=10", &ada.token).await;
    assert_eq!(ids(&end), all[10..]);
    assert_eq!(end.body["meta"]["has_more"], false);
    let past = app.get("/v1/me/tokens?offset=50", &ada.token).await;
    past.assert(200);
    assert!(ids(&past).is_empty());

    // `total` counts personal tokens only: not session tokens, not Bob's.
    let r = app
        .get("/v1/me/tokens?include_total=true&limit=3", &ada.token)
        .await;
    r.assert(200);
    assert_eq!(r.body["meta"]["total"], 12);
    let cursor = r.body["meta"]["next_cursor"].as_str().unwrap();
    let next = app
        .get(
            &format!("/v1/me/tokens?include_total=true&limit=3&cursor={cursor}"),
            &ada.token,
        )
        .await;
    assert_eq!(next.body["meta"]["total"], 12);
    assert_eq!(ids(&next), all[3..6]);
    let bobs = app
        .get("/v1/me/tokens?include_total=true", &bob.token)
        .await;
    assert_eq!(bobs.body["meta"]["total"], 2);
    assert_eq!(ids(&bobs).len(), 2);

    // Ada's cursor in Bob's hands still lists only Bob's tokens.
    let r = app
        .get(&format!("/v1/me/tokens?cursor={cursor}"), &bob.token)
        .await;
    r.assert(200);
    assert!(ids(&r).iter().all(|id| !all.contains(id)));
}

#[tokio::test]
async fn token_page_parameters_are_checked() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    personal_tokens(&app, &ada, 2).await;
    let cursor = app.get("/v1/me/tokens?limit=1", &ada.token).await.body["meta"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get(&format!("/v1/me/tokens?cursor={cursor}"), &ada.token)
        .await
        .assert(200);

    // Cursors of other lists, by date and by name.
    app.workspace(&ada, "Alpha").await;
    app.workspace(&ada, "Beta").await;
    let by_date = app.get("/v1/workspaces?limit=1", &ada.token).await.body["meta"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_name = app
        .get("/v1/workspaces?limit=1&sort=name", &ada.token)
        .await
        .body["meta"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();

    let both = format!("cursor={cursor}&offset=0");
    let by_date = format!("cursor={by_date}");
    let by_name = format!("cursor={by_name}");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        (both.as_str(), "cursor"),
        ("cursor=!!!", "cursor"),
        ("cursor=aGVsbG8", "cursor"),
        (by_date.as_str(), "cursor"),
        (by_name.as_str(), "cursor"),
        ("include_total=yes", "include_total"),
    ] {
        let r = app.get(&format!("/v1/me/tokens?{query}"), &ada.token).await;
        r.assert_problem(400, "invalid_parameter");
        assert_eq!(r.fields(), vec![field], "{query}");
    }
}

#[tokio::test]
async fn the_token_list_documents_its_page_parameters() {
    let app = TestApp::spawn().await;
    let r = app.call("GET", "/openapi.json", None, None).await;
    r.assert(200);
    let params = r.body["paths"]["/v1/me/tokens"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let mut names: Vec<_> = params
        .iter()
        .map(|p| {
            assert_eq!(p["in"], "query");
            p["name"].as_str().unwrap()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["cursor", "include_total", "limit", "offset"]);
}
