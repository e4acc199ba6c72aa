//! Configuration: defaults < TOML file < `WORKSPACED_*` environment < flags.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::plans::Plans;
use crate::store::sqlite::Synchronous;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Where the SQLite database and the generated secret key live.
    pub data_dir: PathBuf,
    /// `postgres://...` switches to PostgreSQL; `sqlite://path` or unset
    /// uses SQLite in `data_dir`. A secret: it may hold a password.
    pub database_url: Option<SecretString>,
    /// A platform-admin token (at least 32 characters).
    pub admin_token: Option<SecretString>,
    /// Base64 of 32 bytes; replicas sharing a database must share it.
    /// Default: `data_dir/secret.key`, generated on first start.
    pub secret_key: Option<SecretString>,
    pub signup_enabled: bool,
    pub session_ttl_days: i64,
    /// Proxies whose `X-Forwarded-For` is believed for the client address.
    pub trusted_proxies: Vec<IpAddr>,
    /// Days a deleted workspace can be restored before it is purged.
    pub retention_days: i64,
    pub purge_interval_seconds: u64,
    /// `json` (default) or `text`.
    pub log_format: String,
    /// Serve `/metrics` without the platform admin token.
    pub metrics_public: bool,
    pub sqlite: SqliteConfig,
    pub scheduler: SchedulerConfig,
    pub webhooks: WebhooksConfig,
    pub rate_limits: RateLimits,
    pub policy: Policy,
    /// AI providers a workspace may choose from.
    pub providers: Vec<String>,
    /// `[plans.<name>]` tables; `free` and `pro` are built in.
    pub plans: Plans,
    /// What every new workspace starts with.
    pub template: Template,
}

/// A configured secret: `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretString(pub String);

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(..)")
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString(s.to_owned())
    }
}

/// `[template]`: default settings, providers and bridges of new workspaces.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Template {
    pub settings: serde_json::Map<String, serde_json::Value>,
    pub providers: Vec<String>,
    pub bridges: Vec<TemplateBridge>,
}

/// `[[template.bridges]]`: a bridge without credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateBridge {
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub config: serde_json::Map<String, serde_json::Value>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqliteConfig {
    /// `normal` (survives a process crash; the default) or `full` (also
    /// survives power loss; an fsync per commit).
    pub synchronous: Synchronous,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        SqliteConfig {
            synchronous: Synchronous::Normal,
        }
    }
}

/// `[webhooks]` (SPEC §9).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Let endpoints point at private, loopback and link-local addresses
    /// (tests, or a trusted private network).
    pub allow_private_urls: bool,
}

/// `[scheduler]`: the cron schedules of SPEC §8.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Schedules firing closer together than this are refused.
    pub min_interval_minutes: i64,
    /// How often each replica looks for due schedules and lapsed leases.
    pub tick_seconds: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            min_interval_minutes: 5,
            tick_seconds: 1,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Refuse creating more owned workspaces than this (403).
    pub max_owned_workspaces_per_user: Option<i64>,
    /// Refuse deleting a user's last workspace (400).
    pub keep_last_workspace: bool,
}

/// `N` events per `period` milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSpec {
    pub count: u64,
    pub period_ms: i64,
}

impl RateSpec {
    /// Parses `N/period` with period `30s`, `15m`, `1h`, `1d` (or `s`, `m`,
    /// `h`, `d` alone for one unit).
    pub fn parse(s: &str) -> Result<RateSpec, String> {
        let err = || format!("'{s}' is not a rate such as 100/1h");
        let (n, period) = s.trim().split_once('/').ok_or_else(err)?;
        let count: u64 = n.trim().parse().map_err(|_| err())?;
        let period = period.trim();
        let split = period.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        let (num, unit) = period.split_at(split);
        let num: i64 = if num.is_empty() {
            1
        } else {
            num.parse().map_err(|_| err())?
        };
        let unit_ms = match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(err()),
        };
        if num <= 0 {
            return Err(err());
        }
        Ok(RateSpec {
            count,
            period_ms: num * unit_ms,
        })
    }
}

impl<'de> Deserialize<'de> for RateSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RateSpec::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    pub workspace_create: RateSpec,
    pub organization_create: RateSpec,
    pub join: RateSpec,
    pub login: RateSpec,
    pub requests: RateSpec,
}

impl Default for RateLimits {
    fn default() -> Self {
        let spec = |s| RateSpec::parse(s).expect("valid default");
        RateLimits {
            workspace_create: spec("3/1h"),
            organization_create: spec("3/1h"),
            join: spec("5/15m"),
            login: spec("10/1m"),
            requests: spec("1200/1m"),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            admin_token: None,
            secret_key: None,
            signup_enabled: true,
            session_ttl_days: 30,
            trusted_proxies: Vec::new(),
            retention_days: 30,
            purge_interval_seconds: 60,
            log_format: "json".into(),
            metrics_public: false,
            sqlite: SqliteConfig::default(),
            scheduler: SchedulerConfig::default(),
            webhooks: WebhooksConfig::default(),
            rate_limits: RateLimits::default(),
            policy: Policy::default(),
            providers: crate::domain::providers::DEFAULT
                .iter()
                .map(|p| p.to_string())
                .collect(),
            plans: Plans::default(),
            template: Template::default(),
        }
    }
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

impl Config {
    /// Loads the layers in order. `file` is the `--config` path (or
    /// `WORKSPACED_CONFIG`); `env` is the process environment.
    pub fn load(
        file: Option<&Path>,
        env: &HashMap<String, String>,
        flags: &Overrides,
    ) -> Result<Config, String> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => Config::default(),
        };
        cfg.plans.add_builtins();
        cfg.apply_env(env)?;
        if let Some(v) = &flags.listen {
            cfg.listen = v.clone();
        }
        if let Some(v) = &flags.data_dir {
            cfg.data_dir = v.clone();
        }
        if let Some(v) = &flags.database_url {
            cfg.database_url = Some(SecretString(v.clone()));
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn apply_env(&mut self, env: &HashMap<String, String>) -> Result<(), String> {
        let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
        let boolean = |k: &str, v: String| match v.as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(format!("{k}: expected true or false, got '{v}'")),
        };
        let number = |k: &str, v: String| {
            v.parse::<i64>()
                .map_err(|_| format!("{k}: expected a number, got '{v}'"))
        };
        if let Some(v) = get("WORKSPACED_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = get("WORKSPACED_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("DATABASE_URL").or_else(|| get("WORKSPACED_DATABASE_URL")) {
            self.database_url = Some(SecretString(v));
        }
        if let Some(v) = get("WORKSPACED_ADMIN_TOKEN") {
            self.admin_token = Some(SecretString(v));
        }
        if let Some(v) = get("WORKSPACED_SECRET_KEY") {
            self.secret_key = Some(SecretString(v));
        }
        if let Some(v) = get("WORKSPACED_SIGNUP_ENABLED") {
            self.signup_enabled = boolean("WORKSPACED_SIGNUP_ENABLED", v)?;
        }
        if let Some(v) = get("WORKSPACED_SESSION_TTL_DAYS") {
            self.session_ttl_days = number("WORKSPACED_SESSION_TTL_DAYS", v)?;
        }
        if let Some(v) = get("WORKSPACED_RETENTION_DAYS") {
            self.retention_days = number("WORKSPACED_RETENTION_DAYS", v)?;
        }
        if let Some(v) = get("WORKSPACED_PURGE_INTERVAL_SECONDS") {
            self.purge_interval_seconds =
                number("WORKSPACED_PURGE_INTERVAL_SECONDS", v)?.max(1) as u64;
        }
        if let Some(v) = get("WORKSPACED_SCHEDULER_MIN_INTERVAL_MINUTES") {
            self.scheduler.min_interval_minutes =
                number("WORKSPACED_SCHEDULER_MIN_INTERVAL_MINUTES", v)?;
        }
        if let Some(v) = get("WORKSPACED_SCHEDULER_TICK_SECONDS") {
            self.scheduler.tick_seconds =
                number("WORKSPACED_SCHEDULER_TICK_SECONDS", v)?.max(1) as u64;
        }
        if let Some(v) = get("WORKSPACED_WEBHOOKS_ALLOW_PRIVATE_URLS") {
            self.webhooks.allow_private_urls =
                boolean("WORKSPACED_WEBHOOKS_ALLOW_PRIVATE_URLS", v)?;
        }
        if let Some(v) = get("WORKSPACED_METRICS_PUBLIC") {
            self.metrics_public = boolean("WORKSPACED_METRICS_PUBLIC", v)?;
        }
        if let Some(v) = get("WORKSPACED_PROVIDERS") {
            self.providers = v
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = get("WORKSPACED_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = get("WORKSPACED_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .map(|s| {
                    s.trim().parse().map_err(|_| {
                        format!("WORKSPACED_TRUSTED_PROXIES: '{s}' is not an IP address")
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = get("WORKSPACED_SQLITE_SYNCHRONOUS") {
            self.sqlite.synchronous = match v.as_str() {
                "normal" => Synchronous::Normal,
                "full" => Synchronous::Full,
                _ => {
                    return Err(format!(
                        "WORKSPACED_SQLITE_SYNCHRONOUS: expected normal or full, got '{v}'"
                    ))
                }
            };
        }
        if let Some(v) = get("WORKSPACED_POLICY_MAX_OWNED_WORKSPACES_PER_USER") {
            self.policy.max_owned_workspaces_per_user = Some(number(
                "WORKSPACED_POLICY_MAX_OWNED_WORKSPACES_PER_USER",
                v,
            )?);
        }
        if let Some(v) = get("WORKSPACED_POLICY_KEEP_LAST_WORKSPACE") {
            self.policy.keep_last_workspace = boolean("WORKSPACED_POLICY_KEEP_LAST_WORKSPACE", v)?;
        }
        let limits = &mut self.rate_limits;
        for (name, slot) in [
            ("WORKSPACE_CREATE", &mut limits.workspace_create),
            ("ORGANIZATION_CREATE", &mut limits.organization_create),
            ("JOIN", &mut limits.join),
            ("LOGIN", &mut limits.login),
            ("REQUESTS", &mut limits.requests),
        ] {
            let key = format!("WORKSPACED_RATE_LIMIT_{name}");
            if let Some(v) = get(&key) {
                *slot = RateSpec::parse(&v).map_err(|e| format!("{key}: {e}"))?;
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(SecretString(t)) = &self.admin_token {
            if t.len() < 32 {
                return Err("admin_token must be at least 32 characters".into());
            }
        }
        if self.session_ttl_days < 1 {
            return Err("session_ttl_days must be at least 1".into());
        }
        if self.retention_days < 0 {
            return Err("retention_days must not be negative".into());
        }
        if !(1..=366 * 24 * 60).contains(&self.scheduler.min_interval_minutes) {
            return Err("scheduler.min_interval_minutes must be from 1 to 527040 (a year)".into());
        }
        if self.scheduler.tick_seconds < 1 {
            return Err("scheduler.tick_seconds must be at least 1".into());
        }
        if !matches!(self.log_format.as_str(), "json" | "text") {
            return Err("log_format must be json or text".into());
        }
        self.validate_configuration_parts()
    }

    /// Providers, plans and the workspace template.
    pub fn validate_configuration_parts(&self) -> Result<(), String> {
        for p in &self.providers {
            let ok = !p.is_empty()
                && p.len() <= 64
                && p.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !ok {
                return Err(format!(
                    "providers: '{p}' must be 1-64 characters of a-z, 0-9, - and _"
                ));
            }
        }
        self.plans.validate()?;
        let t = &self.template;
        crate::domain::providers::choose(&t.providers, &self.providers, 0)
            .map_err(|e| format!("template.providers: {}", e[0].message))?;
        crate::domain::settings::validate(&t.settings)
            .map_err(|e| format!("template.{}: {}", e[0].field, e[0].message))?;
        if crate::domain::settings::default_project(&t.settings).is_some() {
            return Err(
                "template.settings.default_project_id: a new workspace has no projects".into(),
            );
        }
        for (i, b) in t.bridges.iter().enumerate() {
            crate::domain::bridge::kind(&b.kind)
                .and_then(|_| crate::domain::validation::text("name", &b.name, 1, 100))
                .and_then(|_| crate::domain::json::check_size("config", &b.config))
                .map_err(|e| format!("template.bridges[{i}].{}: {}", e.field, e.message))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_every_unit() {
        assert_eq!(
            RateSpec::parse("100/1h").unwrap(),
            RateSpec {
                count: 100,
                period_ms: 3_600_000
            }
        );
        assert_eq!(RateSpec::parse("5/15m").unwrap().period_ms, 900_000);
        assert_eq!(RateSpec::parse("10/m").unwrap().period_ms, 60_000);
        for bad in ["", "10", "x/1h", "10/1y", "10/0s", "10/-1h"] {
            assert!(RateSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_wins_over_file_and_flags_over_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1\"\n[rate_limits]\nlogin = \"1/1m\"\n",
        )
        .unwrap();
        let env: HashMap<_, _> = [
            ("WORKSPACED_LISTEN".to_string(), "127.0.0.1:2".to_string()),
            (
                "WORKSPACED_RATE_LIMIT_WORKSPACE_CREATE".to_string(),
                "100/1h".to_string(),
            ),
        ]
        .into();
        let cfg = Config::load(Some(&file), &env, &Overrides::default()).unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:2");
        assert_eq!(cfg.rate_limits.login.count, 1);
        assert_eq!(cfg.rate_limits.workspace_create.count, 100);
        let flags = Overrides {
            listen: Some("127.0.0.1:3".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::load(Some(&file), &env, &flags).unwrap().listen,
            "127.0.0.1:3"
        );
    }

    #[test]
    fn unknown_keys_and_short_admin_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        assert!(Config::load(Some(&file), &HashMap::new(), &Overrides::default()).is_err());
        let env: HashMap<_, _> =
            [("WORKSPACED_ADMIN_TOKEN".to_string(), "short".to_string())].into();
        assert!(Config::load(None, &env, &Overrides::default()).is_err());
    }

    #[test]
    fn secrets_never_show_in_the_configuration_debug_output() {
        let admin = "an-admin-token-of-at-least-32-characters";
        let key = "c2VjcmV0LWtleS1vZi10aGlydHktdHdvLWJ5dGVzISE=";
        let url = "postgres://app:db-password@127.0.0.1:5432/app";
        let env: HashMap<_, _> = [
            ("WORKSPACED_ADMIN_TOKEN".to_string(), admin.to_string()),
            ("WORKSPACED_SECRET_KEY".to_string(), key.to_string()),
            ("DATABASE_URL".to_string(), url.to_string()),
        ]
        .into();
        let config = Config::load(None, &env, &Overrides::default()).unwrap();
        assert_eq!(config.admin_token, Some(SecretString::from(admin)));
        assert_eq!(config.database_url, Some(SecretString::from(url)));
        let shown = format!("{config:?}");
        for secret in [admin, key, "db-password"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn plans_providers_and_the_template_load_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            r#"
providers = ["openai", "local-llm"]

[plans.team]
trial_days = 30
limits = { max_members = 50, max_projects = 20 }

[plans.free]
limits = { max_members = 5 }

[template]
providers = ["openai"]
settings = { theme = "dark", notifications = { email = true } }

[[template.bridges]]
kind = "notion"
name = "Wiki"
config = { space = "eng" }
"#,
        )
        .unwrap();
        let cfg = Config::load(Some(&file), &HashMap::new(), &Overrides::default()).unwrap();
        assert_eq!(cfg.providers, ["openai", "local-llm"]);
        assert_eq!(cfg.plans.limits("team").max_members, Some(50));
        assert_eq!(cfg.plans.get("team").unwrap().trial_days, Some(30));
        assert_eq!(cfg.plans.limits("free").max_members, Some(5));
        assert_eq!(cfg.plans.limits("free").max_projects, None);
        assert_eq!(cfg.plans.limits("pro").max_members, Some(1000));
        assert_eq!(cfg.template.settings["theme"], "dark");
        assert_eq!(cfg.template.bridges[0].kind, "notion");
        assert!(cfg.template.bridges[0].enabled);

        for bad in [
            "[template]\nproviders = [\"skynet\"]\n",
            "[template]\nsettings = { theme = \"neon\" }\n",
            "[template]\nsettings = { default_project_id = \"prj_x\" }\n",
            "[[template.bridges]]\nkind = \"slack\"\nname = \"x\"\n",
            "[plans.x]\nlimits = { max_members = -1 }\n",
            "[plans.x]\nlimits = { max_seats = 1 }\n",
            "providers = [\"Open AI\"]\n",
        ] {
            std::fs::write(&file, bad).unwrap();
            assert!(
                Config::load(Some(&file), &HashMap::new(), &Overrides::default()).is_err(),
                "{bad}"
            );
        }
    }
}
