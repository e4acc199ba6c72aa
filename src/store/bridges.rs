//! Bridges of a workspace. Credentials arrive sealed (see `crypto`); this
//! module stores and replaces the sealed bytes and never returns them
//! except through [`Store::sealed_bridge_credentials`].

use serde_json::Value as Json;

use super::db::{DbError, Row, Tx};
use super::events::record;
use super::lists::{page_in_workspace, Table};
use super::Store;
use crate::domain::bridge::{Bridge, BridgePatch, NewBridge, SealedCredentials};
use crate::domain::error::check_version;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::{BridgeId, WorkspaceId};
use crate::domain::pagination::{Page, PageRequest, Sort};
use crate::domain::time::{now_ms, Millis};
use crate::domain::Error;
use crate::params;

const COLS: &str =
    "id, kind, name, config, enabled, credentials IS NOT NULL, created_at, updated_at, version";
const TABLE: Table = Table {
    name: "bridges",
    id_prefix: BridgeId::PREFIX,
    cols: COLS,
};

fn bridge_from(r: &Row) -> Result<Bridge, DbError> {
    Ok(Bridge {
        id: BridgeId::from_db(r.text(0)?),
        kind: r.text(1)?,
        name: r.text(2)?,
        config: serde_json::from_str(&r.text(3)?).unwrap_or_default(),
        enabled: r.bool(4)?,
        has_credentials: r.bool(5)?,
        created_at: r.int(6)?,
        updated_at: r.int(7)?,
        version: r.int(8)?,
    })
}

async fn locked_bridge(tx: &mut Tx, ws: &WorkspaceId, id: &str) -> Result<Bridge, Error> {
    let sql = format!(
        "SELECT {COLS} FROM bridges WHERE workspace_id = $1 AND id = $2{}",
        tx.for_update()
    );
    let row = tx
        .fetch_optional(&sql, params![ws, id])
        .await?
        .ok_or(Error::NotFound)?;
    Ok(bridge_from(&row)?)
}

/// Inserts a bridge inside a caller's transaction (also used by the
/// workspace template at creation).
pub(crate) async fn insert_bridge(
    tx: &mut Tx,
    ws: &WorkspaceId,
    b: &NewBridge,
    now: Millis,
) -> Result<Bridge, Error> {
    tx.execute(
        "INSERT INTO bridges (id, workspace_id, kind, name, config, enabled, credentials, created_at, updated_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1)",
        params![
            &b.id,
            ws,
            &b.kind,
            &b.name,
            Json::Object(b.config.clone()).to_string(),
            b.enabled,
            b.credentials.clone().map(|c| c.0),
            now
        ],
    )
    .await?;
    Ok(Bridge {
        id: b.id.clone(),
        kind: b.kind.clone(),
        name: b.name.clone(),
        config: b.config.clone(),
        enabled: b.enabled,
        has_credentials: b.credentials.is_some(),
        created_at: now,
        updated_at: now,
        version: 1,
    })
}

/// Records a new bridge (credentials never in an event, only whether
/// there are any).
pub(crate) async fn bridge_created(tx: &mut Tx, ws: &WorkspaceId, b: &Bridge) -> Result<(), Error> {
    let changes = Changes::new()
        .field("kind", Json::Null, b.kind.as_str())
        .field("name", Json::Null, b.name.as_str())
        .field("has_credentials", Json::Null, b.has_credentials);
    let event =
        NewEvent::in_workspace("bridge.created", ws, "bridge", b.id.as_str()).with_changes(changes);
    record(tx, event).await
}

impl Store {
    pub async fn create_bridge(&self, ws: &WorkspaceId, b: &NewBridge) -> Result<Bridge, Error> {
        let mut tx = self.db.begin().await?;
        let out = insert_bridge(&mut tx, ws, b, now_ms()).await?;
        bridge_created(&mut tx, ws, &out).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn bridge(&self, ws: &WorkspaceId, id: &str) -> Result<Bridge, Error> {
        let row = self
            .db
            .fetch_optional(
                &format!("SELECT {COLS} FROM bridges WHERE workspace_id = $1 AND id = $2"),
                params![ws, id],
            )
            .await?
            .ok_or(Error::NotFound)?;
        Ok(bridge_from(&row)?)
    }

    pub async fn list_bridges(
        &self,
        ws: &WorkspaceId,
        sort: Sort,
        page: &PageRequest,
    ) -> Result<Page<Bridge>, Error> {
        page_in_workspace(&self.db, &TABLE, ws, sort, page, |r| bridge_from(&r)).await
    }

    pub async fn update_bridge(
        &self,
        ws: &WorkspaceId,
        id: &str,
        patch: &BridgePatch,
        if_match: Option<i64>,
    ) -> Result<Bridge, Error> {
        let mut tx = self.db.begin().await?;
        let mut b = locked_bridge(&mut tx, ws, id).await?;
        check_version(if_match, b.version)?;
        if patch.is_empty() {
            tx.commit().await?;
            return Ok(b);
        }
        let before = b.clone();
        if let Some(v) = &patch.name {
            b.name = v.clone();
        }
        if let Some(v) = &patch.config {
            b.config = v.clone();
        }
        if let Some(v) = patch.enabled {
            b.enabled = v;
        }
        b.updated_at = now_ms();
        b.version += 1;
        tx.execute(
            "UPDATE bridges SET name = $2, config = $3, enabled = $4, updated_at = $5, version = $6 WHERE id = $1",
            params![
                &b.id,
                &b.name,
                Json::Object(b.config.clone()).to_string(),
                b.enabled,
                b.updated_at,
                b.version
            ],
        )
        .await?;
        if let Some(creds) = &patch.credentials {
            tx.execute(
                "UPDATE bridges SET credentials = $2 WHERE id = $1",
                params![&b.id, creds.clone().map(|c| c.0)],
            )
            .await?;
            b.has_credentials = creds.is_some();
        }
        let changes = Changes::new()
            .field("name", before.name.as_str(), b.name.as_str())
            .field(
                "config",
                Json::Object(before.config.clone()),
                Json::Object(b.config.clone()),
            )
            .field("enabled", before.enabled, b.enabled)
            .field("has_credentials", before.has_credentials, b.has_credentials);
        // A replaced secret shows as replaced, never as itself.
        let changes = match &patch.credentials {
            Some(Some(_)) if before.has_credentials => {
                changes.always("credentials", "[redacted]", "[replaced]")
            }
            _ => changes,
        };
        let event = NewEvent::in_workspace("bridge.updated", ws, "bridge", b.id.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(b)
    }

    pub async fn delete_bridge(
        &self,
        ws: &WorkspaceId,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        let b = locked_bridge(&mut tx, ws, id).await?;
        check_version(if_match, b.version)?;
        tx.execute("DELETE FROM bridges WHERE id = $1", params![&b.id])
            .await?;
        let changes = Changes::new().field("name", b.name.as_str(), Json::Null);
        let event = NewEvent::in_workspace("bridge.deleted", ws, "bridge", b.id.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The sealed credentials column exactly as stored: for the code that
    /// uses a bridge (it opens them with the server's cipher) and for tests
    /// that prove no plaintext reaches the database.
    pub async fn sealed_bridge_credentials(
        &self,
        id: &BridgeId,
    ) -> Result<Option<SealedCredentials>, Error> {
        let row = self
            .db
            .fetch_optional("SELECT credentials FROM bridges WHERE id = $1", params![id])
            .await?;
        // NULL (no credentials) does not decode as bytes.
        Ok(row.and_then(|r| r.bytes(0).ok()).map(SealedCredentials))
    }
}
