//! Organization members: same shape of rules as workspace members. Every
//! change locks the organization row, then its owner rows, and decides the
//! last-owner rule under that lock.

use super::db::{Row, Tx};
use super::events::record;
use super::lists::{page_newest_first, NewestFirst};
use super::Store;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::{OrganizationId, UserId};
use crate::domain::members::{check_change, check_leave, Actor, Change};
use crate::domain::pagination::{Page, PageRequest};
use crate::domain::roles::OrgRole;
use crate::domain::time::{now_ms, Millis};
use crate::domain::Error;
use crate::params;
use serde_json::Value as Json;

/// Records a change to `user`'s membership of the organization.
async fn org_member_event(
    tx: &mut Tx,
    kind: &'static str,
    org: &OrganizationId,
    user: &UserId,
    changes: Changes,
) -> Result<(), Error> {
    let event = NewEvent::in_organization(kind, org, "organization_member", user.as_str())
        .with_changes(changes);
    record(tx, event).await
}

#[derive(Debug, Clone)]
pub struct OrgMember {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: OrgRole,
    pub joined_at: Millis,
}

const COLS: &str = "u.id, u.email, u.name, om.role, om.created_at";

fn from_row(r: &Row) -> Result<OrgMember, Error> {
    Ok(OrgMember {
        user_id: UserId::from_db(r.text(0)?),
        email: r.text(1)?,
        name: r.text(2)?,
        role: OrgRole::from_rank(r.int(3)?)
            .ok_or_else(|| Error::Internal("bad org role".into()))?,
        joined_at: r.int(4)?,
    })
}

/// What is done to an org membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgChange {
    SetRole(OrgRole),
    Remove,
}

async fn lock_org(tx: &mut Tx, org: &OrganizationId) -> Result<usize, Error> {
    let sql = format!(
        "SELECT id FROM organizations WHERE id = $1{}",
        tx.for_update()
    );
    tx.fetch_optional(&sql, params![org])
        .await?
        .ok_or(Error::NotFound)?;
    let sql = format!(
        "SELECT user_id FROM org_members WHERE organization_id = $1 AND role = 4{}",
        tx.for_update()
    );
    Ok(tx.fetch_all(&sql, params![org]).await?.len())
}

async fn member_in_tx(
    tx: &mut Tx,
    org: &OrganizationId,
    user: &UserId,
) -> Result<Option<OrgMember>, Error> {
    let sql = format!(
        "SELECT {COLS} FROM org_members om JOIN users u ON u.id = om.user_id
         WHERE om.organization_id = $1 AND om.user_id = $2"
    );
    tx.fetch_optional(&sql, params![org, user])
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

async fn actor_org_role(
    tx: &mut Tx,
    org: &OrganizationId,
    actor: &Actor,
) -> Result<OrgRole, Error> {
    match actor {
        Actor::PlatformAdmin => Ok(OrgRole::Owner),
        Actor::User(u) => Ok(member_in_tx(tx, org, u).await?.ok_or(Error::NotFound)?.role),
    }
}

impl Store {
    pub async fn list_org_members(
        &self,
        org: &OrganizationId,
        page: &PageRequest,
    ) -> Result<Page<OrgMember>, Error> {
        let list = NewestFirst {
            cols: COLS,
            from: "FROM org_members om JOIN users u ON u.id = om.user_id
                   WHERE om.organization_id = $1",
            created_at: "om.created_at",
            id: "om.user_id",
            id_prefix: UserId::PREFIX,
        };
        page_newest_first(&self.db, &list, params![org], page, |r| from_row(&r)).await
    }

    /// Adds an existing user (org admins add non-owners; owners add owners).
    pub async fn add_org_member(
        &self,
        org: &OrganizationId,
        actor: &Actor,
        user: &UserId,
        role: OrgRole,
    ) -> Result<OrgMember, Error> {
        let mut tx = self.db.begin().await?;
        lock_org(&mut tx, org).await?;
        let me = actor_org_role(&mut tx, org, actor).await?;
        if me < OrgRole::Admin {
            return Err(Error::Forbidden(
                "This needs the organization admin role or higher.".into(),
            ));
        }
        if role == OrgRole::Owner && me < OrgRole::Owner {
            return Err(Error::NeedsOwner);
        }
        let r = tx
            .execute(
                "INSERT INTO org_members (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
                params![org, user, role.rank(), now_ms()],
            )
            .await;
        match r {
            Err(e) if e.unique_constraint() == Some("org_members_organization_id_user_id_key") => {
                return Err(Error::AlreadyMember)
            }
            r => r?,
        };
        let m = member_in_tx(&mut tx, org, user)
            .await?
            .ok_or(Error::NotFound)?;
        let changes = Changes::new().field("role", Json::Null, role.as_str());
        org_member_event(&mut tx, "organization.member_added", org, user, changes).await?;
        tx.commit().await?;
        Ok(m)
    }

    /// Changes a role or removes an org member. Anyone may remove
    /// themselves (leave) unless they are the last owner.
    pub async fn change_org_member(
        &self,
        org: &OrganizationId,
        actor: &Actor,
        target: &UserId,
        change: OrgChange,
    ) -> Result<Option<OrgMember>, Error> {
        let mut tx = self.db.begin().await?;
        let owners = lock_org(&mut tx, org).await?;
        let me = actor_org_role(&mut tx, org, actor).await?;
        let current = member_in_tx(&mut tx, org, target)
            .await?
            .ok_or(Error::NotFound)?;
        if change == OrgChange::Remove && actor.user() == Some(target) {
            check_leave(current.role.as_workspace_role(), owners)?;
        } else {
            let c = match change {
                OrgChange::SetRole(r) => Change::SetRole(r.as_workspace_role()),
                OrgChange::Remove => Change::Remove,
            };
            check_change(
                me.as_workspace_role(),
                current.role.as_workspace_role(),
                c,
                owners,
            )?;
        }
        let out = match change {
            OrgChange::SetRole(role) => {
                tx.execute(
                    "UPDATE org_members SET role = $3 WHERE organization_id = $1 AND user_id = $2",
                    params![org, target, role.rank()],
                )
                .await?;
                let changes = Changes::new().field("role", current.role.as_str(), role.as_str());
                org_member_event(
                    &mut tx,
                    "organization.member_role_changed",
                    org,
                    target,
                    changes,
                )
                .await?;
                Some(OrgMember { role, ..current })
            }
            OrgChange::Remove => {
                tx.execute(
                    "DELETE FROM org_members WHERE organization_id = $1 AND user_id = $2",
                    params![org, target],
                )
                .await?;
                let changes = Changes::new().field("role", current.role.as_str(), Json::Null);
                org_member_event(&mut tx, "organization.member_removed", org, target, changes)
                    .await?;
                None
            }
        };
        tx.commit().await?;
        Ok(out)
    }
}
