//! Accounts and tokens: email and password rules, token kinds.

use super::ids::UserId;
use super::time::Millis;
use super::validation::{has_control_chars, FieldError};

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

/// What a bearer token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// From signup or login; expires.
    Session,
    /// Created by the user at `/v1/me/tokens`.
    Personal,
    /// A platform-admin service token.
    Admin,
    /// A scoped service token (e.g. `runs`).
    Service,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "session",
            TokenKind::Personal => "personal",
            TokenKind::Admin => "admin",
            TokenKind::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<TokenKind> {
        [
            TokenKind::Session,
            TokenKind::Personal,
            TokenKind::Admin,
            TokenKind::Service,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Scopes a service token may carry.
pub const SERVICE_SCOPES: &[&str] = &["runs"];

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A plausible email address, kept as given but compared lowercased.
pub fn email(raw: &str) -> Result<String, FieldError> {
    let s = raw.trim();
    let err = || FieldError::new("email", "invalid", "must be an email address");
    if s.len() > 254 || has_control_chars(s) || s.contains(char::is_whitespace) {
        return Err(err());
    }
    let (local, domain) = s.rsplit_once('@').ok_or_else(err)?;
    if local.is_empty()
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains('@')
    {
        return Err(err());
    }
    Ok(s.to_owned())
}

pub fn password(raw: &str) -> Result<String, FieldError> {
    if raw.chars().count() < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            "password",
            "too_short",
            "must be at least 10 characters",
        ));
    }
    if raw.len() > MAX_PASSWORD_BYTES {
        return Err(FieldError::new(
            "password",
            "too_long",
            "must be at most 1024 bytes",
        ));
    }
    Ok(raw.to_owned())
}

pub fn user_name(raw: &str) -> Result<String, FieldError> {
    super::validation::text("name", raw, 1, 100)
}

pub fn token_name(raw: &str) -> Result<String, FieldError> {
    super::validation::text("name", raw, 1, 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_passwords() {
        assert!(email("Ada@Example.com").is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.com",
            "a b@x.com",
            "ada@x",
            "ada@.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(password("short").is_err());
        assert!(password("long enough pw").is_ok());
    }
}
