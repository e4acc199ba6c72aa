//! Join codes (SPEC §5): 12 characters of an alphabet without look-alikes
//! (no 0/O, 1/I/L), shown as `XXXX-XXXX-XXXX`, matched case-insensitively
//! and ignoring hyphens and spaces.

use rand::Rng;

/// No 0, 1, I, O: they read alike.
pub const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub const LEN: usize = 12;

/// A new code in normalized form (upper case, no hyphens).
pub fn generate() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// `ABCDEFGHJKLM` -> `ABCD-EFGH-JKLM`.
pub fn format(normalized: &str) -> String {
    normalized
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The stored form of what a user typed, or `None` when it cannot be a
/// code (then it is simply unknown: 404).
pub fn normalize(input: &str) -> Option<String> {
    let s: String = input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (s.len() == LEN && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_display() {
        for _ in 0..100 {
            let c = generate();
            assert_eq!(c.len(), LEN);
            let shown = format(&c);
            assert_eq!(shown.len(), 14);
            assert_eq!(normalize(&shown).as_deref(), Some(c.as_str()));
            assert_eq!(
                normalize(&shown.to_lowercase()).as_deref(),
                Some(c.as_str())
            );
        }
        assert_eq!(normalize("abcd-efgh-jkl0"), None);
        assert_eq!(normalize("short"), None);
    }
}
