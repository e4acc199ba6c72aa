//! Idempotency-Key: replay, reuse, in-use, scope.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_repeated_create_is_replayed_not_repeated() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let key = [("idempotency-key", "create-42")];
    let body = json!({"name": "Once Only"});
    let first = app
        .call_with(
            "POST",
            "/v1/workspaces",
            Some(&ada.token),
            Some(body.clone()),
            &key,
        )
        .await;
    first.assert(201);
    assert!(first.header("idempotent-replayed").is_none());
    let again = app
        .call_with("POST", "/v1/workspaces", Some(&ada.token), Some(body), &key)
        .await;
    again.assert(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(again.header("location"), first.header("location"));
    let list = app
        .get("/v1/workspaces?include_total=true", &ada.token)
        .await;
    assert_eq!(
        list.body["meta"]["total"], 1,
        "the workspace was created once"
    );
}

#[tokio::test]
async fn the_same_key_on_another_request_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let key = [("idempotency-key", "k1")];
    app.call_with(
        "POST",
        "/v1/workspaces",
        Some(&ada.token),
        Some(json!({"name": "First"})),
        &key,
    )
    .await
    .assert(201);
    let other = app
        .call_with(
            "POST",
            "/v1/workspaces",
            Some(&ada.token),
            Some(json!({"name": "Second"})),
            &key,
        )
        .await;
    other.assert_problem(422, "idempotency_key_reused");
    let other_path = app
        .call_with(
            "PATCH",
            "/v1/me",
            Some(&ada.token),
            Some(json!({"name": "First"})),
            &key,
        )
        .await;
    other_path.assert_problem(422, "idempotency_key_reused");
}

#[tokio::test]
async fn errors_the_client_caused_are_kept_too() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let key = [("idempotency-key", "bad-one")];
    let first = app
        .call_with(
            "POST",
            "/v1/workspaces",
            Some(&ada.token),
            Some(json!({"name": "x"})),
            &key,
        )
        .await;
    first.assert_problem(400, "validation_failed");
    let again = app
        .call_with(
            "POST",
            "/v1/workspaces",
            Some(&ada.token),
            Some(json!({"name": "x"})),
            &key,
        )
        .await;
    again.assert_problem(400, "validation_failed");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let bob = app.signup("Bob").await;
    let key = [("idempotency-key", "shared-key")];
    let a = app
        .call_with(
            "POST",
            "/v1/workspaces",
            Some(&ada.token),
            Some(json!({"name": "Mine"})),
            &key,
        )
        .await;
    let b = app
        .call_with(
            "POST",
            "/v1/workspaces",
            Some(&bob.token),
            Some(json!({"name": "Mine"})),
            &key,
        )
        .await;
    a.assert(201);
    b.assert(201);
    assert!(b.header("idempotent-replayed").is_none());
    assert_ne!(a.body["id"], b.body["id"]);
}

#[tokio::test]
async fn racing_repeats_create_once() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let calls = (0..10).map(|_| {
        let (app, token) = (&app, ada.token.clone());
        async move {
            app.call_with(
                "POST",
                "/v1/workspaces",
                Some(&token),
                Some(json!({"name": "Raced"})),
                &[("idempotency-key", "race")],
            )
            .await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    for r in &results {
        assert!(
            r.status == 201 || (r.status == 409 && r.code() == "idempotency_key_in_use"),
            "{} {}",
            r.status,
            r.text
        );
    }
    let ids: std::collections::HashSet<_> = results
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.body["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "every 201 is the same workspace");
    let list = app
        .get("/v1/workspaces?include_total=true", &ada.token)
        .await;
    assert_eq!(list.body["meta"]["total"], 1);
}

#[tokio::test]
async fn unauthenticated_and_rate_limited_answers_are_not_kept() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limits.workspace_create = workspaced::config::RateSpec::parse("1/1h").unwrap()
    })
    .await;
    let ada = app.signup("Ada").await;
    let key = [("idempotency-key", "retry-me")];
    app.post(
        "/v1/workspaces",
        &ada.token,
        json!({"name": "Uses The Quota"}),
    )
    .await
    .assert(201);
    let limited = app
        .call_with(
            "POST",
            "/v1/workspaces",
            Some(&ada.token),
            Some(json!({"name": "Later"})),
            &key,
        )
        .await;
    limited.assert_problem(429, "rate_limited");
    // A different body with the same key is fine: the 429 was not kept.
    let again = app
        .call_with(
            "POST",
            "/v1/workspaces",
            Some(&ada.token),
            Some(json!({"name": "Other"})),
            &key,
        )
        .await;
    again.assert_problem(429, "rate_limited");
    assert!(again.header("idempotent-replayed").is_none());
}

#[tokio::test]
async fn malformed_keys_are_refused_and_reads_ignore_keys() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let long = "k".repeat(256);
    let r = app
        .call_with(
            "POST",
            "/v1/workspaces",
            Some(&ada.token),
            Some(json!({"name": "Keyed"})),
            &[("idempotency-key", &long)],
        )
        .await;
    r.assert_problem(400, "invalid_parameter");
    assert_eq!(r.fields(), vec!["Idempotency-Key"]);
    let get = app
        .call_with(
            "GET",
            "/v1/me",
            Some(&ada.token),
            None,
            &[("idempotency-key", "g")],
        )
        .await;
    get.assert(200);
    assert!(get.header("idempotent-replayed").is_none());
}

#[tokio::test]
async fn a_replay_authenticates_first_and_a_kept_secret_is_sealed() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    // A second token of Ada's: the one that will make and replay the request.
    let session = app
        .post("/v1/me/tokens", &ada.token, json!({"name": "cli"}))
        .await;
    session.assert(201);
    let cli = session.body["token"].as_str().unwrap().to_owned();
    let key = [("idempotency-key", "new-token-1")];
    let call = || {
        app.call_with(
            "POST",
            "/v1/me/tokens",
            Some(&cli),
            Some(json!({"name": "deploy"})),
            &key,
        )
    };
    let first = call().await;
    first.assert(201);
    let secret = first.body["token"].as_str().unwrap().to_owned();
    let again = call().await;
    again.assert(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["token"], secret.as_str());

    // The kept answer holds the new token's secret: it rests sealed.
    let kept = app
        .store
        .claim_idempotency_key(
            &workspaced::auth::token_hash(&cli),
            "new-token-1",
            "another request",
            workspaced::domain::time::now_ms(),
            workspaced::domain::time::DAY,
        )
        .await
        .unwrap();
    let workspaced::store::idempotency::Claim::Done { body, .. } = kept else {
        panic!("the first answer was kept");
    };
    assert!(!body.is_empty());
    let needle = secret.as_bytes();
    assert!(!body.windows(needle.len()).any(|w| w == needle));
    assert!(!String::from_utf8_lossy(&body).contains("\"token\""));

    // Once the calling token is revoked, the replay is a 401 like any call.
    let id = session.body["id"].as_str().unwrap();
    app.delete(&format!("/v1/me/tokens/{id}"), &ada.token)
        .await
        .assert(204);
    let revoked = call().await;
    revoked.assert_problem(401, "unauthenticated");
    assert!(revoked.header("idempotent-replayed").is_none());
}

#[tokio::test]
async fn an_answer_kept_before_sealing_still_replays() {
    use sha2::{Digest, Sha256};
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let body = json!({"name": "Legacy"});
    let bytes = serde_json::to_vec(&body).unwrap();
    let mut h = Sha256::new();
    h.update(b"POST\n/v1/workspaces\n");
    h.update(&bytes);
    let hash = hex::encode(h.finalize());
    let caller = workspaced::auth::token_hash(&ada.token);
    // Keeps `kept` as the answer to `key`, as an earlier version wrote it.
    let keep = |key: &'static str, kept: Vec<u8>| {
        let (app, caller, hash) = (&app, &caller, &hash);
        async move {
            let now = workspaced::domain::time::now_ms();
            let day = workspaced::domain::time::DAY;
            app.store
                .claim_idempotency_key(caller, key, hash, now, day)
                .await
                .unwrap();
            let headers = r#"{"content-type":"application/json"}"#;
            app.store
                .finish_idempotent(caller, key, 201, headers, &kept)
                .await
                .unwrap();
        }
    };
    // The same request again under `key`: replayed, with the kept id.
    let replays = |key: &'static str, id: &'static str| {
        let (app, token, body) = (&app, &ada.token, body.clone());
        async move {
            let idempotency = [("idempotency-key", key)];
            let r = app
                .call_with(
                    "POST",
                    "/v1/workspaces",
                    Some(token),
                    Some(body),
                    &idempotency,
                )
                .await;
            r.assert(201);
            assert_eq!(r.header("idempotent-replayed"), Some("true"));
            assert_eq!(r.body["id"], id);
        }
    };

    // A row as the previous version kept it: the body in clear.
    keep("old-key", br#"{"id":"ws_kept_in_clear"}"#.to_vec()).await;
    replays("old-key", "ws_kept_in_clear").await;

    // A row sealed without the mark (the one build that sealed before the
    // mark was added) is opened, not replayed as ciphertext.
    let aad = [caller.as_bytes(), b"\n", b"unmarked-key"].concat();
    let sealed = app
        .state
        .cipher
        .seal(&aad, br#"{"id":"ws_sealed_unmarked"}"#);
    keep("unmarked-key", sealed).await;
    replays("unmarked-key", "ws_sealed_unmarked").await;
}
