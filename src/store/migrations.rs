//! Migrations: one tree per backend with the same numbered names
//! (`migrations/sqlite`, `migrations/postgres`); a test keeps them in step.

use rusqlite_migration::{Migrations, M};

/// The SQLite migrations, in order. Add a file to both trees and a line here.
pub const SQLITE: &[(&str, &str)] = &[
    (
        "0001_core.sql",
        include_str!("../../migrations/sqlite/0001_core.sql"),
    ),
    (
        "0002_members.sql",
        include_str!("../../migrations/sqlite/0002_members.sql"),
    ),
    (
        "0003_config.sql",
        include_str!("../../migrations/sqlite/0003_config.sql"),
    ),
    (
        "0004_idempotency.sql",
        include_str!("../../migrations/sqlite/0004_idempotency.sql"),
    ),
    (
        "0005_list_index.sql",
        include_str!("../../migrations/sqlite/0005_list_index.sql"),
    ),
    (
        "0006_clustered_keys.sql",
        include_str!("../../migrations/sqlite/0006_clustered_keys.sql"),
    ),
    (
        "0007_workspaces_clustered.sql",
        include_str!("../../migrations/sqlite/0007_workspaces_clustered.sql"),
    ),
    (
        "0008_memberships_by_user.sql",
        include_str!("../../migrations/sqlite/0008_memberships_by_user.sql"),
    ),
    (
        "0009_runs.sql",
        include_str!("../../migrations/sqlite/0009_runs.sql"),
    ),
    (
        "0010_events.sql",
        include_str!("../../migrations/sqlite/0010_events.sql"),
    ),
    (
        "0011_webhooks.sql",
        include_str!("../../migrations/sqlite/0011_webhooks.sql"),
    ),
];

pub fn sqlite_migrations() -> Migrations<'static> {
    Migrations::new(SQLITE.iter().map(|(_, sql)| M::up(sql)).collect())
}

/// The PostgreSQL migrations, applied with sqlx's migrator.
pub static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[cfg(test)]
mod tests {
    #[test]
    fn both_backends_have_the_same_migrations() {
        let mut pg: Vec<String> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
        let mut lite: Vec<String> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
        pg.sort();
        lite.sort();
        assert_eq!(pg, lite, "migrations/postgres and migrations/sqlite differ");
        let listed: Vec<String> = super::SQLITE.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(
            listed, lite,
            "store/migrations.rs does not list every SQLite migration"
        );
    }
}
