//! The write path under load: concurrent writes keep their own outcomes
//! (on SQLite they share group commits), cancelled requests hold nobody up,
//! and on SQLite the WAL stays bounded while writes keep coming.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde_json::json;

use crate::helpers::{backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_keep_their_own_outcomes() {
    let app = Arc::new(TestApp::spawn().await);
    let ada = app.signup("Ada").await;
    // 20 slugs, each asked for twice, all at once: on SQLite the creates
    // share commits, and a batch holds winners and losers.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (app, token) = (app.clone(), ada.token.clone());
            let slug = format!("pair-{}", i % 20);
            tokio::spawn(async move {
                let r = app
                    .post(
                        "/v1/workspaces",
                        &token,
                        json!({"name": format!("Pair {i}"), "slug": slug}),
                    )
                    .await;
                (slug, r)
            })
        })
        .collect();
    let mut winners: HashMap<String, Vec<String>> = HashMap::new();
    for t in tasks {
        let (slug, r) = t.await.unwrap();
        match r.status.as_u16() {
            201 => winners
                .entry(slug)
                .or_default()
                .push(r.body["id"].as_str().unwrap().to_owned()),
            _ => {
                r.assert_problem(409, "slug_taken");
            }
        }
    }
    assert_eq!(winners.len(), 20, "{winners:?}");
    for (slug, ids) in &winners {
        assert_eq!(ids.len(), 1, "{slug}: {ids:?}");
        let r = app.get(&format!("/v1/workspaces/{slug}"), &ada.token).await;
        r.assert(200);
        assert_eq!(r.body["id"], ids[0].as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_creates_neither_block_nor_undo_the_others() {
    let app = Arc::new(TestApp::spawn().await);
    let ada = app.signup("Ada").await;
    let mut rng = rand::thread_rng();
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let (app, token) = (app.clone(), ada.token.clone());
            // Every third request is dropped at some point of its way:
            // queueing for the writer, inside its transaction, or awaiting
            // its batch's commit.
            let patience = (i % 3 == 0).then(|| Duration::from_micros(rng.gen_range(0..3_000)));
            tokio::spawn(async move {
                let call = app.post(
                    "/v1/workspaces",
                    &token,
                    json!({"name": format!("Impatient {i}")}),
                );
                match patience {
                    Some(d) => tokio::time::timeout(d, call).await.ok(),
                    None => Some(call.await),
                }
            })
        })
        .collect();
    let mut created = Vec::new();
    for t in tasks {
        let r = tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("a create hung")
            .unwrap();
        if let Some(r) = r {
            r.assert(201);
            created.push(r.body["id"].as_str().unwrap().to_owned());
        }
    }
    assert!(created.len() >= 40, "{} created", created.len());
    for id in &created {
        app.get(&format!("/v1/workspaces/{id}"), &ada.token)
            .await
            .assert(200);
    }
    // And the writer is free.
    tokio::time::timeout(
        Duration::from_secs(10),
        app.post("/v1/workspaces", &ada.token, json!({"name": "After"})),
    )
    .await
    .expect("the writer is stuck")
    .assert(201);
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_stays_bounded_under_sustained_writes() {
    if backend() != "sqlite" {
        return;
    }
    let app = TestApp::spawn().await;
    let db = app.state.config.data_dir.join("workspaced.db");
    let wal = app.state.config.data_dir.join("workspaced.db-wal");
    app.store
        .execute_sql(
            "CREATE TABLE wal_load (id INTEGER PRIMARY KEY, pad BLOB NOT NULL)",
            vec![],
        )
        .await
        .unwrap();
    // Each write is a few pages (a 12 kB blob spills into overflow pages), so
    // ~150 MiB of WAL frames go by, without a pause for the checkpointer.
    let mut largest = 0;
    for i in 0..10_000 {
        app.store
            .execute_sql(
                "INSERT INTO wal_load (pad) VALUES (randomblob(12000))",
                vec![],
            )
            .await
            .unwrap();
        if i % 50 == 0 {
            largest = largest.max(file_size(&wal));
        }
    }
    largest = largest.max(file_size(&wal));
    const MIB: u64 = 1 << 20;
    // The WAL is restarted at 16 MiB and cut back to 32 MiB when it starts
    // over; 64 MiB leaves the checkpointer room to lag behind the writer.
    assert!(largest < 64 * MIB, "the WAL grew to {} MiB", largest / MIB);
    // The rows did get through (and out of the WAL, into the database).
    let rows = app
        .store
        .execute_sql("UPDATE wal_load SET id = id WHERE id = 1", vec![])
        .await
        .unwrap();
    assert_eq!(rows, 1);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert!(
        file_size(&db) > 100 * MIB,
        "database is {} MiB",
        file_size(&db) / MIB
    );
}
