//! `workspaced admin seed-bench`: the bulk seeder writes what the API would
//! have written, on both databases.

use serde_json::json;
use workspaced::store::seed::SeedSpec;

use crate::helpers::*;

#[tokio::test]
async fn seeded_data_reads_back_through_the_api() {
    let app = TestApp::spawn().await;
    let spec = SeedSpec {
        users: 50,
        workspaces: 300,
        memberships: 2000,
        bench_user_workspaces: 45,
        rng_seed: 7,
    };
    let hash = workspaced::auth::hash_password("bench-password-123".into())
        .await
        .unwrap();
    // seed_bench checks member counts, owners and created_at copies itself.
    let notes = std::sync::Mutex::new(Vec::new());
    let report = app
        .store
        .seed_bench(&spec, &hash, &|line| {
            notes.lock().unwrap().push(line.to_owned())
        })
        .await
        .unwrap();
    assert_eq!(report.memberships_written, 2000);
    if backend() == "sqlite" {
        // The load's WAL is copied home and emptied at the end.
        let wal = app.state.config.data_dir.join("workspaced.db-wal");
        assert_eq!(std::fs::metadata(wal).unwrap().len(), 0, "{notes:?}");
    }
    assert_eq!(report.bench_workspaces.len(), 45);
    assert_eq!(report.spare_users.len(), 4);

    // The shared hash logs the bench user in.
    let r = app
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"email": report.bench_email, "password": "bench-password-123"})),
        )
        .await;
    r.assert(200);
    let token = r.body["token"].as_str().unwrap().to_owned();

    // The list holds exactly the bench workspaces, newest first, as admin.
    let r = app.get("/v1/workspaces?limit=100", &token).await;
    r.assert(200);
    let listed: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = report
        .bench_workspaces
        .iter()
        .map(|(id, _)| id.to_string())
        .collect();
    assert_eq!(listed, expected);
    assert!(r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|w| w["role"] == "admin" && w["member_count"].as_i64().unwrap() >= 2));

    // The computed deep cursor opens the last full page.
    let (before, cursor) = report.deep_cursor().unwrap();
    assert_eq!(before, 25);
    let r = app
        .get(&format!("/v1/workspaces?limit=20&cursor={cursor}"), &token)
        .await;
    r.assert(200);
    let page: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        page,
        expected[25..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
}
