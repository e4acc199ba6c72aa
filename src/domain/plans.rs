//! Plans and their limits (SPEC §3). Built in: `free` and `pro`.

use serde::Serialize;

const MIB: i64 = 1024 * 1024;

/// Limits of a plan; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Limits {
    pub max_members: Option<i64>,
    pub max_projects: Option<i64>,
    pub max_doc_size: Option<i64>,
    pub max_agent_size: Option<i64>,
    pub max_agents: Option<i64>,
}

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

/// The limits of a built-in plan; unknown plans are unlimited.
pub fn builtin_limits(plan: &str) -> Limits {
    match plan {
        "free" => FREE,
        "pro" => PRO,
        _ => Limits::default(),
    }
}
