//! The command line: `serve`, `migrate`, `admin ...`, `openapi`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::domain::account::{self, TokenKind, SERVICE_SCOPES};
use crate::store::accounts::NewToken;
use crate::store::db::Backend;
use crate::store::seed::SeedSpec;
use crate::store::Store;

#[derive(Parser)]
#[command(
    name = "workspaced",
    version,
    about = "Self-hosted workspace and tenancy service"
)]
struct Cli {
    /// TOML configuration file (also WORKSPACED_CONFIG).
    #[arg(long, global = true, env = "WORKSPACED_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory for SQLite and the secret key (default ./data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// postgres://... or sqlite://path (also DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrations are applied first).
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Platform administration.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a platform-admin token, or with --scope a scoped service token.
    CreateToken {
        #[arg(long, default_value = "admin")]
        name: String,
        /// A scope (e.g. runs); repeat for several. Without it, a platform-admin token.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Put a workspace on a plan (one of the configured plans).
    SetPlan {
        /// Workspace id or slug.
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        plan: String,
    },
    /// Create a user account (the password is read from WORKSPACED_PASSWORD or stdin).
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
    /// Bulk-seed benchmark data and write a fixture (token, ids, cursor) for bench/run.sh.
    SeedBench {
        #[arg(long, default_value_t = 10_000)]
        users: u64,
        #[arg(long, default_value_t = 100_000)]
        workspaces: u64,
        /// All memberships, the one owner membership per workspace included.
        #[arg(long, default_value_t = 1_000_000)]
        memberships: u64,
        /// How many workspaces the bench user is an admin of.
        #[arg(long, default_value_t = 1_000)]
        bench_user_workspaces: u64,
        /// Where to write the JSON fixture.
        #[arg(long, default_value = "bench-fixture.json")]
        fixture: PathBuf,
        /// Seed of the random generator (owners, members, roles).
        #[arg(long, default_value_t = 1)]
        rng_seed: u64,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let env: HashMap<String, String> = std::env::vars().collect();
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let overrides = Overrides {
        listen,
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
    };
    let config = match Config::load(cli.config.as_deref(), &env, &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("workspaced: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    let runtime = runtime(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    );
    let result = runtime.block_on(run(cli.command, config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("workspaced: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The tokio runtime: one worker per CPU the process may run on (the bench
/// pins the server with `taskset -c 0`: one worker). The single-threaded
/// scheduler for one CPU was measured four times across sessions (docs/
/// performance.md, runs 11, 12 and 19): slower once, no clear difference
/// the other times.
fn runtime(cpus: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

async fn run(command: Command, config: Config) -> Result<(), String> {
    match command {
        Command::Serve { .. } => crate::app::serve(config).await,
        Command::Migrate => {
            Store::connect(&config)
                .await
                .map_err(|e| format!("database: {e}"))?;
            println!("migrations applied");
            Ok(())
        }
        Command::Openapi => {
            let (_, doc) = crate::http::api();
            println!("{}", doc.to_pretty_json().map_err(|e| e.to_string())?);
            Ok(())
        }
        Command::Admin(cmd) => admin(cmd, config).await,
    }
}

async fn admin(cmd: AdminCommand, config: Config) -> Result<(), String> {
    let store = Store::connect(&config)
        .await
        .map_err(|e| format!("database: {e}"))?;
    match cmd {
        AdminCommand::CreateToken { name, scopes } => {
            if let Some(bad) = scopes
                .iter()
                .find(|s| !SERVICE_SCOPES.contains(&s.as_str()))
            {
                return Err(format!(
                    "unknown scope '{bad}' (known: {})",
                    SERVICE_SCOPES.join(", ")
                ));
            }
            let kind = if scopes.is_empty() {
                TokenKind::Admin
            } else {
                TokenKind::Service
            };
            let secret = crate::auth::new_token();
            let t = store
                .create_token(NewToken {
                    kind,
                    user_id: None,
                    name: &name,
                    hash: &crate::auth::token_hash(&secret),
                    scopes: &scopes,
                    expires_at: None,
                })
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("created {} token {} (shown once):", kind.as_str(), t.id);
            println!("{secret}");
            Ok(())
        }
        AdminCommand::SetPlan { workspace, plan } => {
            let ws = store
                .workspace_for(&workspace, None)
                .await
                .map_err(|e| e.to_string())?
                .filter(|w| w.status != crate::domain::workspace::Status::Deleted)
                .ok_or_else(|| format!("no workspace '{workspace}'"))?;
            let ws = store
                .set_plan(&ws.id, plan.trim(), None)
                .await
                .map_err(|e| match e {
                    crate::domain::Error::Validation(errors) => errors
                        .into_iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                    other => other.to_string(),
                })?;
            println!(
                "{} is on plan {}{}",
                ws.slug,
                ws.plan,
                crate::domain::time::format_opt(ws.trial_ends_at)
                    .map(|t| format!(" (trial ends {t})"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        AdminCommand::CreateUser { email, name } => {
            let password = match std::env::var("WORKSPACED_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| e.to_string())?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let email = account::email(&email).map_err(|e| format!("email: {}", e.message))?;
            let name = account::user_name(&name).map_err(|e| format!("name: {}", e.message))?;
            let password =
                account::password(&password).map_err(|e| format!("password: {}", e.message))?;
            let hash = crate::auth::hash_password(password)
                .await
                .map_err(|e| e.to_string())?;
            let user = store
                .create_user(&email, &name, &hash)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", user.id);
            Ok(())
        }
        AdminCommand::SeedBench {
            users,
            workspaces,
            memberships,
            bench_user_workspaces,
            fixture,
            rng_seed,
        } => {
            let spec = SeedSpec {
                users,
                workspaces,
                memberships,
                bench_user_workspaces,
                rng_seed,
            };
            seed_bench(&store, &spec, &fixture).await
        }
    }
}

/// The password of every seeded user.
const BENCH_PASSWORD: &str = "bench-password-123";

async fn seed_bench(store: &Store, spec: &SeedSpec, fixture: &Path) -> Result<(), String> {
    spec.check()?;
    let started = std::time::Instant::now();
    // One argon2 hash shared by every seeded user: hashing is ~0.1 s each.
    let hash = crate::auth::hash_password(BENCH_PASSWORD.to_owned())
        .await
        .map_err(|e| e.to_string())?;
    let report = store
        .seed_bench(spec, &hash, &|line| eprintln!("seed-bench: {line}"))
        .await
        .map_err(|e| format!("seeding failed: {e}"))?;
    let secret = crate::auth::new_token();
    store
        .create_token(NewToken {
            kind: TokenKind::Personal,
            user_id: Some(&report.bench_user),
            name: "bench",
            hash: &crate::auth::token_hash(&secret),
            scopes: &[],
            expires_at: None,
        })
        .await
        .map_err(|e| e.to_string())?;
    let total_secs = started.elapsed().as_secs_f64();
    let rows = spec.users + spec.workspaces + report.memberships_written;
    // The deep page is the last full page of the bench user's list.
    let deep = report.deep_cursor();
    let ws_rows = spec.workspaces + report.memberships_written;
    let doc = serde_json::json!({
        "database": match store.backend() { Backend::Sqlite => "sqlite", Backend::Postgres => "postgres" },
        "tag": report.tag,
        "sizes": {
            "users": spec.users,
            "workspaces": spec.workspaces,
            "memberships": report.memberships_written,
            "bench_user_workspaces": report.bench_workspaces.len(),
        },
        "bench_user": {
            "id": report.bench_user,
            "email": report.bench_email,
            "password": BENCH_PASSWORD,
            "token": secret,
            "role": "admin",
        },
        "get_ids": report.bench_workspaces.iter().map(|(id, _)| id.to_string()).collect::<Vec<_>>(),
        "deep_cursor": deep.as_ref().map(|d| d.1.clone()),
        "deep_cursor_rows_before": deep.as_ref().map(|d| d.0),
        "spare_user_ids": report.spare_users,
        "seeding": {
            "users_secs": report.users_secs,
            "users_rows_per_s": spec.users as f64 / report.users_secs.max(1e-9),
            "workspaces_and_memberships_secs": report.workspaces_secs,
            "workspaces_and_memberships_rows_per_s": ws_rows as f64 / report.workspaces_secs.max(1e-9),
            "total_secs": total_secs,
            "total_rows": rows,
            "total_rows_per_s": rows as f64 / total_secs.max(1e-9),
        },
    });
    std::fs::write(
        fixture,
        serde_json::to_string_pretty(&doc).expect("json") + "\n",
    )
    .map_err(|e| format!("writing {}: {e}", fixture.display()))?;
    eprintln!(
        "seed-bench: {rows} rows in {total_secs:.2} s ({:.0} rows/s overall); fixture: {}",
        rows as f64 / total_secs.max(1e-9),
        fixture.display()
    );
    Ok(())
}
