//! Workspace logos (SPEC §3): uploaded as image bytes, served publicly at a
//! content-addressed URL.

use axum::body::Body;
use axum::http::Request;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use workspaced::domain::roles::Role;

use crate::helpers::*;

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

fn logo_path(ws: &Value) -> String {
    format!("/v1/workspaces/{}/logo", ws["id"].as_str().unwrap())
}

async fn upload(
    app: &TestApp,
    ws: &Value,
    token: &str,
    bytes: Vec<u8>,
    extra: &[(&str, &str)],
) -> TestResponse {
    let mut b = Request::builder()
        .method("PUT")
        .uri(logo_path(ws))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream");
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    app.raw(b.body(Body::from(bytes)).unwrap()).await
}

async fn fetch(app: &TestApp, url: &str, headers: &[(&str, &str)]) -> (TestResponse, Vec<u8>) {
    let mut b = Request::builder().uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let r = app.raw(b.body(Body::empty()).unwrap()).await;
    let bytes = r.text.as_bytes().to_vec();
    (r, bytes)
}

#[tokio::test]
async fn an_uploaded_logo_is_served_publicly_with_caching_headers() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Brand").await;
    let r = upload(&app, &ws, &ada.token, PNG.to_vec(), &[]).await;
    r.assert(200);
    let key = hex::encode(Sha256::digest(PNG));
    let url = format!("/v1/logos/{key}");
    assert_eq!(r.body["logo_url"], url);
    assert_eq!(r.body["id"], ws["id"]);
    assert_eq!(r.body["role"], "owner");
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.header("etag"), Some("\"2\""));
    let (img, _) = fetch(&app, &url, &[]).await;
    img.assert(200);
    assert_eq!(img.header("content-type"), Some("image/png"));
    assert_eq!(
        img.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let etag = format!("\"{key}\"");
    assert_eq!(img.header("etag"), Some(etag.as_str()));
    let (again, _) = fetch(&app, &url, &[("if-none-match", &etag)]).await;
    again.assert(304);
    assert!(again.text.is_empty());
    let (other, _) = fetch(&app, &url, &[("if-none-match", "\"abc\"")]).await;
    other.assert(200);
    // The same bytes on another workspace: the same URL, stored once.
    let ws2 = app.workspace(&ada, "Brand Two").await;
    let r2 = upload(&app, &ws2, &ada.token, PNG.to_vec(), &[]).await;
    assert_eq!(r2.body["logo_url"], url);
    // The same bytes again change nothing.
    let r3 = upload(&app, &ws, &ada.token, PNG.to_vec(), &[]).await;
    assert_eq!(r3.body["version"], 2);
    // Removing one keeps the image for the other; removing both frees it.
    let d = app.delete(&logo_path(&ws), &ada.token).await;
    d.assert(200);
    assert_eq!(d.body["logo_url"], Value::Null);
    assert_eq!(d.body["version"], 3);
    fetch(&app, &url, &[]).await.0.assert(200);
    app.delete(&logo_path(&ws2), &ada.token).await.assert(200);
    fetch(&app, &url, &[])
        .await
        .0
        .assert_problem(404, "not_found");
    fetch(&app, &url, &[("if-none-match", &etag)])
        .await
        .0
        .assert(404);
    fetch(&app, "/v1/logos/not-a-key", &[])
        .await
        .0
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn logo_types_come_from_the_bytes() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Brand").await;
    for (bytes, ct) in [
        (b"\xff\xd8\xff\xe0\0\x10JFIF\0".to_vec(), "image/jpeg"),
        (b"GIF89a\x01\0\x01\0\0\0\0;".to_vec(), "image/gif"),
        (b"RIFF\x1a\0\0\0WEBPVP8L\x0d\0\0\0".to_vec(), "image/webp"),
    ] {
        // The declared content type does not matter.
        let r = upload(&app, &ws, &ada.token, bytes.clone(), &[]).await;
        r.assert(200);
        let (img, _) = fetch(&app, r.body["logo_url"].as_str().unwrap(), &[]).await;
        assert_eq!(img.header("content-type"), Some(ct));
    }
    upload(
        &app,
        &ws,
        &ada.token,
        b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        &[],
    )
    .await
    .assert_problem(415, "unsupported_media_type");
    upload(&app, &ws, &ada.token, Vec::new(), &[])
        .await
        .assert_problem(415, "unsupported_media_type");
    let mut big = PNG.to_vec();
    big.resize(1024 * 1024 + 1, 0);
    upload(&app, &ws, &ada.token, big, &[])
        .await
        .assert_problem(413, "payload_too_large");
    let mut exact = PNG.to_vec();
    exact.resize(1024 * 1024, 0);
    upload(&app, &ws, &ada.token, exact, &[]).await.assert(200);
}

#[tokio::test]
async fn only_admins_change_logos_and_archived_workspaces_refuse() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Brand").await;
    let member = app.member_of(&ws, Role::Member).await;
    let admin = app.member_of(&ws, Role::Admin).await;
    let stranger = app.signup("Eve").await;
    upload(&app, &ws, &member.token, PNG.to_vec(), &[])
        .await
        .assert_problem(403, "forbidden");
    upload(&app, &ws, &stranger.token, PNG.to_vec(), &[])
        .await
        .assert_problem(404, "not_found");
    app.delete(&logo_path(&ws), &member.token)
        .await
        .assert_problem(403, "forbidden");
    upload(
        &app,
        &ws,
        &admin.token,
        PNG.to_vec(),
        &[("if-match", "\"7\"")],
    )
    .await
    .assert_problem(412, "version_mismatch");
    let r = upload(
        &app,
        &ws,
        &admin.token,
        PNG.to_vec(),
        &[("if-match", "\"1\"")],
    )
    .await;
    r.assert(200);
    assert_eq!(r.body["role"], "admin");
    app.post(
        &format!("/v1/workspaces/{}/archive", ws["id"].as_str().unwrap()),
        &ada.token,
        json!({"archive": true}),
    )
    .await
    .assert(200);
    upload(&app, &ws, &admin.token, PNG.to_vec(), &[])
        .await
        .assert_problem(409, "workspace_archived");
    app.delete(&logo_path(&ws), &admin.token)
        .await
        .assert_problem(409, "workspace_archived");
}

#[tokio::test]
async fn purging_a_workspace_frees_its_logo() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada").await;
    let ws = app.workspace(&ada, "Gone").await;
    let r = upload(&app, &ws, &ada.token, PNG.to_vec(), &[]).await;
    let url = r.body["logo_url"].as_str().unwrap().to_owned();
    app.delete(
        &format!("/v1/workspaces/{}", ws["id"].as_str().unwrap()),
        &ada.token,
    )
    .await
    .assert(200);
    // Soft-deleted: still restorable, so the logo stays.
    fetch(&app, &url, &[]).await.0.assert(200);
    app.delete(
        &format!(
            "/v1/workspaces/{}?permanent=true",
            ws["id"].as_str().unwrap()
        ),
        &ada.token,
    )
    .await
    .assert(200);
    fetch(&app, &url, &[])
        .await
        .0
        .assert_problem(404, "not_found");
}
