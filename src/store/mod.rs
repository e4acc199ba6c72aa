//! Storage: the [`Store`] speaks domain types; its queries are written once
//! over [`db::Db`], which runs them on SQLite or PostgreSQL.

pub mod accounts;
pub mod db;
pub mod members;
pub mod migrations;
pub mod organizations;
pub mod ratelimit;
pub mod seed;
pub mod sqlite;
pub mod workspaces;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use db::{Backend, Db, DbError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::ConnectOptions;

use crate::config::Config;

#[derive(Clone)]
pub struct Store {
    pub(crate) db: Db,
    origin: Origin,
}

/// How the store was opened, so another handle to the same database can be.
#[derive(Clone)]
enum Origin {
    Sqlite(std::path::PathBuf, sqlite::Synchronous),
    Postgres(PgConnectOptions, u32),
}

impl Store {
    /// Connects to the configured database and applies pending migrations.
    /// An unknown URL scheme is an error, never a silent new SQLite file.
    pub async fn connect(cfg: &Config) -> Result<Store, DbError> {
        match cfg.database_url.as_deref() {
            None => Store::open_sqlite(&cfg.data_dir.join("workspaced.db"), cfg),
            Some(url) if url.starts_with("sqlite://") => {
                Store::open_sqlite(Path::new(url.trim_start_matches("sqlite://")), cfg)
            }
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let opts = PgConnectOptions::from_str(url)?.disable_statement_logging();
                Store::connect_postgres(opts, 16).await
            }
            Some(url) => {
                let scheme = url.split("://").next().unwrap_or(url);
                Err(DbError::Other(format!(
                    "unsupported database URL scheme '{scheme}': use postgres:// or sqlite://"
                )))
            }
        }
    }

    fn open_sqlite(path: &Path, cfg: &Config) -> Result<Store, DbError> {
        let db = sqlite::SqliteDb::open(path, cfg.sqlite.synchronous)?;
        Ok(Store {
            db: Db::Sqlite(db),
            origin: Origin::Sqlite(path.to_owned(), cfg.sqlite.synchronous),
        })
    }

    /// Connects with explicit options (tests point these at a schema of
    /// their own) and migrates.
    pub async fn connect_postgres(
        opts: PgConnectOptions,
        max_conns: u32,
    ) -> Result<Store, DbError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_conns)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts.clone())
            .await?;
        migrations::POSTGRES
            .run(&pool)
            .await
            .map_err(|e| DbError::Other(format!("postgres migration failed: {e}")))?;
        Ok(Store {
            db: Db::Postgres(pool),
            origin: Origin::Postgres(opts, max_conns),
        })
    }

    /// A second, independent handle on the same database: what another
    /// replica has. Used to test that rules hold across replicas.
    pub async fn clone_for_replica(&self) -> Store {
        match &self.origin {
            Origin::Sqlite(path, sync) => {
                let db = sqlite::SqliteDb::open(path, *sync).expect("reopen sqlite");
                Store {
                    db: Db::Sqlite(db),
                    origin: self.origin.clone(),
                }
            }
            Origin::Postgres(opts, n) => Store::connect_postgres(opts.clone(), *n)
                .await
                .expect("reconnect postgres"),
        }
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Readiness: the database answers and the schema is there.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.db
            .fetch_optional("SELECT 1 FROM workspaces LIMIT 1", vec![])
            .await?;
        Ok(())
    }
}
