//! Plans and their limits (SPEC §3). Configuration defines them as
//! `[plans.<name>]` tables; `free` and `pro` are built in (a table of the
//! same name replaces one). Every new workspace starts on `free`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

const MIB: i64 = 1024 * 1024;

/// The plan every new workspace starts on.
pub const DEFAULT_PLAN: &str = "free";

/// Limits of a plan; `None` (absent in configuration) is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_members: Option<i64>,
    pub max_projects: Option<i64>,
    pub max_doc_size: Option<i64>,
    pub max_agent_size: Option<i64>,
    pub max_agents: Option<i64>,
}

impl Limits {
    fn all(&self) -> [(&'static str, Option<i64>); 5] {
        [
            ("max_members", self.max_members),
            ("max_projects", self.max_projects),
            ("max_doc_size", self.max_doc_size),
            ("max_agent_size", self.max_agent_size),
            ("max_agents", self.max_agents),
        ]
    }
}

/// One plan as configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Plan {
    pub limits: Limits,
    /// Setting this plan starts a trial of this many days.
    pub trial_days: Option<i64>,
}

/// The limits of a workspace whose plan is no longer configured: none
/// (refusing every write would punish the customer for a config edit).
pub const UNCONFIGURED: Limits = Limits {
    max_members: None,
    max_projects: None,
    max_doc_size: None,
    max_agent_size: None,
    max_agents: None,
};

pub const FREE: Limits = Limits {
    max_members: Some(25),
    max_projects: Some(10),
    max_doc_size: Some(10 * MIB),
    max_agent_size: Some(100 * MIB),
    max_agents: Some(3),
};

pub const PRO: Limits = Limits {
    max_members: Some(1_000),
    max_projects: Some(1_000),
    max_doc_size: Some(100 * MIB),
    max_agent_size: Some(10 * 1024 * MIB),
    max_agents: Some(100),
};

/// Every plan the server knows, by name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Plans(pub BTreeMap<String, Plan>);

impl Default for Plans {
    fn default() -> Self {
        let mut p = Plans(BTreeMap::new());
        p.add_builtins();
        p
    }
}

impl Plans {
    /// Adds `free` and `pro` unless configuration defined them.
    pub fn add_builtins(&mut self) {
        self.0.entry("free".into()).or_insert(Plan {
            limits: FREE,
            trial_days: None,
        });
        self.0.entry("pro".into()).or_insert(Plan {
            limits: PRO,
            trial_days: Some(14),
        });
    }

    pub fn get(&self, name: &str) -> Option<&Plan> {
        self.0.get(name)
    }

    /// The limits of a plan; a plan no longer configured has
    /// [`UNCONFIGURED`] ones.
    pub fn limits(&self, name: &str) -> Limits {
        self.get(name).map_or(UNCONFIGURED, |p| p.limits)
    }

    pub fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    pub fn validate(&self) -> Result<(), String> {
        if !self.0.contains_key(DEFAULT_PLAN) {
            return Err(format!("plans: the {DEFAULT_PLAN} plan must exist"));
        }
        for (name, plan) in &self.0 {
            for (k, v) in plan.limits.all() {
                if v.is_some_and(|v| v < 0) {
                    return Err(format!("plans.{name}.limits.{k} must not be negative"));
                }
            }
            if plan.trial_days.is_some_and(|d| !(1..=3650).contains(&d)) {
                return Err(format!("plans.{name}.trial_days must be 1-3650"));
            }
        }
        Ok(())
    }
}

/// The limits of a built-in plan; unknown plans are unlimited. Prefer
/// [`Plans::limits`] with the configured plans.
pub fn builtin_limits(plan: &str) -> Limits {
    Plans::default().limits(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_plans_replace_builtins_by_name() {
        let mut p: Plans = toml::from_str::<BTreeMap<String, Plans>>(
            "[plans.pro]\ntrial_days = 30\nlimits = { max_members = 5 }\n[plans.team]\n",
        )
        .unwrap()
        .remove("plans")
        .unwrap();
        p.add_builtins();
        assert_eq!(p.limits("pro").max_members, Some(5));
        assert_eq!(p.limits("pro").max_projects, None);
        assert_eq!(p.get("pro").unwrap().trial_days, Some(30));
        assert_eq!(p.limits("free"), FREE);
        assert_eq!(p.limits("team"), Limits::default());
        assert!(p.validate().is_ok());
    }
}
