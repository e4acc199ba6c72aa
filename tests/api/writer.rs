//! The write path under load: on SQLite, the WAL stays bounded while writes
//! keep coming.

use crate::helpers::{backend, TestApp};

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
