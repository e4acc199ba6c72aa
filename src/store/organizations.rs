//! Organizations: the parts workspace creation needs. (The organization API
//! of SPEC §6 builds on these.)

use super::db::Tx;
use crate::domain::ids::{OrganizationId, UserId};
use crate::domain::slug;
use crate::domain::time::Millis;
use crate::domain::Error;
use crate::params;

/// Inserts an organization with `owner` as its owner; generates the slug
/// from the name when none is given.
pub(crate) async fn insert_organization(
    tx: &mut Tx,
    name: &str,
    chosen_slug: Option<&str>,
    owner: &UserId,
    now: Millis,
) -> Result<OrganizationId, Error> {
    let slug = match chosen_slug {
        Some(s) => s.to_owned(),
        None => {
            let base = slug::from_name(name).unwrap_or_else(slug::random);
            super::workspaces::free_slug(tx, "organizations", &base).await?
        }
    };
    let id = OrganizationId::new();
    let r = tx
        .execute(
            "INSERT INTO organizations (id, name, slug, created_by, created_at, updated_at, version)
             VALUES ($1, $2, $3, $4, $5, $5, 1)",
            params![&id, name, &slug, owner, now],
        )
        .await;
    match r {
        Err(e) if e.unique_constraint() == Some("organizations_slug_key") => {
            return Err(if chosen_slug.is_some() {
                Error::SlugTaken(slug)
            } else {
                Error::Conflict("organization slug race, retry".into())
            })
        }
        r => r?,
    };
    tx.execute(
        "INSERT INTO org_members (organization_id, user_id, role, created_at) VALUES ($1, $2, 4, $3)",
        params![&id, owner, now],
    )
    .await?;
    Ok(id)
}

/// The short form of an organization, for `expand=organization`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OrganizationSummary {
    pub id: String,
    pub name: String,
    pub slug: String,
}

impl super::Store {
    pub async fn organization_summary(
        &self,
        id: &OrganizationId,
    ) -> Result<Option<OrganizationSummary>, Error> {
        let row = self
            .db
            .fetch_optional(
                "SELECT id, name, slug FROM organizations WHERE id = $1",
                params![id],
            )
            .await?;
        Ok(match row {
            Some(r) => Some(OrganizationSummary {
                id: r.text(0)?,
                name: r.text(1)?,
                slug: r.text(2)?,
            }),
            None => None,
        })
    }
}
