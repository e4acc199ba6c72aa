//! Storage: the [`Store`] speaks domain types; its queries are written once
//! over [`db::Db`], which runs them on SQLite or PostgreSQL.

pub mod account_deletion;
pub mod accounts;
pub mod bridges;
pub mod codebases;
pub mod db;
pub mod events;
pub mod idempotency;
pub mod invitations;
pub mod join_codes;
mod lists;
pub mod logos;
pub mod members;
pub mod migrations;
pub mod org_members;
pub mod organizations;
pub mod plans;
pub mod projects;
pub mod ratelimit;
pub mod runs;
pub mod seed;
pub mod settings;
pub mod sqlite;
pub mod webhooks;
pub mod workspaces;

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use db::{Backend, Db, DbError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::ConnectOptions;

use crate::config::Config;
use crate::domain::plans::Plans;

#[derive(Clone)]
pub struct Store {
    pub(crate) db: Db,
    origin: Origin,
    /// The configured plans, shared by every clone of this handle: limits
    /// are checked inside store transactions.
    plans: Arc<RwLock<Arc<Plans>>>,
}

/// How the store was opened, so another handle to the same database can be.
#[derive(Clone)]
enum Origin {
    Sqlite(std::path::PathBuf, sqlite::Synchronous),
    Postgres(Box<PgConnectOptions>, u32),
}

impl Store {
    /// Connects to the configured database and applies pending migrations.
    /// An unknown URL scheme is an error, never a silent new SQLite file.
    pub async fn connect(cfg: &Config) -> Result<Store, DbError> {
        match cfg.database_url.as_ref().map(|u| u.0.as_str()) {
            None => Store::open_sqlite(&cfg.data_dir.join("workspaced.db"), cfg),
            Some(url) if url.starts_with("sqlite://") => {
                Store::open_sqlite(Path::new(url.trim_start_matches("sqlite://")), cfg)
            }
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let opts = PgConnectOptions::from_str(url)?.disable_statement_logging();
                let store = Store::connect_postgres(opts, 16).await?;
                store.set_plans(cfg.plans.clone());
                Ok(store)
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
            plans: Arc::new(RwLock::new(Arc::new(cfg.plans.clone()))),
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
        // A warning, never a reason not to start (a database that is not
        // UTF-8 cannot even take the probe's text).
        if let Err(e) = check_case_folding(&pool).await {
            tracing::warn!(error = %e, "could not check how PostgreSQL folds case");
        }
        Ok(Store {
            db: Db::Postgres(pool),
            origin: Origin::Postgres(Box::new(opts), max_conns),
            plans: Arc::new(RwLock::new(Arc::new(Plans::default()))),
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
                    plans: Arc::new(RwLock::new(self.plans())),
                }
            }
            Origin::Postgres(opts, n) => {
                let store = Store::connect_postgres((**opts).clone(), *n)
                    .await
                    .expect("reconnect postgres");
                store.set_plans((*self.plans()).clone());
                store
            }
        }
    }

    /// Connections (in use, idle), for the metrics.
    pub fn pool_state(&self) -> (i64, i64) {
        match &self.db {
            Db::Postgres(pool) => {
                let idle = pool.num_idle() as i64;
                (pool.size() as i64 - idle, idle)
            }
            Db::Sqlite(db) => (0, db.idle_readers() as i64),
        }
    }

    /// The configured plans.
    pub fn plans(&self) -> Arc<Plans> {
        self.plans.read().expect("plans lock").clone()
    }

    /// Replaces the plans (for every clone of this handle).
    pub fn set_plans(&self, plans: Plans) {
        *self.plans.write().expect("plans lock") = Arc::new(plans);
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Runs one statement as is. For tests that must move the clock of a
    /// row (expire an invitation, a join code); not used by the service.
    #[doc(hidden)]
    pub async fn execute_sql(&self, sql: &str, params: Vec<db::Value>) -> Result<u64, DbError> {
        self.db.execute(sql, params).await
    }

    /// Readiness: the database answers and has every migration this binary
    /// knows (more, from a newer replica, are fine). One small read: probes
    /// run often.
    pub async fn readiness(&self) -> Result<Readiness, DbError> {
        let pending = match self.backend() {
            Backend::Sqlite => {
                let applied = self
                    .db
                    .find(
                        "SELECT user_version FROM pragma_user_version",
                        vec![],
                        |r| r.int(0),
                    )
                    .await?
                    .unwrap_or(0);
                migrations::sqlite_pending(applied)
            }
            Backend::Postgres => {
                let mut applied = Vec::new();
                self.db
                    .for_each_row(
                        "SELECT version FROM _sqlx_migrations WHERE success",
                        vec![],
                        |r| {
                            applied.push(r.int(0)?);
                            Ok(())
                        },
                    )
                    .await?;
                migrations::postgres_pending(&applied)
            }
        };
        Ok(if pending.is_empty() {
            Readiness::Ready
        } else {
            Readiness::MigrationsPending(pending)
        })
    }
}

/// What [`Store::readiness`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// The migrations (file names) this binary knows but the database lacks.
    MigrationsPending(Vec<String>),
}

/// Warns when PostgreSQL's `lower()`, which folds `q` searches and the
/// `sort=name` key there (see [`Backend::fold`]), does not fold as
/// [`fold_case`](crate::domain::text::fold_case) does: it follows the
/// database's `LC_CTYPE`, and under `C` or `POSIX` folds ASCII only (an
/// ICU locale also differs, on final sigma). Not an error: everything else
/// works, and ASCII text is folded alike either way.
async fn check_case_folding(pool: &sqlx::PgPool) -> Result<(), DbError> {
    const PROBE: &str = "ÀÉÎÕÜ ΣΑΣ ЖУК";
    let (lowered, ctype): (String, String) =
        sqlx::query_as("SELECT lower($1), current_setting('lc_ctype')")
            .bind(PROBE)
            .fetch_one(pool)
            .await?;
    if lowered != crate::domain::text::fold_case(PROBE) {
        tracing::warn!(
            lc_ctype = %ctype,
            "PostgreSQL's lower() folds case differently from workspaced under this \
             LC_CTYPE: q searches and sort=name treat non-ASCII letters differently \
             than on SQLite; a UTF-8 libc locale (C.UTF-8, en_US.UTF-8) folds alike"
        );
    }
    Ok(())
}
