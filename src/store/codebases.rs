//! Codebases of a workspace.

use super::db::{DbError, Row, Tx};
use super::events::record;
use super::lists::{page_in_workspace, Table};
use super::Store;
use crate::domain::error::check_version;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::{CodebaseId, WorkspaceId};
use crate::domain::pagination::{Page, PageRequest, Sort};
use crate::domain::project::{Codebase, CodebaseFields, SourceType};
use crate::domain::time::now_ms;
use crate::domain::Error;
use crate::params;
use serde_json::Value as Json;

const COLS: &str =
    "id, name, source_type, path, repository, branch, created_at, updated_at, version";
const TABLE: Table = Table {
    name: "codebases",
    id_prefix: CodebaseId::PREFIX,
    cols: COLS,
};

fn codebase_from(r: &Row) -> Result<Codebase, DbError> {
    Ok(Codebase {
        id: CodebaseId::from_db(r.text(0)?),
        name: r.text(1)?,
        source_type: SourceType::parse(&r.text(2)?).ok_or(DbError::Decode(2))?,
        path: r.opt_text(3)?,
        repository: r.opt_text(4)?,
        branch: r.opt_text(5)?,
        created_at: r.int(6)?,
        updated_at: r.int(7)?,
        version: r.int(8)?,
    })
}

impl Codebase {
    pub fn fields(&self) -> CodebaseFields {
        CodebaseFields {
            name: self.name.clone(),
            source_type: self.source_type,
            path: self.path.clone(),
            repository: self.repository.clone(),
            branch: self.branch.clone(),
        }
    }
}

async fn locked_codebase(tx: &mut Tx, ws: &WorkspaceId, id: &str) -> Result<Codebase, Error> {
    let sql = format!(
        "SELECT {COLS} FROM codebases WHERE workspace_id = $1 AND id = $2{}",
        tx.for_update()
    );
    let row = tx
        .fetch_optional(&sql, params![ws, id])
        .await?
        .ok_or(Error::NotFound)?;
    Ok(codebase_from(&row)?)
}

impl Store {
    pub async fn create_codebase(
        &self,
        ws: &WorkspaceId,
        f: &CodebaseFields,
    ) -> Result<Codebase, Error> {
        let now = now_ms();
        let c = Codebase {
            id: CodebaseId::new(),
            name: f.name.clone(),
            source_type: f.source_type,
            path: f.path.clone(),
            repository: f.repository.clone(),
            branch: f.branch.clone(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut tx = self.db.begin().await?;
        tx.execute(
            "INSERT INTO codebases (id, workspace_id, name, source_type, path, repository, branch,
                    created_at, updated_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1)",
            params![
                &c.id,
                ws,
                &c.name,
                c.source_type.as_str(),
                c.path.clone(),
                c.repository.clone(),
                c.branch.clone(),
                now
            ],
        )
        .await?;
        let changes = Changes::new()
            .field("name", Json::Null, c.name.as_str())
            .field("source_type", Json::Null, c.source_type.as_str());
        let event = NewEvent::in_workspace("codebase.created", ws, "codebase", c.id.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(c)
    }

    pub async fn codebase(&self, ws: &WorkspaceId, id: &str) -> Result<Codebase, Error> {
        let row = self
            .db
            .fetch_optional(
                &format!("SELECT {COLS} FROM codebases WHERE workspace_id = $1 AND id = $2"),
                params![ws, id],
            )
            .await?
            .ok_or(Error::NotFound)?;
        Ok(codebase_from(&row)?)
    }

    pub async fn list_codebases(
        &self,
        ws: &WorkspaceId,
        sort: Sort,
        page: &PageRequest,
    ) -> Result<Page<Codebase>, Error> {
        page_in_workspace(&self.db, &TABLE, ws, sort, page, |r| codebase_from(&r)).await
    }

    /// Applies `change` to the current fields under the row lock; `change`
    /// validates the result (it sees the stored values).
    pub async fn update_codebase(
        &self,
        ws: &WorkspaceId,
        id: &str,
        if_match: Option<i64>,
        change: impl FnOnce(&CodebaseFields) -> Result<CodebaseFields, Error>,
    ) -> Result<Codebase, Error> {
        let mut tx = self.db.begin().await?;
        let mut c = locked_codebase(&mut tx, ws, id).await?;
        check_version(if_match, c.version)?;
        let before = c.fields();
        let after = change(&before)?;
        if after == before {
            tx.commit().await?;
            return Ok(c);
        }
        c.name = after.name;
        c.source_type = after.source_type;
        c.path = after.path;
        c.repository = after.repository;
        c.branch = after.branch;
        c.updated_at = now_ms();
        c.version += 1;
        tx.execute(
            "UPDATE codebases SET name = $2, source_type = $3, path = $4, repository = $5, branch = $6,
                updated_at = $7, version = $8 WHERE id = $1",
            params![
                &c.id,
                &c.name,
                c.source_type.as_str(),
                c.path.clone(),
                c.repository.clone(),
                c.branch.clone(),
                c.updated_at,
                c.version
            ],
        )
        .await?;
        let changes = Changes::new()
            .field("name", before.name.as_str(), c.name.as_str())
            .field(
                "source_type",
                before.source_type.as_str(),
                c.source_type.as_str(),
            )
            .field("path", before.path.clone(), c.path.clone())
            .field(
                "repository",
                before.repository.clone(),
                c.repository.clone(),
            )
            .field("branch", before.branch.clone(), c.branch.clone());
        let event = NewEvent::in_workspace("codebase.updated", ws, "codebase", c.id.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(c)
    }

    pub async fn delete_codebase(
        &self,
        ws: &WorkspaceId,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        let c = locked_codebase(&mut tx, ws, id).await?;
        check_version(if_match, c.version)?;
        tx.execute("DELETE FROM codebases WHERE id = $1", params![&c.id])
            .await?;
        let changes = Changes::new().field("name", c.name.as_str(), Json::Null);
        let event = NewEvent::in_workspace("codebase.deleted", ws, "codebase", c.id.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest codebases of a workspace, for `expand=codebases`.
    pub async fn recent_codebases(
        &self,
        ws: &WorkspaceId,
        limit: i64,
    ) -> Result<Vec<Codebase>, Error> {
        let rows = self
            .db
            .fetch_all(
                &format!(
                    "SELECT {COLS} FROM codebases WHERE workspace_id = $1
                     ORDER BY created_at DESC, id DESC LIMIT $2"
                ),
                params![ws, limit],
            )
            .await?;
        Ok(rows.iter().map(codebase_from).collect::<Result<_, _>>()?)
    }
}
