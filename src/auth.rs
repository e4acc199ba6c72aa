//! Secrets: bearer tokens (random, shown once, stored as SHA-256) and
//! passwords (argon2id, hashed on a blocking thread).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::Error;

/// A new bearer token: `wsd_` and 256 random bits.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("wsd_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Tokens carry 256 bits of entropy, so a fast hash is enough to store them
/// (a slow one would only slow every request).
pub fn token_hash(token: &str) -> String {
    // Into a buffer, not `hex::encode`, which collects a char iterator:
    // 1,700 instructions of every authenticated request against ~300.
    let mut hex = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(token.as_bytes()), &mut hex)
        .expect("a SHA-256 digest is 32 bytes");
    String::from_utf8(hex.to_vec()).expect("hex digits are ASCII")
}

pub async fn hash_password(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("argon2: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(format!("hashing task: {e}")))?
}

/// Checks a password against a stored hash; with no hash (unknown user) it
/// still does the work, so timing does not reveal which emails exist.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let stored = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && stored != DUMMY_HASH
    })
    .await
    .unwrap_or(false)
}

/// argon2id of a random string nobody knows; verified against when the user
/// does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5SJ+eDWVt4RFxt+6sqb1qIIdJHeq0lBG1gbLjAkUJ1A";

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn passwords_verify_and_tokens_are_long() {
        let h = super::hash_password("correct horse".into()).await.unwrap();
        assert!(super::verify_password("correct horse".into(), Some(h.clone())).await);
        assert!(!super::verify_password("wrong horse!".into(), Some(h)).await);
        assert!(!super::verify_password("anything".into(), None).await);
        assert!(super::new_token().len() >= 4 + 43);
    }

    #[test]
    fn token_hashes_are_lowercase_hex_sha256() {
        // Stored hashes must keep matching: the FIPS 180-2 "abc" vector.
        assert_eq!(
            super::token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
