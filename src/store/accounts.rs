//! Users and tokens.

use std::sync::LazyLock;

use super::db::{Columns, Db, DbError, Row};
use super::lists::{page_newest_first, NewestFirst};
use super::sqlite::{self, ReadMemo};
use super::workspaces::{memoized_workspace_for, workspace_from_at, WS_COLS};
use super::Store;
use crate::domain::account::{TokenKind, User};
use crate::domain::ids::{TokenId, UserId, WorkspaceId};
use crate::domain::pagination::{Page, PageRequest};
use crate::domain::time::{now_ms, Millis};
use crate::domain::validation::FieldError;
use crate::domain::workspace::Workspace;
use crate::domain::Error;
use crate::params;

/// A token row without its hash.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: TokenId,
    pub kind: TokenKind,
    pub user_id: Option<UserId>,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
}

pub struct NewToken<'a> {
    pub kind: TokenKind,
    pub user_id: Option<&'a UserId>,
    pub name: &'a str,
    pub hash: &'a str,
    pub scopes: &'a [String],
    pub expires_at: Option<Millis>,
}

const USER_COLS: &str = "u.id, u.email, u.name, u.created_at, u.updated_at, u.version";
const TOKEN_COLS: &str =
    "t.id, t.kind, t.user_id, t.name, t.scopes, t.created_at, t.expires_at, t.last_used_at";

/// The token (by hash) and the workspace `by` = `$3` with the
/// user's direct and organization roles.
fn token_and_workspace_sql(by: &str) -> String {
    format!(
        "SELECT {TOKEN_COLS}, {WS_COLS}, m.role, om.role
         FROM tokens t
         LEFT JOIN workspaces w ON {by} = $3
         LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = t.user_id
         LEFT JOIN org_members om ON om.organization_id = w.organization_id AND om.user_id = t.user_id
         WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)"
    )
}

/// On SQLite, a token found by a reader is kept in its memo until the
/// database changes (see `store/sqlite/readers.rs`), and a lookup of the
/// same hash takes it from there: it is what reading the row again would
/// return, so it is revoked, expired or changed exactly when a read would
/// see it so. Under a read load this spares every request the token's part
/// of the query (first measured within one snapshot: +3.5 to +9.5 %
/// requests a second on the point read). PostgreSQL keeps nothing between
/// requests, and there the token and the workspace are one round trip
/// whatever is known, so it runs the query every time.
///
/// `None`: not kept; `Some(None)`: kept, but expired at `now` (the query
/// would find nothing).
fn memoized_token(memo: &ReadMemo, hash: &str, now: Millis) -> Option<Option<TokenRecord>> {
    let t = memo.get::<TokenRecord>(hash)?;
    Some(t.expires_at.is_none_or(|at| at > now).then(|| t.clone()))
}

impl TokenRecord {
    /// Roughly the memory a kept token takes (see `ReadMemo::put`).
    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.id.as_str().len()
            + self.user_id.as_ref().map_or(0, |u| u.as_str().len())
            + self.name.len()
            + self.scopes.iter().map(|s| 24 + s.len()).sum::<usize>()
    }
}

fn user_from(row: &mut Row, at: usize) -> Result<User, DbError> {
    Ok(User {
        id: UserId::from_db(row.take_text(at)?),
        email: row.take_text(at + 1)?,
        name: row.take_text(at + 2)?,
        created_at: row.int(at + 3)?,
        updated_at: row.int(at + 4)?,
        version: row.int(at + 5)?,
    })
}

fn token_from<C: Columns + ?Sized>(row: &mut C, at: usize) -> Result<TokenRecord, DbError> {
    Ok(TokenRecord {
        id: TokenId::from_db(row.take_text(at)?),
        kind: TokenKind::parse(row.str(at + 1)?).ok_or(DbError::Decode(at + 1))?,
        user_id: row.take_opt_text(at + 2)?.map(UserId::from_db),
        name: row.take_text(at + 3)?,
        scopes: serde_json::from_str(row.str(at + 4)?).unwrap_or_default(),
        created_at: row.int(at + 5)?,
        expires_at: row.opt_int(at + 6)?,
        last_used_at: row.opt_int(at + 7)?,
    })
}

impl Store {
    /// Creates a user; a taken email is 409 naming `email`.
    pub async fn create_user(
        &self,
        email: &str,
        name: &str,
        password_hash: &str,
    ) -> Result<User, Error> {
        let now = now_ms();
        let id = UserId::new();
        let r = self
            .db
            .execute(
                "INSERT INTO users (id, email, email_lower, name, password_hash, created_at, updated_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, 1)",
                params![&id, email, email.to_lowercase(), name, password_hash, now],
            )
            .await;
        match r {
            Ok(_) => Ok(User {
                id,
                email: email.to_owned(),
                name: name.to_owned(),
                created_at: now,
                updated_at: now,
                version: 1,
            }),
            Err(e) if e.unique_constraint() == Some("users_email_lower_key") => Err(Error::Taken(
                FieldError::new("email", "taken", "an account with this email exists"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The user with this email (any case) and its password hash.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>, Error> {
        let row = self
            .db
            .fetch_optional(
                &format!(
                    "SELECT {USER_COLS}, u.password_hash FROM users u WHERE u.email_lower = $1"
                ),
                params![email.to_lowercase()],
            )
            .await?;
        Ok(match row {
            Some(mut r) => Some((user_from(&mut r, 0)?, r.take_text(6)?)),
            None => None,
        })
    }

    pub async fn user_by_id(&self, id: &UserId) -> Result<Option<User>, Error> {
        let row = self
            .db
            .fetch_optional(
                &format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1"),
                params![id],
            )
            .await?;
        Ok(row.map(|mut r| user_from(&mut r, 0)).transpose()?)
    }

    /// Renames a user. `if_match` is the expected version.
    pub async fn rename_user(
        &self,
        id: &UserId,
        name: &str,
        if_match: Option<i64>,
    ) -> Result<User, Error> {
        // With no If-Match, any version; with one, only that version (the
        // -1 of a weak or malformed tag matches none). The same name again
        // is no change (`name <> $2`): no new version.
        let n = self
            .db
            .execute(
                "UPDATE users SET name = $2, updated_at = $3, version = version + 1
                 WHERE id = $1 AND ($4 = 0 OR version = $5) AND name <> $2",
                params![
                    id,
                    name,
                    now_ms(),
                    i64::from(if_match.is_some()),
                    if_match.unwrap_or(0)
                ],
            )
            .await?;
        let user = self.user_by_id(id).await?.ok_or(Error::NotFound)?;
        // Nothing written with an If-Match: a stale version (or one that
        // moved on since, when the name differs), unless it was a no-op.
        if n == 0 && if_match.is_some_and(|v| v != user.version || user.name != name) {
            return Err(Error::VersionMismatch);
        }
        Ok(user)
    }

    pub async fn create_token(&self, t: NewToken<'_>) -> Result<TokenRecord, Error> {
        let id = TokenId::new();
        let now = now_ms();
        let scopes = serde_json::to_string(t.scopes).expect("strings serialize");
        self.db
            .execute(
                "INSERT INTO tokens (id, token_hash, kind, user_id, name, scopes, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                params![&id, t.hash, t.kind.as_str(), t.user_id.map(|u| u.as_str()), t.name, scopes, now, t.expires_at],
            )
            .await?;
        Ok(TokenRecord {
            id,
            kind: t.kind,
            user_id: t.user_id.cloned(),
            name: t.name.to_owned(),
            scopes: t.scopes.to_vec(),
            created_at: now,
            expires_at: t.expires_at,
            last_used_at: None,
        })
    }

    /// Resolves a token hash; expired tokens do not resolve. A token's user,
    /// when it has one, exists: a user's tokens go with it (`tokens.user_id
    /// ... ON DELETE CASCADE`), so the profile is not read here but by the
    /// few routes that show it (`Caller::profile`).
    pub async fn authenticate(
        &self,
        hash: &str,
        now: Millis,
    ) -> Result<Option<TokenRecord>, Error> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {TOKEN_COLS} FROM tokens t
                 WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)"
            )
        });
        let params = params![hash, now];
        if let Db::Sqlite(db) = &self.db {
            // See `memoized_token`.
            return Ok(db.read_memo(|conn, memo| {
                if let Some(t) = memoized_token(memo, hash, now) {
                    return Ok(t);
                }
                let found = sqlite::find(conn, &SQL, &params, |r| token_from(r, 0))?;
                if let Some(t) = &found {
                    memo.put(hash, t.clone(), t.heap_bytes());
                }
                Ok(found)
            })?);
        }
        Ok(self.db.find(&SQL, params, |r| token_from(r, 0)).await?)
    }

    /// [`Store::authenticate`] and [`Store::workspace_for`] in one query:
    /// the token, and the workspace `key` (id or slug) with
    /// that user's direct and inherited roles (`None` when there is no such
    /// workspace). Workspace routes are the hottest; on PostgreSQL this
    /// saves a round trip per request.
    pub async fn authenticate_for_workspace(
        &self,
        hash: &str,
        now: Millis,
        key: &str,
    ) -> Result<Option<(TokenRecord, Option<Box<Workspace>>)>, Error> {
        // The hottest statement of all: its text is built once, not per request.
        static BY_ID: LazyLock<String> = LazyLock::new(|| token_and_workspace_sql("w.id"));
        static BY_SLUG: LazyLock<String> = LazyLock::new(|| token_and_workspace_sql("w.slug"));
        let sql = if key.starts_with(WorkspaceId::PREFIX) {
            &BY_ID
        } else {
            &BY_SLUG
        };
        const WS_AT: usize = 8;
        let decode = |r: &mut dyn Columns| {
            let token = token_from(r, 0)?;
            let workspace = match r.is_null(WS_AT) {
                false => Some(Box::new(workspace_from_at(r, WS_AT)?)),
                true => None,
            };
            Ok((token, workspace))
        };
        let params = params![hash, now, key];
        if let Db::Sqlite(db) = &self.db {
            // See `memoized_token`: with the token known, only the
            // workspace is looked up, through the memo as well.
            return Ok(db.read_memo(|conn, memo| {
                match memoized_token(memo, hash, now) {
                    Some(None) => return Ok(None),
                    Some(Some(token)) => {
                        let user = token.user_id.as_ref().map_or("", |u| u.as_str());
                        let workspace = memoized_workspace_for(conn, memo, key, user)?;
                        return Ok(Some((token, workspace.map(Box::new))));
                    }
                    None => {}
                }
                let found = sqlite::find(conn, sql, &params, decode)?;
                if let Some((t, _)) = &found {
                    memo.put(hash, t.clone(), t.heap_bytes());
                }
                Ok(found)
            })?);
        }
        Ok(self.db.find(sql, params, decode).await?)
    }

    /// Records use of a token; called at most once a minute per token.
    pub async fn touch_token(&self, id: &TokenId, now: Millis) -> Result<(), Error> {
        self.db
            .execute(
                "UPDATE tokens SET last_used_at = $2 WHERE id = $1",
                params![id, now],
            )
            .await?;
        Ok(())
    }

    /// Deletes a token; with `owner`, only if it belongs to that user.
    pub async fn delete_token(&self, id: &str, owner: Option<&UserId>) -> Result<bool, Error> {
        let n = match owner {
            Some(u) => {
                self.db
                    .execute(
                        "DELETE FROM tokens WHERE id = $1 AND user_id = $2 AND kind = 'personal'",
                        params![id, u],
                    )
                    .await?
            }
            None => {
                self.db
                    .execute("DELETE FROM tokens WHERE id = $1", params![id])
                    .await?
            }
        };
        Ok(n > 0)
    }

    /// The personal access tokens of a user, newest first, one keyset (or
    /// offset) page. `(created_at, id)` walks `tokens_user_idx`.
    pub async fn list_personal_tokens(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<TokenRecord>, Error> {
        let list = NewestFirst {
            cols: TOKEN_COLS,
            from: "FROM tokens t WHERE t.user_id = $1 AND t.kind = 'personal'",
            created_at: "t.created_at",
            id: "t.id",
            id_prefix: TokenId::PREFIX,
        };
        page_newest_first(&self.db, &list, params![user], page, |mut r| {
            token_from(&mut r, 0)
        })
        .await
    }
}
