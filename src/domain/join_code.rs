//! Join codes (SPEC §5): 12 characters of an alphabet without look-alikes
//! (no 0/O, 1/I/L), returned as they are (SPEC: "12 characters"), matched
//! case-insensitively and ignoring hyphens and spaces, so a client may show
//! them grouped (`XXXX-XXXX-XXXX`) and users may type them either way.

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
    fn codes_are_matched_whatever_their_case_and_grouping() {
        for _ in 0..100 {
            let c = generate();
            assert_eq!(c.len(), LEN);
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)));
            assert_eq!(normalize(&c).as_deref(), Some(c.as_str()));
            let grouped = format!("{}-{}-{}", &c[..4], &c[4..8], &c[8..]).to_lowercase();
            assert_eq!(normalize(&grouped).as_deref(), Some(c.as_str()));
            let spaced = format!(" {} {} ", &c[..6], &c[6..]);
            assert_eq!(normalize(&spaced).as_deref(), Some(c.as_str()));
        }
        assert_eq!(normalize("abcd-efgh-jkl0"), None);
        assert_eq!(normalize("short"), None);
    }
}
