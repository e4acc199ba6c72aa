//! The command line: `serve`, `migrate`, `admin ...`, `openapi`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::domain::account::{self, TokenKind, SERVICE_SCOPES};
use crate::store::accounts::NewToken;
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        )
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(run(cli.command, config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("workspaced: {e}");
            ExitCode::FAILURE
        }
    }
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
                .set_plan(&ws.id, plan.trim())
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
    }
}
