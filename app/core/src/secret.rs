//! The server's secret key and the keys derived from it: one to MAC one-time codes, one to seal
//! SMS bodies while they wait in the outbox. Codes are never stored readable.

use std::{io::Write, path::Path, sync::Arc};

use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    XChaCha20Poly1305, XNonce,
};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct ServerSecret(Arc<[u8; 32]>);

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("PORTAL_SECRET_KEY must be at least 32 characters long")]
    TooShort,
    #[error("could not read or create the secret key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

impl ServerSecret {
    /// A key given by the operator (`PORTAL_SECRET_KEY`). Several instances sharing one database
    /// must share it.
    pub fn from_passphrase(passphrase: &str) -> Result<Self, SecretError> {
        if passphrase.chars().count() < 32 {
            return Err(SecretError::TooShort);
        }
        Ok(Self(Arc::new(Sha256::digest(passphrase.as_bytes()).into())))
    }

    /// The key kept in `<data dir>/secret.key`, which must be there: for commands that check
    /// what the running portal wrote, never for one that could start a new key.
    pub fn load(data_dir: &Path) -> Result<Self, SecretError> {
        let path = data_dir.join("secret.key");
        let text = std::fs::read_to_string(&path).map_err(|source| SecretError::File {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_passphrase(text.trim())
    }

    /// The key kept in `<data dir>/secret.key`, generated on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, SecretError> {
        let path = data_dir.join("secret.key");
        let file_error = |source| SecretError::File {
            path: path.display().to_string(),
            source,
        };
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Self::from_passphrase(text.trim());
        }
        std::fs::create_dir_all(data_dir).map_err(file_error)?;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let text = hex::encode(key);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut file) => file.write_all(text.as_bytes()).map_err(file_error)?,
            // Another instance won the race: use its key.
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(file_error(err)),
        }
        let text = std::fs::read_to_string(&path).map_err(file_error)?;
        Self::from_passphrase(text.trim())
    }

    /// A fresh random key, for tests.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(Arc::new(key))
    }

    fn derive(&self, purpose: &[u8]) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.0[..]).expect("HMAC takes any key length");
        mac.update(purpose);
        let derived = mac.finalize().into_bytes();
        <HmacSha256 as Mac>::new_from_slice(&derived).expect("HMAC takes any key length")
    }

    /// The key the audit chain's lines and anchor are sealed with.
    pub fn audit_key(&self) -> crate::store::AuditKey {
        crate::store::AuditKey::new(
            self.derive(b"portal audit chain v2")
                .finalize()
                .into_bytes()
                .into(),
        )
    }

    /// The MAC of a one-time code bound to its context, as stored in the database.
    pub fn code_mac(&self, context: &str, code: &str) -> String {
        hex::encode(self.code_mac_raw(context, code).finalize().into_bytes())
    }

    /// Compares a typed code against a stored MAC in constant time.
    pub fn code_matches(&self, context: &str, code: &str, stored_mac_hex: &str) -> bool {
        match hex::decode(stored_mac_hex) {
            Ok(stored) => self
                .code_mac_raw(context, code)
                .verify_slice(&stored)
                .is_ok(),
            Err(_) => false,
        }
    }

    fn code_mac_raw(&self, context: &str, code: &str) -> HmacSha256 {
        let mut mac = self.derive(b"portal one-time code v1");
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        mac
    }

    fn sealing_cipher(&self, purpose: &str) -> XChaCha20Poly1305 {
        let key = self.derive(purpose.as_bytes()).finalize().into_bytes();
        XChaCha20Poly1305::new(&key)
    }

    /// Encrypts text for storage (the SMS outbox), as hex of nonce and ciphertext.
    pub fn seal(&self, text: &str) -> String {
        self.seal_as(STORED, text)
    }

    /// The text sealed by [`ServerSecret::seal`], or `None` if it was sealed under another key.
    pub fn open(&self, sealed_hex: &str) -> Option<String> {
        self.open_as(STORED, sealed_hex)
    }

    /// Encrypts text under a key of its own purpose: what is sealed for one use never opens
    /// as another's.
    pub fn seal_as(&self, purpose: &str, text: &str) -> String {
        self.seal_for(purpose, b"", text)
    }

    /// The text sealed by [`ServerSecret::seal_as`] for the same purpose, or `None`.
    pub fn open_as(&self, purpose: &str, sealed_hex: &str) -> Option<String> {
        self.open_for(purpose, b"", sealed_hex)
    }

    /// Encrypts text under a key of its own purpose, bound to `owner` (authenticated, not
    /// stored): it opens only for the same purpose and the same owner, so a sealed value copied
    /// to another row (another staff member, a text message) never opens there.
    pub fn seal_for(&self, purpose: &str, owner: &[u8], text: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: text.as_bytes(),
            aad: owner,
        };
        let sealed = self
            .sealing_cipher(purpose)
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("encryption of a short text cannot fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        hex::encode(out)
    }

    /// The text sealed by [`ServerSecret::seal_for`] for the same purpose and owner, or `None`.
    pub fn open_for(&self, purpose: &str, owner: &[u8], sealed_hex: &str) -> Option<String> {
        let bytes = hex::decode(sealed_hex).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(24);
        let payload = Payload {
            msg: sealed,
            aad: owner,
        };
        let plain = self
            .sealing_cipher(purpose)
            .decrypt(XNonce::from_slice(nonce), payload)
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

/// The purpose of texts sealed in the outbox (staff secrets were too, before they had their
/// own); its name predates the others and must not change, or stored texts would no longer open.
const STORED: &str = "portal outbox seal v1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_only_its_own_context() {
        let secret = ServerSecret::random();
        let mac = secret.code_mac("1:sign_in:+64215550123", "123456");
        assert!(secret.code_matches("1:sign_in:+64215550123", "123456", &mac));
        assert!(!secret.code_matches("1:sign_in:+64215550123", "123457", &mac));
        assert!(!secret.code_matches("2:sign_in:+64215550123", "123456", &mac));
        assert!(!mac.contains("123456"));
    }

    #[test]
    fn sealed_text_opens_only_with_the_same_key() {
        let secret = ServerSecret::random();
        let sealed = secret.seal("Your code is 123456");
        assert!(!sealed.contains("123456"));
        assert_eq!(secret.open(&sealed).as_deref(), Some("Your code is 123456"));
        assert_eq!(ServerSecret::random().open(&sealed), None);
        // Sealed for one purpose, it never opens as another's.
        assert_eq!(secret.open_as("something else", &sealed), None);
        let form = secret.seal_as("a form", "ana");
        assert_eq!(secret.open_as("a form", &form).as_deref(), Some("ana"));
        assert_eq!(secret.open(&form), None);
        // Bound to an owner, it opens only for that owner.
        let owned = secret.seal_for("a form", b"7", "ana");
        assert_eq!(
            secret.open_for("a form", b"7", &owned).as_deref(),
            Some("ana")
        );
        assert_eq!(secret.open_for("a form", b"8", &owned), None);
        assert_eq!(secret.open_as("a form", &owned), None);
    }

    #[test]
    fn a_short_passphrase_is_refused() {
        assert!(ServerSecret::from_passphrase("short").is_err());
        assert!(ServerSecret::from_passphrase(&"x".repeat(32)).is_ok());
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServerSecret::load_or_create(dir.path()).unwrap();
        let again = ServerSecret::load_or_create(dir.path()).unwrap();
        let mac = first.code_mac("c", "111111");
        assert!(again.code_matches("c", "111111", &mac));
    }
}
