//! Keys and signatures.

use ed25519_dalek::{Signature, Signer, Verifier};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::message::Envelope;

/// A message on the wire: the envelope's exact bytes and their signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Signed {
    /// The signer's key id, as the receiver's configuration names it.
    pub key_id: String,
    /// The [`Envelope`], serialised as JSON text.
    pub envelope: String,
    /// The ed25519 signature of the envelope's UTF-8 bytes, in hexadecimal.
    pub signature: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a key must be 64 hexadecimal digits (32 bytes); got {0} characters")]
    Length(usize),
    #[error("a key must be hexadecimal: {0}")]
    NotHex(String),
    #[error("not a valid ed25519 public key")]
    Invalid,
}

/// A side's private signing key.
#[derive(Clone)]
pub struct SigningKey {
    pub id: String,
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The other side's public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyingKey {
    pub id: String,
    key: ed25519_dalek::VerifyingKey,
}

impl SigningKey {
    /// A key from its 32-byte seed in hexadecimal.
    pub fn from_hex(id: &str, hex: &str) -> Result<SigningKey, KeyError> {
        let bytes = from_hex32(hex)?;
        Ok(SigningKey {
            id: id.to_string(),
            key: ed25519_dalek::SigningKey::from_bytes(&bytes),
        })
    }

    /// The public half, with the same id.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            id: self.id.clone(),
            key: self.key.verifying_key(),
        }
    }
}

impl VerifyingKey {
    pub fn from_hex(id: &str, hex: &str) -> Result<VerifyingKey, KeyError> {
        let bytes = from_hex32(hex)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::Invalid)?;
        Ok(VerifyingKey {
            id: id.to_string(),
            key,
        })
    }

    pub fn to_hex(&self) -> String {
        to_hex(self.key.as_bytes())
    }

    /// Whether `signature` (hexadecimal) signs `bytes` with this key.
    pub fn verifies(&self, bytes: &[u8], signature: &str) -> bool {
        let Ok(raw) = from_hex_vec(signature) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&raw) else {
            return false;
        };
        self.key.verify(bytes, &sig).is_ok()
    }
}

/// Signs an envelope, giving the bytes to publish.
pub fn sign(key: &SigningKey, envelope: &Envelope) -> Vec<u8> {
    let text = serde_json::to_string(envelope).unwrap_or_default();
    let signature = key.key.sign(text.as_bytes());
    let signed = Signed {
        key_id: key.id.clone(),
        envelope: text,
        signature: to_hex(&signature.to_bytes()),
    };
    serde_json::to_vec(&signed).unwrap_or_default()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex_vec(hex: &str) -> Result<Vec<u8>, KeyError> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return Err(KeyError::NotHex("odd length or not ASCII".into()));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&hex[i..i + 2], 16)
                .map_err(|_| KeyError::NotHex(format!("{:?} at {i}", &hex[i..i + 2])))
        })
        .collect()
}

fn from_hex32(hex: &str) -> Result<[u8; 32], KeyError> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return Err(KeyError::Length(hex.len()));
    }
    let v = from_hex_vec(hex)?;
    let mut out = [0u8; 32];
    out.copy_from_slice(&v);
    Ok(out)
}
