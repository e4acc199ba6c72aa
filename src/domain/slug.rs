//! Workspace and organization slugs: lowercase `a-z0-9` with single hyphens,
//! 2-50 characters, never a reserved word, generated from names by
//! transliteration when the client gives none.

use super::validation::FieldError;

pub const MIN_LEN: usize = 2;
pub const MAX_LEN: usize = 50;

/// Slugs that would shadow routes or confuse people.
pub const RESERVED: &[&str] = &[
    "about",
    "account",
    "accounts",
    "admin",
    "api",
    "app",
    "apps",
    "assets",
    "auth",
    "billing",
    "dashboard",
    "docs",
    "help",
    "healthz",
    "invitations",
    "join",
    "login",
    "logout",
    "me",
    "metrics",
    "new",
    "null",
    "openapi",
    "organizations",
    "readyz",
    "root",
    "settings",
    "signup",
    "static",
    "status",
    "support",
    "system",
    "undefined",
    "v1",
    "v2",
    "workspaces",
    "www",
];

/// A valid slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(field: &str, s: &str) -> Result<Slug, FieldError> {
        let n = s.len();
        if !(MIN_LEN..=MAX_LEN).contains(&n) {
            return Err(FieldError::new(field, "invalid", "must be 2-50 characters"));
        }
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok_chars || s.starts_with('-') || s.ends_with('-') || s.contains("--") {
            return Err(FieldError::new(
                field,
                "invalid",
                "may contain only a-z, 0-9 and single hyphens, not at either end",
            ));
        }
        if RESERVED.contains(&s) {
            return Err(FieldError::new(
                field,
                "reserved",
                format!("'{s}' is reserved"),
            ));
        }
        Ok(Slug(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The slug a name suggests ("Café Ünïcode" -> `cafe-unicode`), or `None`
/// when nothing usable is left (the caller then picks a random one).
/// Leaves room for a `-NNN` uniqueness suffix.
pub fn from_name(name: &str) -> Option<String> {
    // Letters and digits are transliterated; everything else (punctuation,
    // emoji, which deunicode would spell out as words) separates.
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                deunicode::deunicode_char(c).unwrap_or(" ")
            } else {
                " "
            }
        })
        .collect::<String>()
        .to_ascii_lowercase();
    let mut out = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut s = out.trim_end_matches('-').to_owned();
    if s.len() > MAX_LEN - 6 {
        s.truncate(MAX_LEN - 6);
        s = s.trim_end_matches('-').to_owned();
    }
    if s.len() < MIN_LEN {
        return None;
    }
    if RESERVED.contains(&s.as_str()) {
        s.push_str("-ws");
    }
    Some(s)
}

/// A random slug for names with no usable letters: `ws-` and 8 characters.
pub fn random() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    let body: String = (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("ws-{body}")
}

/// `base`, `base-2`, `base-3`, ...
pub fn with_suffix(base: &str, n: u32) -> String {
    if n <= 1 {
        base.to_owned()
    } else {
        format!("{base}-{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transliterates_names() {
        assert_eq!(from_name("Café Ünïcode").as_deref(), Some("cafe-unicode"));
        assert_eq!(
            from_name("  Project  Lighthouse!! ").as_deref(),
            Some("project-lighthouse")
        );
        assert_eq!(from_name("🏗️ 🚀"), None);
        assert_eq!(from_name("API").as_deref(), Some("api-ws"));
    }

    #[test]
    fn generated_slugs_are_valid() {
        for name in [
            "Ωmega Ψ",
            "Привет мир",
            "東京 office",
            "a--b__c",
            &"x".repeat(200),
        ] {
            if let Some(s) = from_name(name) {
                let full = with_suffix(&s, 999);
                assert!(Slug::parse("slug", &full).is_ok(), "{full}");
            }
        }
        assert!(Slug::parse("slug", &random()).is_ok());
    }

    #[test]
    fn rejects_malformed_and_reserved_slugs() {
        for bad in [
            "a",
            "-ab",
            "ab-",
            "a--b",
            "A-b",
            "a_b",
            "admin",
            "v1",
            &"a".repeat(51),
        ] {
            assert!(Slug::parse("slug", bad).is_err(), "{bad}");
        }
        assert!(Slug::parse("slug", "lighthouse-2").is_ok());
    }
}
