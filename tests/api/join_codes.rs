//! Join codes (SPEC §5): formatted, case- and hyphen-insensitive, rotate,
//! disable, expiry, max uses under concurrency, rate limit on guesses.

use futures_util::future::join_all;
use serde_json::{json, Value};
use workspaced::domain::roles::Role;

use crate::helpers::*;

fn code_path(ws: &Value) -> String {
    format!("/v1/workspaces/{}/join-code", ws["id"].as_str().unwrap())
}

#[tokio::test]
async fn join_by_code_in_any_case_and_without_hyphens() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Codes").await;
    app.get(&code_path(&ws), &owner.token)
        .await
        .assert_problem(404, "not_found");
    let r = app
        .post(&code_path(&ws), &owner.token, json!({"role": "viewer"}))
        .await;
    r.assert(201);
    let code = r.body["code"].as_str().unwrap().to_owned();
    // SPEC §5: 12 characters of the unambiguous alphabet, as they are.
    assert_eq!(code.len(), 12);
    assert!(code
        .chars()
        .all(|c| "ABCDEFGHJKLMNPQRSTUVWXYZ23456789".contains(c)));
    assert_eq!(r.body["role"], "viewer");
    assert_eq!(r.body["uses"], 0);
    assert_eq!(
        app.get(&code_path(&ws), &owner.token).await.body["code"],
        code.as_str()
    );

    let joiner = app.signup("Joiner").await;
    // Typed in lower case, grouped by hyphens and a space: still the code.
    let typed = format!("{}-{} {}", &code[..4], &code[4..8], &code[8..]).to_lowercase();
    let r = app
        .post("/v1/join", &joiner.token, json!({"code": typed}))
        .await;
    r.assert(201);
    assert_eq!(r.body["workspace"]["id"], ws["id"]);
    assert_eq!(r.body["workspace"]["role"], "viewer");
    assert_eq!(r.body["workspace"]["member_count"], 2);
    assert_eq!(r.body["membership"]["role"], "viewer");
    assert_eq!(r.header("ratelimit-limit"), Some("5"));
    assert_eq!(r.header("ratelimit-remaining"), Some("4"));
    // Again: 200 with the existing membership, no extra use.
    let r = app
        .post("/v1/join", &joiner.token, json!({"code": code}))
        .await;
    r.assert(200);
    assert_eq!(r.body["membership"]["user"]["id"], joiner.id.as_str());
    assert_eq!(app.get(&code_path(&ws), &owner.token).await.body["uses"], 1);

    // Rotation kills the old code; deletion the new one.
    let r = app.post(&code_path(&ws), &owner.token, json!({})).await;
    r.assert(201);
    assert_ne!(r.body["code"], code.as_str());
    assert_eq!(r.body["role"], "member");
    let late = app.signup("Late").await;
    app.post("/v1/join", &late.token, json!({"code": code}))
        .await
        .assert_problem(404, "not_found");
    app.delete(&code_path(&ws), &owner.token).await.assert(204);
    app.post("/v1/join", &late.token, json!({"code": r.body["code"]}))
        .await
        .assert_problem(404, "not_found");
    app.delete(&code_path(&ws), &owner.token)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn join_code_input_and_permissions() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Checks").await;
    for (body, field) in [
        (json!({"role": "admin"}), "role"),
        (json!({"role": "owner"}), "role"),
        (json!({"role": "wizard"}), "role"),
        (json!({"max_uses": 0}), "max_uses"),
        (json!({"expires_in_days": 0}), "expires_in_days"),
    ] {
        let r = app.post(&code_path(&ws), &owner.token, body).await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.fields(), vec![field]);
    }
    app.post(&code_path(&ws), &owner.token, json!({"uses": 5}))
        .await
        .assert_problem(400, "unknown_field");
    let member = app.member_of(&ws, Role::Member).await;
    app.get(&code_path(&ws), &member.token)
        .await
        .assert_problem(403, "forbidden");
    app.post(&code_path(&ws), &member.token, json!({}))
        .await
        .assert_problem(403, "forbidden");
    let stranger = app.signup("Stranger").await;
    app.get(&code_path(&ws), &stranger.token)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn expired_and_used_up_codes_are_gone() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Gone").await;
    let r = app
        .post(&code_path(&ws), &owner.token, json!({"max_uses": 1}))
        .await;
    let code = r.body["code"].as_str().unwrap().to_owned();
    let first = app.signup("First").await;
    app.post("/v1/join", &first.token, json!({"code": code}))
        .await
        .assert(201);
    let second = app.signup("Second").await;
    app.post("/v1/join", &second.token, json!({"code": code}))
        .await
        .assert_problem(410, "gone");

    let r = app
        .post(&code_path(&ws), &owner.token, json!({"expires_in_days": 1}))
        .await;
    let code = r.body["code"].as_str().unwrap().to_owned();
    app.store
        .execute_sql("UPDATE join_codes SET expires_at = 1", vec![])
        .await
        .unwrap();
    app.post("/v1/join", &second.token, json!({"code": code}))
        .await
        .assert_problem(410, "gone");
}

#[tokio::test]
async fn max_uses_holds_when_many_join_at_once() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Crowd").await;
    let r = app
        .post(&code_path(&ws), &owner.token, json!({"max_uses": 3}))
        .await;
    let code = r.body["code"].as_str().unwrap().to_owned();
    let mut people = Vec::new();
    for i in 0..8 {
        people.push(app.signup(&format!("P{i}")).await);
    }
    let results = join_all(
        people
            .iter()
            .map(|p| app.post("/v1/join", &p.token, json!({"code": code}))),
    )
    .await;
    assert_eq!(results.iter().filter(|r| r.status == 201).count(), 3);
    for r in results.iter().filter(|r| r.status != 201) {
        r.assert_problem(410, "gone");
    }
    let c = app.get(&code_path(&ws), &owner.token).await;
    assert_eq!(c.body["uses"], 3);
    let w = app
        .get(
            &format!("/v1/workspaces/{}", ws["id"].as_str().unwrap()),
            &owner.token,
        )
        .await;
    assert_eq!(w.body["member_count"], 4);
}

#[tokio::test]
async fn guessing_codes_is_rate_limited_per_user() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Owner").await;
    let ws = app.workspace(&owner, "Guarded").await;
    let r = app.post(&code_path(&ws), &owner.token, json!({})).await;
    let real = r.body["code"].as_str().unwrap().to_owned();
    let guesser = app.signup("Guesser").await;
    for (i, guess) in [
        "AAAA-AAAA-AAAA",
        "nonsense",
        "BBBB-BBBB-BBBB",
        "CCCCDDDDEEEE",
        "2345-6789-ABCD",
    ]
    .iter()
    .enumerate()
    {
        let r = app
            .post("/v1/join", &guesser.token, json!({"code": guess}))
            .await;
        r.assert_problem(404, "not_found");
        // Wrong guesses count, and the headers say so.
        let left = (4 - i).to_string();
        assert_eq!(r.header("ratelimit-remaining"), Some(left.as_str()));
    }
    // The sixth attempt is refused even with the right code.
    let r = app
        .post("/v1/join", &guesser.token, json!({"code": real}))
        .await;
    r.assert_problem(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    // Another user is not affected.
    let other = app.signup("Other").await;
    app.post("/v1/join", &other.token, json!({"code": real}))
        .await
        .assert(201);
}
