//! The server's secret key and the AEAD cipher that seals bridge
//! credentials at rest (XChaCha20-Poly1305; the bridge id is the associated
//! data, so a sealed value copied onto another bridge does not open).
//!
//! The key comes from `secret_key` (also `WORKSPACED_SECRET_KEY`: base64 of
//! 32 bytes) or else from `data_dir/secret.key`, generated on first start
//! with 0600 permissions. Replicas sharing a database must share the key.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::config::Config;

const NONCE_LEN: usize = 24;

/// Seals and opens secrets under the server key. `Debug` shows no key.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the secret could not be opened (wrong key or tampered data)")]
pub struct OpenError;

impl Cipher {
    pub fn from_key(key: &[u8; 32]) -> Cipher {
        Cipher {
            aead: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// The configured key, or the key file in `data_dir` (created if absent).
    pub fn load(config: &Config) -> Result<Cipher, String> {
        if let Some(b64) = &config.secret_key {
            return Ok(Cipher::from_key(
                &decode_key(b64.0.trim()).map_err(|e| format!("secret_key: {e}"))?,
            ));
        }
        let path = config.data_dir.join("secret.key");
        let key = match std::fs::read_to_string(&path) {
            Ok(text) => decode_key(text.trim()).map_err(|e| format!("{}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => generate_key_file(&path)?,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(Cipher::from_key(&key))
    }

    /// `nonce || ciphertext` of `plain`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ct = self
            .aead
            .encrypt(&nonce, Payload { msg: plain, aad })
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory data");
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| OpenError)
    }
}

fn decode_key(b64: &str) -> Result<[u8; 32], String> {
    let bytes = STANDARD
        .decode(b64)
        .map_err(|_| "is not valid base64".to_owned())?;
    bytes
        .try_into()
        .map_err(|_| "must be base64 of exactly 32 bytes".to_owned())
}

fn generate_key_file(path: &Path) -> Result<[u8; 32], String> {
    let key: [u8; 32] = rand::random();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(STANDARD.encode(key).as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a new secret key");
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            decode_key(text.trim()).map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(e) => Err(format!("cannot create {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_aad() {
        let c = Cipher::from_key(&[7; 32]);
        let s = c.seal(b"brg_1", b"hunter2");
        assert!(!s.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(c.open(b"brg_1", &s).unwrap(), b"hunter2");
        assert!(c.open(b"brg_2", &s).is_err());
        assert!(Cipher::from_key(&[8; 32]).open(b"brg_1", &s).is_err());
    }

    #[test]
    fn the_key_file_is_generated_once_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            data_dir: dir.path().join("sub"),
            ..Config::default()
        };
        let a = Cipher::load(&cfg).unwrap();
        let b = Cipher::load(&cfg).unwrap();
        let sealed = a.seal(b"x", b"y");
        assert_eq!(b.open(b"x", &sealed).unwrap(), b"y");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(cfg.data_dir.join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let bad = Config {
            secret_key: Some("dG9vIHNob3J0".into()),
            ..Config::default()
        };
        assert!(Cipher::load(&bad).is_err());
    }

    #[test]
    fn a_configured_key_is_used_and_no_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let env: std::collections::HashMap<_, _> = [(
            "WORKSPACED_SECRET_KEY".to_string(),
            STANDARD.encode([9u8; 32]),
        )]
        .into();
        let flags = crate::config::Overrides {
            data_dir: Some(dir.path().to_owned()),
            ..Default::default()
        };
        let cfg = Config::load(None, &env, &flags).unwrap();
        assert!(!format!("{cfg:?}").contains(&STANDARD.encode([9u8; 32])));
        let c = Cipher::load(&cfg).unwrap();
        let sealed = Cipher::from_key(&[9; 32]).seal(b"a", b"b");
        assert_eq!(c.open(b"a", &sealed).unwrap(), b"b");
        assert!(!dir.path().join("secret.key").exists());
    }
}
