//! The workspace: its fields, their rules (SPEC §3), and the values a create
//! or an update carries once validated.

use serde_json::{Map, Value};

use super::ids::{OrganizationId, UserId, WorkspaceId};
use super::roles::Role;
use super::time::Millis;
use super::validation::{has_control_chars, text, FieldError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Archived,
    Deleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Archived => "archived",
            Status::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [Status::Active, Status::Archived, Status::Deleted]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A workspace as stored, with the caller's effective role.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub icon: Option<String>,
    pub domain: Option<String>,
    pub repo_path: Option<String>,
    pub branch: Option<String>,
    pub status: Status,
    pub organization_id: Option<OrganizationId>,
    pub settings: Map<String, Value>,
    pub metadata: Map<String, Value>,
    pub onboarding: Map<String, Value>,
    pub onboarding_completed_at: Option<Millis>,
    pub logo_key: Option<String>,
    pub plan: String,
    pub trial_ends_at: Option<Millis>,
    pub member_count: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub archived_at: Option<Millis>,
    pub deleted_at: Option<Millis>,
    pub purge_at: Option<Millis>,
    pub version: i64,
    /// The caller's effective role (direct or inherited); `None` for the
    /// platform admin, who is never a member.
    pub role: Option<Role>,
}

/// A validated create request.
#[derive(Debug, Clone)]
pub struct NewWorkspace {
    pub name: String,
    /// Chosen by the client; `None` means generate one from the name.
    pub slug: Option<String>,
    pub fields: OptionalFields,
    pub settings: Map<String, Value>,
    pub metadata: Map<String, Value>,
    pub organization: Option<OrgChoice>,
    pub owner: UserId,
    /// From the template: providers and bridges the workspace starts with
    /// (`settings` above already has the template's settings under the
    /// client's).
    pub providers: Vec<String>,
    pub bridges: Vec<super::bridge::NewBridge>,
}

#[derive(Debug, Clone)]
pub enum OrgChoice {
    Existing(OrganizationId),
    New { name: String },
}

#[derive(Debug, Clone, Default)]
pub struct OptionalFields {
    pub description: Option<String>,
    pub icon: Option<String>,
    pub domain: Option<String>,
    pub repo_path: Option<String>,
    pub branch: Option<String>,
}

/// A validated update; `Some(None)` clears a nullable field.
#[derive(Debug, Clone, Default)]
pub struct WorkspacePatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<Option<String>>,
    pub icon: Option<Option<String>>,
    pub domain: Option<Option<String>>,
    pub repo_path: Option<Option<String>>,
    pub branch: Option<Option<String>>,
    /// Merge patches, applied to the stored documents.
    pub settings: Option<Value>,
    pub metadata: Option<Value>,
    pub onboarding: Option<Map<String, Value>>,
    pub onboarding_completed_at: Option<Option<Millis>>,
}

impl WorkspacePatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.slug.is_none()
            && self.description.is_none()
            && self.icon.is_none()
            && self.domain.is_none()
            && self.repo_path.is_none()
            && self.branch.is_none()
            && self.settings.is_none()
            && self.metadata.is_none()
            && self.onboarding.is_none()
            && self.onboarding_completed_at.is_none()
    }
}

pub fn name(raw: &str) -> Result<String, FieldError> {
    text("name", raw, 2, 50)
}

pub fn description(raw: &str) -> Result<String, FieldError> {
    let s = raw.trim();
    if s.chars().count() > 500 {
        return Err(FieldError::new(
            "description",
            "too_long",
            "must be at most 500 characters",
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(FieldError::new(
            "description",
            "invalid",
            "must not contain control characters",
        ));
    }
    Ok(s.to_owned())
}

/// One emoji (possibly a multi-codepoint sequence) or up to 8 characters.
pub fn icon(raw: &str) -> Result<String, FieldError> {
    let s = raw.trim();
    let n = s.chars().count();
    let looks_like_one_emoji = n <= 16 && s.chars().all(|c| !c.is_ascii() && !c.is_control());
    if n == 0 || has_control_chars(s) || (n > 8 && !looks_like_one_emoji) {
        return Err(FieldError::new(
            "icon",
            "invalid",
            "must be one emoji or at most 8 characters",
        ));
    }
    Ok(s.to_owned())
}

/// A hostname: dot-separated labels of `a-z0-9-`, 2-253 characters.
pub fn domain(raw: &str) -> Result<String, FieldError> {
    let s = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let err = || {
        FieldError::new(
            "domain",
            "invalid",
            "must be a hostname such as example.com",
        )
    };
    if s.len() < 2 || s.len() > 253 {
        return Err(err());
    }
    for label in s.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(err());
        }
    }
    Ok(s)
}

pub fn repo_path(raw: &str) -> Result<String, FieldError> {
    if raw.chars().count() > 1024 {
        return Err(FieldError::new(
            "repo_path",
            "too_long",
            "must be at most 1024 characters",
        ));
    }
    if raw.is_empty() || has_control_chars(raw) {
        return Err(FieldError::new(
            "repo_path",
            "invalid",
            "must be a non-empty path without control characters",
        ));
    }
    Ok(raw.to_owned())
}

/// A branch name git would accept (`git check-ref-format --branch`).
pub fn branch(raw: &str) -> Result<String, FieldError> {
    let err = |m: &str| FieldError::new("branch", "invalid", m.to_owned());
    if raw.is_empty() || raw.len() > 255 {
        return Err(err("must be 1-255 characters"));
    }
    let bad_char = raw.chars().any(|c| {
        c.is_control() || c == ' ' || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    });
    let bad = bad_char
        || raw == "@"
        // `git check-ref-format --branch HEAD` refuses it too.
        || raw == "HEAD"
        || raw.starts_with('-')
        || raw.starts_with('/')
        || raw.ends_with('/')
        || raw.ends_with('.')
        || raw.ends_with(".lock")
        || raw.contains("..")
        || raw.contains("//")
        || raw.contains("@{")
        || raw
            .split('/')
            .any(|part| part.starts_with('.') || part.ends_with(".lock"));
    if bad {
        return Err(err("must be a valid git branch name"));
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("  Lighthouse ").unwrap(), "Lighthouse");
        assert!(name("a").is_err());
        assert!(name(&"x".repeat(51)).is_err());
        assert!(name("bad\u{0007}name").is_err());
        assert_eq!(name(&"é".repeat(50)).unwrap().chars().count(), 50);
    }

    #[test]
    fn icons_domains_and_branches() {
        assert!(icon("🏗️").is_ok());
        assert!(icon("👨‍👩‍👧‍👦").is_ok());
        assert!(icon("ABCDEFGHI").is_err());
        assert_eq!(domain("Example.COM").unwrap(), "example.com");
        assert!(domain("exa mple.com").is_err());
        assert!(domain("-bad.com").is_err());
        assert!(branch("feature/new-ui").is_ok());
        for bad in [
            "a..b", "a b", "-x", "x.lock", "x/", "a@{b", "a:b", ".hidden", "HEAD",
        ] {
            assert!(branch(bad).is_err(), "{bad}");
        }
    }
}
