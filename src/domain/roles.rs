//! Workspace and organization roles and the permission table of SPEC §4, as
//! data: the access extractor, the `/permissions` route and the tests all read
//! it from here.

use serde::{Deserialize, Serialize};

/// Workspace roles, declared lowest first: `role >= Role::Admin` reads as
/// the rule it is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];

    /// The rank stored in the database (1 viewer .. 4 owner).
    pub fn rank(self) -> i64 {
        match self {
            Role::Viewer => 1,
            Role::Member => 2,
            Role::Admin => 3,
            Role::Owner => 4,
        }
    }

    pub fn from_rank(rank: i64) -> Option<Role> {
        Some(match rank {
            1 => Role::Viewer,
            2 => Role::Member,
            3 => Role::Admin,
            4 => Role::Owner,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Organization roles. An org role is inherited on every workspace of the
/// organization as the workspace role of the same name (same rank).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OrgRole {
    Member,
    Admin,
    Owner,
}

impl OrgRole {
    pub fn rank(self) -> i64 {
        self.as_workspace_role().rank()
    }

    pub fn from_rank(rank: i64) -> Option<OrgRole> {
        Some(match rank {
            2 => OrgRole::Member,
            3 => OrgRole::Admin,
            4 => OrgRole::Owner,
            _ => return None,
        })
    }

    pub fn as_workspace_role(self) -> Role {
        match self {
            OrgRole::Member => Role::Member,
            OrgRole::Admin => Role::Admin,
            OrgRole::Owner => Role::Owner,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.as_workspace_role().as_str()
    }

    pub fn parse(s: &str) -> Option<OrgRole> {
        [OrgRole::Member, OrgRole::Admin, OrgRole::Owner]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// The effective workspace role: the higher of the direct and the inherited
/// one; `None` when the user has neither.
pub fn effective_role(direct: Option<Role>, inherited: Option<OrgRole>) -> Option<Role> {
    direct.max(inherited.map(OrgRole::as_workspace_role))
}

/// Actions of SPEC §4, each with the lowest role that may take it.
pub const PERMISSIONS: &[(&str, Role)] = &[
    ("workspace.read", Role::Viewer),
    ("settings.read", Role::Viewer),
    ("members.read", Role::Viewer),
    ("projects.read", Role::Viewer),
    ("codebases.read", Role::Viewer),
    ("bridges.read", Role::Viewer),
    ("providers.read", Role::Viewer),
    ("schedule.read", Role::Viewer),
    ("runs.read", Role::Viewer),
    ("projects.write", Role::Member),
    ("projects.delete", Role::Member),
    ("codebases.write", Role::Member),
    ("codebases.delete", Role::Member),
    ("today.pin", Role::Member),
    ("workspace.update", Role::Admin),
    ("workspace.archive", Role::Admin),
    ("settings.update", Role::Admin),
    ("logo.update", Role::Admin),
    ("providers.update", Role::Admin),
    ("schedule.update", Role::Admin),
    ("bridges.manage", Role::Admin),
    ("webhooks.manage", Role::Admin),
    ("invitations.read", Role::Admin),
    ("invitations.manage", Role::Admin),
    ("members.add", Role::Admin),
    ("members.manage", Role::Admin),
    ("join_code.read", Role::Admin),
    ("join_code.manage", Role::Admin),
    ("events.read", Role::Admin),
    ("runs.manage", Role::Admin),
    ("owners.manage", Role::Owner),
    ("workspace.transfer", Role::Owner),
    ("workspace.delete", Role::Owner),
    ("workspace.restore", Role::Owner),
];

/// The actions `role` may take, in table order.
pub fn actions_for(role: Role) -> Vec<&'static str> {
    PERMISSIONS
        .iter()
        .filter(|(_, min)| role >= *min)
        .map(|(name, _)| *name)
        .collect()
}

/// The lowest role allowed to take `action`, if the action exists.
pub fn min_role(action: &str) -> Option<Role> {
    PERMISSIONS
        .iter()
        .find(|(name, _)| *name == action)
        .map(|(_, r)| *r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_by_privilege() {
        assert!(
            Role::Owner > Role::Admin && Role::Admin > Role::Member && Role::Member > Role::Viewer
        );
        for r in Role::ALL {
            assert_eq!(Role::from_rank(r.rank()), Some(r));
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn inherited_role_counts_when_higher() {
        assert_eq!(
            effective_role(Some(Role::Viewer), Some(OrgRole::Admin)),
            Some(Role::Admin)
        );
        assert_eq!(
            effective_role(Some(Role::Owner), Some(OrgRole::Member)),
            Some(Role::Owner)
        );
        assert_eq!(effective_role(None, None), None);
    }

    #[test]
    fn viewers_read_and_only_owners_manage_owners() {
        assert!(actions_for(Role::Viewer)
            .iter()
            .all(|a| a.ends_with(".read")));
        assert!(!actions_for(Role::Admin).contains(&"owners.manage"));
        assert!(actions_for(Role::Owner).contains(&"owners.manage"));
        assert_eq!(actions_for(Role::Owner).len(), PERMISSIONS.len());
    }
}
