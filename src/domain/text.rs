//! How text compares where case must not matter: `q` searches and the
//! `sort=name` order.

use std::borrow::Cow;

/// `s` with each character replaced by its Unicode *simple* lowercase
/// mapping: one character for one ("ÜNÏ" → "ünï", "ẞ" → "ß", "İ" → "i",
/// "Σ" → "σ" wherever it stands).
///
/// Simple, not full, mapping, character by character and without context
/// (no final sigma, no language rules), because it is what PostgreSQL's
/// `lower()` computes under a UTF-8 libc locale (C library `towlower`), and
/// SQLite computes it with this very function (`fold()`, registered on every
/// connection): a `q` pattern folded here matches a column folded there,
/// and `sort=name` orders by the same keys on both databases.
///
/// Borrows when nothing changes, which for names that are already lowercase
/// ASCII costs one scan.
pub fn fold_case(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return match s.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Cow::Owned(s.to_ascii_lowercase()),
            false => Cow::Borrowed(s),
        };
    }
    match s.chars().position(|c| lower(c) != c) {
        None => Cow::Borrowed(s),
        Some(_) => Cow::Owned(s.chars().map(lower).collect()),
    }
}

/// The simple lowercase mapping of `c`. std's `to_lowercase` is the full
/// mapping, which differs from the simple one only for U+0130 (İ → i +
/// U+0307): its first character is the simple mapping.
fn lower(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    c.to_lowercase().next().unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_lowercases_every_script_one_character_for_one() {
        for (s, folded) in [
            ("Café Ünïcode", "café ünïcode"),
            ("ÉCOLE", "école"),
            ("ΟΔΟΣ", "οδοσ"),
            ("ẞ", "ß"),
            ("İstanbul", "istanbul"),
            ("ЖУК", "жук"),
            ("🏗️ Lab", "🏗️ lab"),
        ] {
            assert_eq!(fold_case(s), folded, "{s}");
            assert_eq!(fold_case(s).chars().count(), s.chars().count());
        }
    }

    #[test]
    fn folded_text_is_borrowed() {
        for s in ["alpha lab", "café", "日本", ""] {
            assert!(matches!(fold_case(s), Cow::Borrowed(_)), "{s}");
        }
        assert!(matches!(fold_case("Alpha"), Cow::Owned(_)));
    }

    #[test]
    fn folding_twice_changes_nothing() {
        for s in ["Ǆ", "ǅ", "ΣΑΣ", "K", "Ω", "ﬀ", "Ⅻ", "Ⓐ"] {
            let once = fold_case(s).into_owned();
            assert_eq!(fold_case(&once), once, "{s}");
        }
    }
}
