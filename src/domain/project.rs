//! Projects and codebases of a workspace (SPEC §7): their fields and rules.

use super::ids::{CodebaseId, ProjectId};
use super::time::Millis;
use super::validation::{has_control_chars, text, FieldError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectStatus {
    Active,
    Archived,
}

impl ProjectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Active => "active",
            ProjectStatus::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<ProjectStatus> {
        match s {
            "active" => Some(ProjectStatus::Active),
            "archived" => Some(ProjectStatus::Archived),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub status: ProjectStatus,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

/// A validated create.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub name: String,
    /// `None`: generated from the name, unique in the workspace.
    pub slug: Option<String>,
    pub description: Option<String>,
    pub status: ProjectStatus,
}

/// A validated update; `Some(None)` clears the description.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<ProjectStatus>,
}

/// Project and codebase names: 1-100 characters after trimming.
pub fn name(raw: &str) -> Result<String, FieldError> {
    text("name", raw, 1, 100)
}

pub fn status(raw: &str) -> Result<ProjectStatus, FieldError> {
    ProjectStatus::parse(raw)
        .ok_or_else(|| FieldError::new("status", "invalid", "must be active or archived"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceType {
    Local,
    Github,
}

impl SourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Local => "local",
            SourceType::Github => "github",
        }
    }

    pub fn parse(s: &str) -> Option<SourceType> {
        match s {
            "local" => Some(SourceType::Local),
            "github" => Some(SourceType::Github),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Codebase {
    pub id: CodebaseId,
    pub name: String,
    pub source_type: SourceType,
    pub path: Option<String>,
    pub repository: Option<String>,
    pub branch: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

/// The writable fields of a codebase, once consistent: `path` for local
/// sources, `repository` for GitHub ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodebaseFields {
    pub name: String,
    pub source_type: SourceType,
    pub path: Option<String>,
    pub repository: Option<String>,
    pub branch: Option<String>,
}

pub fn source_type(raw: &str) -> Result<SourceType, FieldError> {
    SourceType::parse(raw)
        .ok_or_else(|| FieldError::new("source_type", "invalid", "must be local or github"))
}

/// An absolute path of at most 1024 characters.
pub fn path(raw: &str) -> Result<String, FieldError> {
    if raw.chars().count() > 1024 {
        return Err(FieldError::new(
            "path",
            "too_long",
            "must be at most 1024 characters",
        ));
    }
    if !raw.starts_with('/') || has_control_chars(raw) {
        return Err(FieldError::new(
            "path",
            "invalid",
            "must be an absolute path without control characters",
        ));
    }
    Ok(raw.to_owned())
}

/// `owner/name` as GitHub allows them.
pub fn repository(raw: &str) -> Result<String, FieldError> {
    let ok = raw.split_once('/').is_some_and(|(owner, name)| {
        (1..=39).contains(&owner.len())
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !owner.starts_with('-')
            && (1..=100).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && name != "."
            && name != ".."
    });
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(
            "repository",
            "invalid",
            "must be a GitHub repository as owner/name",
        ))
    }
}

/// Checks that the fields fit the source type: a local codebase needs a
/// path and no repository, a GitHub one the reverse.
pub fn check_source(f: &CodebaseFields) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let (need, need_v, forbid, forbid_v) = match f.source_type {
        SourceType::Local => ("path", &f.path, "repository", &f.repository),
        SourceType::Github => ("repository", &f.repository, "path", &f.path),
    };
    if need_v.is_none() {
        errors.push(FieldError::new(
            need,
            "required",
            format!("is required for source_type {}", f.source_type.as_str()),
        ));
    }
    if forbid_v.is_some() {
        errors.push(FieldError::new(
            forbid,
            "invalid",
            format!("is not used with source_type {}", f.source_type.as_str()),
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_and_paths() {
        assert!(repository("rust-lang/rust").is_ok());
        assert!(repository("a/b.c_d-e").is_ok());
        for bad in ["rust", "/rust", "a/", "a/b/c", "-a/b", "a b/c", "a/.."] {
            assert!(repository(bad).is_err(), "{bad}");
        }
        assert!(path("/srv/repo").is_ok());
        assert!(path("srv/repo").is_err());
    }

    #[test]
    fn source_fields_must_match_the_type() {
        let mut f = CodebaseFields {
            name: "x".into(),
            source_type: SourceType::Github,
            path: Some("/a".into()),
            repository: None,
            branch: None,
        };
        let fields: Vec<_> = check_source(&f).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["repository", "path"]);
        f.source_type = SourceType::Local;
        assert!(check_source(&f).is_empty());
    }
}
