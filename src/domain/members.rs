//! Membership rules of SPEC §4: who may change whose role, and the
//! last-owner invariant. The store calls these inside the transaction that
//! holds the lock, with counts read under that lock.

use super::ids::{MembershipId, UserId};
use super::roles::Role;
use super::time::Millis;
use super::validation::FieldError;
use super::Error;

/// A workspace member with the user's public details.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: MembershipId,
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: Millis,
    pub invited_by: Option<String>,
    /// +1 on every role change.
    pub version: i64,
}

/// Who is acting: a user, or the platform admin (acts as owner).
#[derive(Debug, Clone)]
pub enum Actor {
    User(UserId),
    PlatformAdmin,
}

impl Actor {
    pub fn user(&self) -> Option<&UserId> {
        match self {
            Actor::User(u) => Some(u),
            Actor::PlatformAdmin => None,
        }
    }
}

/// What is done to a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    SetRole(Role),
    Remove,
}

/// Whether `actor` (effective role) may apply `change` to a member whose
/// role is `target`, given the number of owners (`owners`, read under the
/// lock). Admins manage non-owners; only owners grant or revoke `owner` or
/// remove an owner; the last owner can be neither demoted nor removed.
pub fn check_change(actor: Role, target: Role, change: Change, owners: usize) -> Result<(), Error> {
    if actor < Role::Admin {
        return Err(Error::Forbidden(
            "This needs the admin role or higher.".into(),
        ));
    }
    let touches_owner = target == Role::Owner || change == Change::SetRole(Role::Owner);
    if touches_owner && actor < Role::Owner {
        return Err(Error::NeedsOwner);
    }
    let loses_owner = target == Role::Owner && change != Change::SetRole(Role::Owner);
    if loses_owner && owners <= 1 {
        return Err(Error::LastOwner(Vec::new()));
    }
    Ok(())
}

/// Anyone may leave except the last owner.
pub fn check_leave(role: Role, owners: usize) -> Result<(), Error> {
    if role == Role::Owner && owners <= 1 {
        return Err(Error::LastOwner(Vec::new()));
    }
    Ok(())
}

/// Whether `actor` may grant `role` when adding or inviting someone.
pub fn check_grant(actor: Role, role: Role) -> Result<(), Error> {
    if role == Role::Owner && actor < Role::Owner {
        return Err(Error::NeedsOwner);
    }
    Ok(())
}

/// Parses a workspace role named in a request field.
pub fn parse_role(field: &str, raw: &str) -> Result<Role, FieldError> {
    Role::parse(raw).ok_or_else(|| {
        FieldError::new(
            field,
            "invalid",
            "must be one of owner, admin, member, viewer",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_manage_non_owners_only() {
        assert!(check_change(Role::Admin, Role::Member, Change::SetRole(Role::Admin), 1).is_ok());
        assert!(check_change(Role::Admin, Role::Admin, Change::Remove, 1).is_ok());
        assert!(matches!(
            check_change(Role::Admin, Role::Owner, Change::Remove, 2),
            Err(Error::NeedsOwner)
        ));
        assert!(matches!(
            check_change(Role::Admin, Role::Member, Change::SetRole(Role::Owner), 2),
            Err(Error::NeedsOwner)
        ));
        assert!(matches!(
            check_change(Role::Member, Role::Viewer, Change::Remove, 1),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn the_last_owner_stays() {
        assert!(matches!(
            check_change(Role::Owner, Role::Owner, Change::SetRole(Role::Admin), 1),
            Err(Error::LastOwner(_))
        ));
        assert!(matches!(
            check_change(Role::Owner, Role::Owner, Change::Remove, 1),
            Err(Error::LastOwner(_))
        ));
        assert!(check_change(Role::Owner, Role::Owner, Change::Remove, 2).is_ok());
        assert!(check_change(Role::Owner, Role::Owner, Change::SetRole(Role::Owner), 1).is_ok());
        assert!(matches!(
            check_leave(Role::Owner, 1),
            Err(Error::LastOwner(_))
        ));
        assert!(check_leave(Role::Viewer, 1).is_ok());
    }
}
