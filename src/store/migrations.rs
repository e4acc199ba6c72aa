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
    (
        "0012_member_versions.sql",
        include_str!("../../migrations/sqlite/0012_member_versions.sql"),
    ),
];

pub fn sqlite_migrations() -> Migrations<'static> {
    Migrations::new(SQLITE.iter().map(|(_, sql)| M::up(sql)).collect())
}

/// The PostgreSQL migrations, applied with sqlx's migrator.
pub static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The SQLite migrations not applied to a database whose `user_version`
/// is `applied` (rusqlite_migration counts the migrations applied there).
pub fn sqlite_pending(applied: i64) -> Vec<String> {
    let applied = usize::try_from(applied).unwrap_or(0);
    SQLITE
        .iter()
        .skip(applied)
        .map(|(name, _)| (*name).to_owned())
        .collect()
}

/// The PostgreSQL migrations whose version is not among `applied` (the
/// successful rows of sqlx's `_sqlx_migrations`), named as their files are.
pub fn postgres_pending(applied: &[i64]) -> Vec<String> {
    POSTGRES
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
        .map(|m| format!("{:04}_{}.sql", m.version, m.description.replace(' ', "_")))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn pending_migrations_are_named_as_their_files_on_both_backends() {
        let all: Vec<String> = super::SQLITE.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(super::sqlite_pending(0), all);
        assert_eq!(super::postgres_pending(&[]), all);
        let n = all.len() as i64;
        assert!(super::sqlite_pending(n).is_empty());
        // A database migrated by a newer binary has more: still none pending.
        assert!(super::sqlite_pending(n + 1).is_empty());
        let versions: Vec<i64> = (1..=n).collect();
        assert!(super::postgres_pending(&versions).is_empty());
        assert_eq!(super::sqlite_pending(n - 1), [all[all.len() - 1].clone()]);
        assert_eq!(
            super::postgres_pending(&versions[..versions.len() - 1]),
            [all[all.len() - 1].clone()]
        );
    }

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
