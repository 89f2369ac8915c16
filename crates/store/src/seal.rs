//! The key that seals secrets at rest, kept in a file beside (never inside) the database.

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::{Result, StoreError};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// The 32-byte XChaCha20-Poly1305 key read from the key file.
#[derive(Clone)]
pub(crate) struct SecretKey {
    cipher: XChaCha20Poly1305,
}

impl SecretKey {
    /// Reads the key file, creating it (mode 0600) with a fresh random key when missing.
    pub(crate) fn load_or_create(path: &Path) -> Result<SecretKey> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(path)?,
            Err(e) => return Err(StoreError::Secret(format!("cannot read the key file {}: {e}", path.display()))),
        };
        if bytes.len() != KEY_LEN {
            return Err(StoreError::Secret(format!(
                "the key file {} holds {} bytes; it must hold exactly {KEY_LEN} (restore the original key file)",
                path.display(),
                bytes.len()
            )));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|e| StoreError::Secret(e.to_string()))?;
        Ok(SecretKey { cipher })
    }

    /// Encrypts `plain`, bound to `purpose` (so a sealed value cannot be moved to another row): nonce ‖ ciphertext.
    pub(crate) fn seal(&self, purpose: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        let nonce_bytes = rounds_domain::secret::random_bytes::<NONCE_LEN>().map_err(|e| StoreError::Secret(e.to_string()))?;
        let nonce = XNonce::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plain, aad: purpose })
            .map_err(|_| StoreError::Secret("encryption failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts what [`SecretKey::seal`] produced for the same `purpose`.
    pub(crate) fn open(&self, purpose: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        let Some((nonce_bytes, ciphertext)) = sealed.split_at_checked(NONCE_LEN) else {
            return Err(StoreError::Secret("the stored value is too short".into()));
        };
        let mut nonce_arr = [0u8; NONCE_LEN];
        nonce_arr.copy_from_slice(nonce_bytes);
        self.cipher
            .decrypt(&XNonce::from(nonce_arr), Payload { msg: ciphertext, aad: purpose })
            .map_err(|_| StoreError::Secret("wrong key file or damaged value".into()))
    }
}

fn create_key_file(path: &Path) -> Result<Vec<u8>> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let key = rounds_domain::secret::random_bytes::<KEY_LEN>().map_err(|e| StoreError::Secret(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(&key)?;
            file.sync_all()?;
            Ok(key.to_vec())
        }
        // Another process created it first: use theirs, or the two would seal with different keys.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(std::fs::read(path)?),
        Err(e) => Err(StoreError::Secret(format!("cannot create the key file {}: {e}", path.display()))),
    }
}
