//! Workspace memberships: list, add, change role, remove, leave, transfer.
//!
//! Every change runs in one write transaction that first locks the
//! workspace row and its owner rows (`FOR UPDATE` on PostgreSQL; the SQLite
//! writer transaction is already serialized). The last-owner rule is then
//! decided on counts nobody else can change until we commit, so two owners
//! demoting each other at once leave one owner. `member_count` is updated
//! in the same transaction.

use super::db::{Row, Tx};
use super::lists::{page_newest_first, NewestFirst};
use super::Store;
use serde_json::Value as Json;

use super::events::record;
use crate::domain::error::check_version;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::{MembershipId, OrganizationId, UserId, WorkspaceId};
use crate::domain::members::{check_change, check_grant, check_leave, Actor, Change, Member};
use crate::domain::pagination::{Page, PageRequest};
use crate::domain::plans::Plans;
use crate::domain::roles::Role;
use crate::domain::time::{now_ms, Millis};
use crate::domain::Error;
use crate::params;

pub(crate) const MEMBER_COLS: &str =
    "m.id, u.id, u.email, u.name, m.role, m.created_at, m.invited_by, m.version";

pub(crate) fn member_from(r: &Row) -> Result<Member, Error> {
    Ok(Member {
        id: MembershipId::from_db(r.text(0)?),
        user_id: UserId::from_db(r.text(1)?),
        email: r.text(2)?,
        name: r.text(3)?,
        role: Role::from_rank(r.int(4)?).ok_or_else(|| Error::Internal("bad role rank".into()))?,
        joined_at: r.int(5)?,
        invited_by: r.opt_text(6)?,
        version: r.int(7)?,
    })
}

/// Filters of the member list.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub role: Option<Role>,
    /// Case-insensitive substring of name or email.
    pub q: Option<String>,
}

/// The workspace row, locked, as far as membership changes need it.
pub(crate) struct LockedWorkspace {
    pub id: WorkspaceId,
    pub plan: String,
    pub member_count: i64,
    pub status: String,
    pub organization_id: Option<String>,
    pub version: i64,
}

/// Locks the workspace row, then its owner rows; returns the workspace and
/// the owners' user ids. Every membership change takes this lock first (and
/// in this order), so they serialize per workspace.
pub(crate) async fn lock_workspace(
    tx: &mut Tx,
    ws: &WorkspaceId,
) -> Result<(LockedWorkspace, Vec<String>), Error> {
    let sql = format!(
        "SELECT plan, member_count, status, organization_id, version FROM workspaces WHERE id = $1{}",
        tx.for_update()
    );
    let row = tx
        .fetch_optional(&sql, params![ws])
        .await?
        .ok_or(Error::NotFound)?;
    let locked = LockedWorkspace {
        id: ws.clone(),
        plan: row.text(0)?,
        member_count: row.int(1)?,
        status: row.text(2)?,
        organization_id: row.opt_text(3)?,
        version: row.int(4)?,
    };
    let sql = format!(
        "SELECT user_id FROM memberships WHERE workspace_id = $1 AND role = 4 ORDER BY user_id{}",
        tx.for_update()
    );
    let owners = tx
        .fetch_all(&sql, params![ws])
        .await?
        .iter()
        .map(|r| r.text(0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((locked, owners))
}

/// The actor's effective role, read inside the transaction (the role the
/// access check saw may have changed since).
pub(crate) async fn actor_role(
    tx: &mut Tx,
    ws: &WorkspaceId,
    org: Option<&str>,
    actor: &Actor,
) -> Result<Option<Role>, Error> {
    let Actor::User(user) = actor else {
        return Ok(Some(Role::Owner));
    };
    let direct = tx
        .fetch_optional(
            "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2",
            params![ws, user],
        )
        .await?
        .map(|r| r.int(0))
        .transpose()?
        .and_then(Role::from_rank);
    let inherited = match org {
        Some(org) => tx
            .fetch_optional(
                "SELECT role FROM org_members WHERE organization_id = $1 AND user_id = $2",
                params![org, user],
            )
            .await?
            .map(|r| r.int(0))
            .transpose()?
            .and_then(crate::domain::roles::OrgRole::from_rank),
        None => None,
    };
    Ok(crate::domain::roles::effective_role(direct, inherited))
}

/// Inserts a membership under the workspace lock: refuses an existing
/// member (409) and a full plan (403 `plan_limit`), counts it.
pub(crate) async fn insert_membership(
    tx: &mut Tx,
    locked: &LockedWorkspace,
    plans: &Plans,
    user: &UserId,
    role: Role,
    invited_by: Option<&str>,
    now: Millis,
) -> Result<MembershipId, Error> {
    let exists = tx
        .fetch_optional(
            "SELECT 1 FROM memberships WHERE workspace_id = $1 AND user_id = $2",
            params![&locked.id, user],
        )
        .await?;
    if exists.is_some() {
        return Err(Error::AlreadyMember);
    }
    if let Some(max) = plans.limits(&locked.plan).max_members {
        if locked.member_count >= max {
            return Err(Error::PlanLimit("members".into()));
        }
    }
    let id = MembershipId::new();
    let r = tx
        .execute(
            "INSERT INTO memberships (id, workspace_id, user_id, role, ws_created_at, invited_by, created_at)
             SELECT $1, w.id, $3, $4, w.created_at, $5, $6 FROM workspaces w WHERE w.id = $2",
            params![&id, &locked.id, user, role.rank(), invited_by, now],
        )
        .await;
    match r {
        Err(e) if e.unique_constraint() == Some("memberships_user_id_workspace_id_key") => {
            return Err(Error::AlreadyMember)
        }
        Ok(0) => return Err(Error::NotFound),
        r => r?,
    };
    tx.execute(
        "UPDATE workspaces SET member_count = member_count + 1 WHERE id = $1",
        params![&locked.id],
    )
    .await?;
    Ok(id)
}

pub(crate) async fn member_in_tx(
    tx: &mut Tx,
    ws: &WorkspaceId,
    user: &UserId,
) -> Result<Option<Member>, Error> {
    let sql = format!(
        "SELECT {MEMBER_COLS} FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.workspace_id = $1 AND m.user_id = $2"
    );
    tx.fetch_optional(&sql, params![ws, user])
        .await?
        .map(|r| member_from(&r))
        .transpose()
}

impl Store {
    /// Adds a user to a workspace and counts it in `member_count`, in one
    /// transaction. An existing member is 409 `already_member`; a full plan
    /// is 403 `plan_limit` (see [`super::plans::check_member_limit`]).
    pub async fn add_member(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
        role: Role,
        invited_by: Option<&UserId>,
    ) -> Result<MembershipId, Error> {
        let mut tx = self.db.begin().await?;
        let (locked, _) = lock_workspace(&mut tx, workspace).await?;
        let id = insert_membership(
            &mut tx,
            &locked,
            &self.plans(),
            user,
            role,
            invited_by.map(|u| u.as_str()),
            now_ms(),
        )
        .await?;
        let changes = Changes::new().field("role", Json::Null, role.as_str());
        member_event(&mut tx, "member.added", &locked, user, changes).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Adds an existing user on behalf of `actor` (whose role is re-read
    /// under the lock: only owners grant `owner`).
    pub async fn add_member_as(
        &self,
        ws: &WorkspaceId,
        actor: &Actor,
        user: &UserId,
        role: Role,
    ) -> Result<Member, Error> {
        let mut tx = self.db.begin().await?;
        let (locked, _) = lock_workspace(&mut tx, ws).await?;
        let me = actor_role(&mut tx, ws, locked.organization_id.as_deref(), actor)
            .await?
            .ok_or(Error::NotFound)?;
        check_grant(me, role)?;
        let invited_by = actor.user().map(|u| u.as_str());
        insert_membership(
            &mut tx,
            &locked,
            &self.plans(),
            user,
            role,
            invited_by,
            now_ms(),
        )
        .await?;
        let m = member_in_tx(&mut tx, ws, user)
            .await?
            .ok_or(Error::NotFound)?;
        let changes = Changes::new().field("role", Json::Null, role.as_str());
        member_event(&mut tx, "member.added", &locked, user, changes).await?;
        tx.commit().await?;
        Ok(m)
    }

    pub async fn member(&self, ws: &WorkspaceId, user: &UserId) -> Result<Option<Member>, Error> {
        let sql = format!(
            "SELECT {MEMBER_COLS} FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.workspace_id = $1 AND m.user_id = $2"
        );
        self.db
            .fetch_optional(&sql, params![ws, user])
            .await?
            .map(|r| member_from(&r))
            .transpose()
    }

    /// Members, newest first, one keyset (or offset) page.
    pub async fn list_members(
        &self,
        ws: &WorkspaceId,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> Result<Page<Member>, Error> {
        let mut params = params![ws];
        let mut conds = String::from("m.workspace_id = $1");
        if let Some(r) = filter.role {
            params.push(r.rank().into());
            conds.push_str(&format!(" AND m.role = ${}", params.len()));
        }
        if let Some(q) = &filter.q {
            params.push(super::workspaces::like_pattern(q).into());
            let n = params.len();
            // Emails are lowercased when stored (`email_lower`).
            let name = self.backend().fold("u.name");
            conds.push_str(&format!(
                " AND ({name} LIKE ${n} ESCAPE '\\' OR u.email_lower LIKE ${n} ESCAPE '\\')"
            ));
        }
        let list = NewestFirst {
            cols: MEMBER_COLS,
            from: &format!("FROM memberships m JOIN users u ON u.id = m.user_id WHERE {conds}"),
            created_at: "m.created_at",
            id: "m.id",
            id_prefix: MembershipId::PREFIX,
        };
        page_newest_first(&self.db, &list, params, page, |r| member_from(&r)).await
    }

    /// Changes a member's role or removes it, under the permission table of
    /// SPEC §4 and the last-owner rule, decided under the lock.
    pub async fn change_member(
        &self,
        ws: &WorkspaceId,
        actor: &Actor,
        target: &UserId,
        change: Change,
        if_match: Option<i64>,
    ) -> Result<Option<Member>, Error> {
        let mut tx = self.db.begin().await?;
        let (locked, owners) = lock_workspace(&mut tx, ws).await?;
        let me = actor_role(&mut tx, ws, locked.organization_id.as_deref(), actor)
            .await?
            .ok_or(Error::NotFound)?;
        let current = member_in_tx(&mut tx, ws, target)
            .await?
            .ok_or(Error::NotFound)?;
        check_change(me, current.role, change, owners.len())?;
        // After the role checks, so a 412 tells no more than a 403 would.
        check_version(if_match, current.version)?;
        let before = current.role;
        let result = match change {
            Change::SetRole(role) if role == before => Some(current),
            Change::SetRole(role) => {
                tx.execute(
                    "UPDATE memberships SET role = $3, version = version + 1
                     WHERE workspace_id = $1 AND user_id = $2",
                    params![ws, target, role.rank()],
                )
                .await?;
                let changes = Changes::new().field("role", before.as_str(), role.as_str());
                member_event(&mut tx, "member.role_changed", &locked, target, changes).await?;
                Some(Member {
                    role,
                    version: current.version + 1,
                    ..current
                })
            }
            Change::Remove => {
                remove_in_tx(&mut tx, ws, target).await?;
                let changes = Changes::new().field("role", before.as_str(), Json::Null);
                member_event(&mut tx, "member.removed", &locked, target, changes).await?;
                None
            }
        };
        tx.commit().await?;
        Ok(result)
    }

    /// The caller leaves; the last owner cannot.
    pub async fn leave(&self, ws: &WorkspaceId, user: &UserId) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        let (locked, owners) = lock_workspace(&mut tx, ws).await?;
        let me = member_in_tx(&mut tx, ws, user)
            .await?
            .ok_or(Error::NotFound)?;
        check_leave(me.role, owners.len())?;
        remove_in_tx(&mut tx, ws, user).await?;
        let changes = Changes::new().field("role", me.role.as_str(), Json::Null);
        member_event(&mut tx, "member.left", &locked, user, changes).await?;
        Ok(tx.commit().await?)
    }

    /// Makes `target` (a member) an owner and the caller an admin.
    pub async fn transfer(
        &self,
        ws: &WorkspaceId,
        actor: &Actor,
        target: &UserId,
        if_match: Option<i64>,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        let (locked, _) = lock_workspace(&mut tx, ws).await?;
        let me = actor_role(&mut tx, ws, locked.organization_id.as_deref(), actor).await?;
        if me != Some(Role::Owner) {
            return Err(Error::NeedsOwner);
        }
        // The workspace's version: a transfer changes the workspace.
        check_version(if_match, locked.version)?;
        if actor.user() == Some(target) {
            return Err(Error::field(
                "user_id",
                "invalid",
                "you cannot transfer to yourself",
            ));
        }
        if member_in_tx(&mut tx, ws, target).await?.is_none() {
            return Err(Error::field(
                "user_id",
                "not_member",
                "must be a member of the workspace",
            ));
        }
        tx.execute(
            "UPDATE memberships SET role = 4, version = version + 1 WHERE workspace_id = $1 AND user_id = $2",
            params![ws, target],
        )
        .await?;
        if let Some(me) = actor.user() {
            // Only a direct owner steps down; an inherited owner has no
            // membership to change.
            tx.execute(
                "UPDATE memberships SET role = 3, version = version + 1
                 WHERE workspace_id = $1 AND user_id = $2 AND role = 4",
                params![ws, me],
            )
            .await?;
        }
        tx.execute(
            "UPDATE workspaces SET updated_at = $2, version = version + 1 WHERE id = $1",
            params![ws, now_ms()],
        )
        .await?;
        let changes = Changes::new().field(
            "owner",
            actor.user().map(|u| u.to_string()),
            target.to_string(),
        );
        let event = NewEvent::in_workspace("workspace.transferred", ws, "workspace", ws.as_str())
            .in_org(locked.organization_id.clone().map(OrganizationId::from_db))
            .with_changes(changes);
        record(&mut tx, event).await?;
        Ok(tx.commit().await?)
    }
}

/// Records a change to `user`'s membership of the locked workspace.
pub(crate) async fn member_event(
    tx: &mut Tx,
    kind: &'static str,
    locked: &LockedWorkspace,
    user: &UserId,
    changes: Changes,
) -> Result<(), Error> {
    let event = NewEvent::in_workspace(kind, &locked.id, "member", user.as_str())
        .in_org(locked.organization_id.clone().map(OrganizationId::from_db))
        .with_changes(changes);
    record(tx, event).await
}

async fn remove_in_tx(tx: &mut Tx, ws: &WorkspaceId, user: &UserId) -> Result<(), Error> {
    let n = tx
        .execute(
            "DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2",
            params![ws, user],
        )
        .await?;
    if n > 0 {
        tx.execute(
            "UPDATE workspaces SET member_count = member_count - 1 WHERE id = $1",
            params![ws],
        )
        .await?;
    }
    Ok(())
}
