//! Bulk seeding for the benchmark (`workspaced admin seed-bench`).
//!
//! Writes users, workspaces and memberships straight through the [`Db`]
//! executor with multi-row INSERTs in large transactions (the same SQL on
//! both databases), so a million memberships take seconds, not hours. The
//! rows are what the API would have written: one owner membership per
//! workspace, `workspaces.member_count` equal to the number of memberships,
//! `memberships.ws_created_at` equal to the workspace's `created_at`.
//!
//! Shape of the data:
//! * user 0 is the bench user; it is an admin (not the owner) of exactly
//!   `bench_user_workspaces` workspaces spread evenly over creation time, so
//!   it can read, list, PATCH and add members to them (they are on the
//!   `pro` plan, so adding the spare users stays within the member limit);
//! * the last `spare` users (10 %, at most 1,000) belong to nothing: the
//!   add-member scenario adds them, so no pair is taken in advance;
//! * every other workspace gets a uniformly random owner and the remaining
//!   memberships are spread evenly over the workspaces, with random distinct
//!   users and roles admin 10 % / member 60 % / viewer 30 %.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::db::{Backend, Db, DbError, Tx, Value};
use super::Store;
use crate::domain::ids::{MembershipId, UserId, WorkspaceId};
use crate::domain::pagination::{Cursor, CursorKey, Sort};
use crate::domain::time::{now_ms, Millis};

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedSpec {
    pub users: u64,
    pub workspaces: u64,
    /// All memberships, owner memberships included.
    pub memberships: u64,
    pub bench_user_workspaces: u64,
    pub rng_seed: u64,
}

/// What was seeded, for the benchmark fixture.
#[derive(Debug, Clone)]
pub struct SeedReport {
    /// Random tag in every seeded email and slug, so seeding twice works.
    pub tag: String,
    pub bench_user: UserId,
    pub bench_email: String,
    /// The bench user's workspaces with their `created_at`, newest first
    /// (the order of `GET /v1/workspaces`).
    pub bench_workspaces: Vec<(WorkspaceId, Millis)>,
    /// Users that are members of nothing.
    pub spare_users: Vec<UserId>,
    pub users_secs: f64,
    pub workspaces_secs: f64,
    pub memberships_written: u64,
}

/// Rows per INSERT statement (SQLite allows 32,766 parameters, PostgreSQL 65,535).
const USERS_PER_STMT: usize = 1000;
const WORKSPACES_PER_STMT: usize = 500;
const MEMBERSHIPS_PER_STMT: usize = 1000;
/// Workspaces (with their memberships) per transaction. Memberships are
/// stored by user (migrations/sqlite/0008), so each transaction dirties a
/// page of nearly every user's memberships, and each commit writes them all
/// to the WAL: fewer, larger transactions write each page fewer times
/// (seeding the bench data: 31,000 rows/s at 2,000 per transaction).
const WORKSPACES_PER_TX: u64 = 10_000;
const USERS_PER_TX: u64 = 10_000;

/// Role ranks (see the schema): viewer 1, member 2, admin 3, owner 4.
const OWNER: i64 = 4;
const ADMIN: i64 = 3;

impl SeedSpec {
    /// The number of users that belong to nothing.
    pub fn spare(&self) -> u64 {
        (self.users.saturating_sub(1) / 10).min(1000)
    }

    pub fn check(&self) -> Result<(), String> {
        if self.users < 3 {
            return Err("--users must be at least 3".into());
        }
        if self.workspaces < 1 {
            return Err("--workspaces must be at least 1".into());
        }
        if self.bench_user_workspaces > self.workspaces {
            return Err("--bench-user-workspaces cannot exceed --workspaces".into());
        }
        let fixed = self.workspaces + self.bench_user_workspaces;
        if self.memberships < fixed {
            return Err(format!(
                "--memberships must be at least workspaces + bench-user-workspaces = {fixed}"
            ));
        }
        let pool = self.users - 1 - self.spare();
        let extra = self.memberships - fixed;
        if extra.div_ceil(self.workspaces) > pool - 1 {
            return Err(format!(
                "too many memberships: {} per workspace, but only {} users can join each",
                extra.div_ceil(self.workspaces),
                pool - 1
            ));
        }
        Ok(())
    }
}

/// Turns a row template like `(?, ?, 'active', ?)` into `($1, $2, 'active', $3), ...`.
fn values_sql(template: &str, rows: usize) -> String {
    let mut out = String::with_capacity(rows * template.len() * 2);
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            out.push(',');
        }
        for ch in template.chars() {
            if ch == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(ch);
            }
        }
    }
    out
}

/// Inserts `rows` (each `cols` values, flattened) in statements of `per` rows.
async fn insert_rows(
    tx: &mut Tx,
    head: &str,
    template: &str,
    cols: usize,
    per: usize,
    values: Vec<Value>,
) -> Result<(), DbError> {
    let mut values = values.into_iter();
    let total = values.len() / cols;
    let mut done = 0;
    while done < total {
        let n = per.min(total - done);
        let chunk: Vec<Value> = values.by_ref().take(n * cols).collect();
        tx.execute(&format!("{head} VALUES {}", values_sql(template, n)), chunk)
            .await?;
        done += n;
    }
    Ok(())
}

impl Store {
    /// Seeds the benchmark data set. `password_hash` is used for every user.
    pub async fn seed_bench(
        &self,
        spec: &SeedSpec,
        password_hash: &str,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<SeedReport, DbError> {
        spec.check().map_err(DbError::Other)?;
        let db: &Db = &self.db;
        // The membership indexes take inserts in random user order; with
        // SQLite's default 2 MB page cache they thrash once the tables
        // outgrow it. (PostgreSQL sizes its cache itself.)
        let sqlite = db.backend() == Backend::Sqlite;
        if sqlite {
            db.execute("PRAGMA cache_size = -262144", vec![]).await?;
        }
        let mut rng = StdRng::seed_from_u64(spec.rng_seed);
        let tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
        let now = now_ms();

        // Users: index 0 is the bench user, the last `spare` ones stay alone.
        let started = Instant::now();
        let user_ids: Vec<UserId> = (0..spec.users).map(|_| UserId::new()).collect();
        let bench_email = format!("bench-{tag}@bench.local");
        let mut i = 0u64;
        while i < spec.users {
            let end = (i + USERS_PER_TX).min(spec.users);
            let mut vals = Vec::with_capacity(((end - i) * 7) as usize);
            for u in i..end {
                let email = if u == 0 {
                    bench_email.clone()
                } else {
                    format!("u{u}-{tag}@bench.local")
                };
                vals.push(Value::from(&user_ids[u as usize]));
                vals.push(Value::Text(email.clone()));
                vals.push(Value::Text(email));
                vals.push(Value::Text(format!("Bench User {u}")));
                vals.push(Value::from(password_hash));
                let at = now - (spec.users - u) as i64;
                vals.push(Value::Int(at));
                vals.push(Value::Int(at));
            }
            let mut tx = db.begin().await?;
            insert_rows(
                &mut tx,
                "INSERT INTO users (id, email, email_lower, name, password_hash, created_at, updated_at, version)",
                "(?, ?, ?, ?, ?, ?, ?, 1)",
                7,
                USERS_PER_STMT,
                vals,
            )
            .await?;
            tx.commit().await?;
            i = end;
        }
        let users_secs = started.elapsed().as_secs_f64();
        progress(&format!(
            "users: {} in {:.2} s ({:.0} rows/s)",
            spec.users,
            users_secs,
            spec.users as f64 / users_secs.max(1e-9)
        ));

        // Workspaces and memberships, WORKSPACES_PER_TX at a time.
        let started = Instant::now();
        let spare = spec.spare();
        let pool = spec.users - 1 - spare; // users 1..=pool may own or join
        let extra = spec.memberships - spec.workspaces - spec.bench_user_workspaces;
        let (per_ws, rest) = (extra / spec.workspaces, extra % spec.workspaces);
        let base = now - spec.workspaces as i64 - 1000;
        let mut bench_workspaces = Vec::with_capacity(spec.bench_user_workspaces as usize);
        let mut written = 0u64;
        let mut w = 0u64;
        while w < spec.workspaces {
            let end = (w + WORKSPACES_PER_TX).min(spec.workspaces);
            let mut ws_vals = Vec::with_capacity(((end - w) * 8) as usize);
            let mut m_vals = Vec::new();
            for i in w..end {
                let id = WorkspaceId::new();
                let created = base + i as i64;
                let owner = rng.gen_range(1..=pool);
                let mut members: Vec<(u64, i64)> = vec![(owner, OWNER)];
                // Exactly B of the W indexes flip the bench counter.
                let bench = (i * spec.bench_user_workspaces) / spec.workspaces
                    != ((i + 1) * spec.bench_user_workspaces) / spec.workspaces;
                if bench {
                    members.push((0, ADMIN));
                    bench_workspaces.push((id.clone(), created));
                }
                let k = per_ws + u64::from(i < rest);
                if k > 0 {
                    // k + 1 distinct users of the pool; drop the owner (or the last).
                    let mut picked: Vec<u64> =
                        rand::seq::index::sample(&mut rng, pool as usize, k as usize + 1)
                            .into_iter()
                            .map(|x| x as u64 + 1)
                            .collect();
                    match picked.iter().position(|&u| u == owner) {
                        Some(p) => {
                            picked.swap_remove(p);
                        }
                        None => {
                            picked.pop();
                        }
                    }
                    for u in picked {
                        let roll = rng.gen_range(0..10);
                        let role = match roll {
                            0 => 3,
                            1..=6 => 2,
                            _ => 1,
                        };
                        members.push((u, role));
                    }
                }
                ws_vals.push(Value::from(&id));
                ws_vals.push(Value::Text(format!("w{tag}-{i}")));
                ws_vals.push(Value::Text(format!("Workspace {i}")));
                // The add-member scenario adds up to `spare` users to each
                // bench workspace: more than the free plan's 25 members.
                ws_vals.push(Value::from(if bench { "pro" } else { "free" }));
                ws_vals.push(Value::Int(members.len() as i64));
                ws_vals.push(Value::from(&user_ids[owner as usize]));
                ws_vals.push(Value::Int(created));
                ws_vals.push(Value::Int(created));
                for (u, role) in members {
                    m_vals.push(Value::from(MembershipId::new()));
                    m_vals.push(Value::from(&id));
                    m_vals.push(Value::from(&user_ids[u as usize]));
                    m_vals.push(Value::Int(role));
                    m_vals.push(Value::Int(created));
                    m_vals.push(Value::Int(created));
                    written += 1;
                }
            }
            let mut tx = db.begin().await?;
            insert_rows(
                &mut tx,
                "INSERT INTO workspaces (id, slug, name, status, settings, metadata, onboarding, plan,
                    member_count, created_by, created_at, updated_at, version)",
                "(?, ?, ?, 'active', '{}', '{}', '{}', ?, ?, ?, ?, ?, 1)",
                8,
                WORKSPACES_PER_STMT,
                ws_vals,
            )
            .await?;
            insert_rows(
                &mut tx,
                "INSERT INTO memberships (id, workspace_id, user_id, role, ws_created_at, created_at)",
                "(?, ?, ?, ?, ?, ?)",
                6,
                MEMBERSHIPS_PER_STMT,
                m_vals,
            )
            .await?;
            tx.commit().await?;
            w = end;
            if w % 20_000 == 0 || w == spec.workspaces {
                let secs = started.elapsed().as_secs_f64();
                progress(&format!(
                    "workspaces: {w}/{}, memberships: {written} in {secs:.2} s ({:.0} rows/s)",
                    spec.workspaces,
                    (w + written) as f64 / secs.max(1e-9)
                ));
            }
        }
        if sqlite {
            // No ANALYZE here: the server never runs it on SQLite, and with
            // statistics of an empty org_members table SQLite plans the
            // organization branch of the list as a scan of every workspace.
            db.execute("PRAGMA cache_size = -2000", vec![]).await?;
            // The load wrote gigabytes of WAL frames (the same pages over
            // and over); copy them home and empty the WAL now, so neither
            // the check below nor the server starts on a WAL index that
            // long.
            // (Only an optimization: a reader of another process in the way
            // leaves the WAL to the server's start, which truncates it too.)
            if let Db::Sqlite(sqlite) = db {
                if let Err(e) = sqlite.checkpoint_truncate().await {
                    progress(&format!("WAL not truncated: {e}"));
                }
            }
        } else {
            // Fresh planner statistics: without them PostgreSQL estimates a
            // few rows per user and hash-joins all of a user's memberships
            // instead of walking the index for one page (5 ms vs 0.1 ms).
            db.execute("ANALYZE", vec![]).await?;
        }
        let workspaces_secs = started.elapsed().as_secs_f64();
        verify(db).await?;
        bench_workspaces.reverse(); // newest first, like the list
        let spare_users = user_ids[(spec.users - spare) as usize..].to_vec();
        Ok(SeedReport {
            tag,
            bench_user: user_ids[0].clone(),
            bench_email,
            bench_workspaces,
            spare_users,
            users_secs,
            workspaces_secs,
            memberships_written: written,
        })
    }
}

/// The invariants the API keeps, checked over the whole database after a
/// seed: member counts, one owner per workspace, the created_at copies.
async fn verify(db: &Db) -> Result<(), DbError> {
    for (what, sql) in [
        (
            "workspaces whose member_count is wrong",
            "SELECT COUNT(*) FROM workspaces w
             WHERE w.member_count <> (SELECT COUNT(*) FROM memberships m WHERE m.workspace_id = w.id)",
        ),
        (
            "workspaces without exactly one owner",
            "SELECT COUNT(*) FROM workspaces w
             WHERE (SELECT COUNT(*) FROM memberships m WHERE m.workspace_id = w.id AND m.role = 4) <> 1",
        ),
        (
            "memberships whose ws_created_at is wrong",
            "SELECT COUNT(*) FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
             WHERE m.ws_created_at <> w.created_at",
        ),
    ] {
        let n = db.fetch_all(sql, vec![]).await?[0].int(0)?;
        if n != 0 {
            return Err(DbError::Other(format!("seed check failed: {n} {what}")));
        }
    }
    Ok(())
}

impl SeedReport {
    /// The cursor of the row just before the bench user's last full page
    /// of `GET /v1/workspaces` (newest first), and how many rows precede
    /// that page. `None` with fewer than 21 workspaces.
    pub fn deep_cursor(&self) -> Option<(usize, String)> {
        let at = self.bench_workspaces.len().checked_sub(21)?;
        let (id, created) = &self.bench_workspaces[at];
        let cursor = Cursor {
            sort: Sort::CreatedDesc,
            key: CursorKey::Int(*created),
            id: id.to_string(),
        };
        Some((at + 1, cursor.encode()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_are_numbered_across_rows() {
        assert_eq!(
            super::values_sql("(?, 'x', ?)", 2),
            "($1, 'x', $2),($3, 'x', $4)"
        );
    }
}
