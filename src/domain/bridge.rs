//! Bridges: integrations of a workspace with other systems (SPEC §7).
//! Their `credentials` are a secret: accepted, encrypted, never shown.

use serde_json::{Map, Value};

use super::ids::BridgeId;
use super::time::Millis;
use super::validation::FieldError;

pub const KINDS: &[&str] = &[
    "notion",
    "sharepoint",
    "google_drive",
    "github",
    "webhook",
    "custom",
];

pub fn kind(raw: &str) -> Result<String, FieldError> {
    if KINDS.contains(&raw) {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(
            "kind",
            "invalid",
            format!("must be one of {}", KINDS.join(", ")),
        ))
    }
}

/// A bridge as stored, without its credentials (only whether it has some).
#[derive(Debug, Clone)]
pub struct Bridge {
    pub id: BridgeId,
    pub kind: String,
    pub name: String,
    pub config: Map<String, Value>,
    pub enabled: bool,
    pub has_credentials: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

/// Encrypted credentials: `nonce || ciphertext`. Its `Debug` prints nothing
/// of the bytes, so it can sit in structs that are logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCredentials(pub Vec<u8>);

impl std::fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedCredentials(..)")
    }
}

/// A validated create, credentials already sealed under the new id.
#[derive(Debug, Clone)]
pub struct NewBridge {
    pub id: BridgeId,
    pub kind: String,
    pub name: String,
    pub config: Map<String, Value>,
    pub enabled: bool,
    pub credentials: Option<SealedCredentials>,
}

/// A validated update; `credentials: Some(None)` removes them.
#[derive(Debug, Clone, Default)]
pub struct BridgePatch {
    pub name: Option<String>,
    pub config: Option<Map<String, Value>>,
    pub enabled: Option<bool>,
    pub credentials: Option<Option<SealedCredentials>>,
}

impl BridgePatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.config.is_none()
            && self.enabled.is_none()
            && self.credentials.is_none()
    }
}
