//! The key that seals secrets at rest, kept in a file beside (never inside) the database, and the
//! file steps of replacing it.
//!
//! A rotation never leaves the installation without a key file that opens the stored values:
//! the new key is first written to `<key>.new` (0600, synced); the database is re-sealed in one
//! transaction; only after the commit is the old key copied to `<key>.old-<unix ms>` and `<key>.new`
//! renamed over `<key>`. A crash anywhere in between leaves `<key>.new` behind, and the next
//! [`crate::Store::open`] decides from the database which of the two keys the stored values need.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::{Result, StoreError};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// One key: the cipher and its id (the first 8 hex digits of SHA-256 of the key bytes).
#[derive(Clone)]
pub(crate) struct Key {
    cipher: XChaCha20Poly1305,
    id: String,
}

impl Key {
    fn from_bytes(bytes: &[u8], path: &Path) -> Result<Key> {
        if bytes.len() != KEY_LEN {
            return Err(StoreError::Secret(format!(
                "the key file {} holds {} bytes; it must hold exactly {KEY_LEN} (restore the original key file)",
                path.display(),
                bytes.len()
            )));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(bytes)
            .map_err(|e| StoreError::Secret(e.to_string()))?;
        let mut id = rounds_domain::secret::sha256_hex(bytes);
        id.truncate(8);
        Ok(Key { cipher, id })
    }

    /// Reads the key file at `path`.
    pub(crate) fn read(path: &Path) -> Result<Key> {
        let bytes = std::fs::read(path).map_err(|e| {
            StoreError::Secret(format!("cannot read the key file {}: {e}", path.display()))
        })?;
        Key::from_bytes(&bytes, path)
    }

    /// The key's id, stamped on every row it seals.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Encrypts `plain`, bound to `purpose` (so a sealed value cannot be moved to another row): nonce ‖ ciphertext.
    pub(crate) fn seal(&self, purpose: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        let nonce_bytes = rounds_domain::secret::random_bytes::<NONCE_LEN>()
            .map_err(|e| StoreError::Secret(e.to_string()))?;
        let nonce = XNonce::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: purpose,
                },
            )
            .map_err(|_| StoreError::Secret("encryption failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts what [`Key::seal`] produced for the same `purpose`; `None` when this key does not open it.
    pub(crate) fn try_open(&self, purpose: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce_bytes, ciphertext) = sealed.split_at_checked(NONCE_LEN)?;
        let mut nonce_arr = [0u8; NONCE_LEN];
        nonce_arr.copy_from_slice(nonce_bytes);
        self.cipher
            .decrypt(
                &XNonce::from(nonce_arr),
                Payload {
                    msg: ciphertext,
                    aad: purpose,
                },
            )
            .ok()
    }
}

/// The key in use, shared by every clone of the store so that a rotation reaches all of them.
#[derive(Clone)]
pub(crate) struct SecretKey {
    active: Arc<RwLock<Key>>,
    path: Arc<Path>,
}

impl SecretKey {
    /// Reads the key file, creating it (mode 0600) with a fresh random key when missing.
    pub(crate) fn load_or_create(path: &Path) -> Result<SecretKey> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if pending_path(path).exists() {
                    // A fresh key now would seal new values with a third key: leave the choice to a person.
                    return Err(StoreError::Secret(format!(
                        "the key file {} is missing but {} exists: restore the key file from its backup",
                        path.display(),
                        pending_path(path).display()
                    )));
                }
                create_key_file(path)?
            }
            Err(e) => {
                return Err(StoreError::Secret(format!(
                    "cannot read the key file {}: {e}",
                    path.display()
                )));
            }
        };
        let key = Key::from_bytes(&bytes, path)?;
        Ok(SecretKey {
            active: Arc::new(RwLock::new(key)),
            path: path.into(),
        })
    }

    /// The key in use now.
    pub(crate) fn current(&self) -> Key {
        self.active
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `key` in use for every clone of the store.
    pub(crate) fn replace(&self, key: Key) {
        *self.active.write().unwrap_or_else(PoisonError::into_inner) = key;
    }

    /// The key file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Seals with the key in use; returns the sealed bytes and the id to stamp beside them.
    pub(crate) fn seal_stamped(&self, purpose: &[u8], plain: &[u8]) -> Result<(Vec<u8>, String)> {
        let key = self.current();
        Ok((key.seal(purpose, plain)?, key.id))
    }

    /// Opens a value whose row names the key that sealed it (`stamped`), so that a value from another
    /// key file is reported as such rather than as damage.
    pub(crate) fn open_stamped(
        &self,
        purpose: &[u8],
        sealed: &[u8],
        stamped: Option<&str>,
        what: &str,
    ) -> Result<Vec<u8>> {
        let key = self.current();
        if let Some(plain) = key.try_open(purpose, sealed) {
            return Ok(plain);
        }
        Err(StoreError::Secret(cannot_open(
            &key, &self.path, stamped, what,
        )))
    }
}

/// Why `key` (from `path`) does not open a value, in words an operator can act on.
pub(crate) fn cannot_open(key: &Key, path: &Path, stamped: Option<&str>, what: &str) -> String {
    match stamped {
        Some(other) if other != key.id => format!(
            "the {what} was sealed with key {other}, but the key file {} holds key {}: use the key file that \
             matches (a rotation keeps the previous key as {}.old-<time>)",
            path.display(),
            key.id,
            path.display()
        ),
        _ => format!(
            "the key file {} (key {}) does not open the {what}: wrong key file or damaged value",
            path.display(),
            key.id
        ),
    }
}

/// Where a rotation writes the next key before the database is re-sealed.
pub(crate) fn pending_path(path: &Path) -> PathBuf {
    sibling(path, ".new")
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes a fresh random key to `<path>.new` (0600, synced); `Conflict` when one is already there,
/// which means another rotation is running.
pub(crate) fn write_pending(path: &Path) -> Result<Key> {
    let pending = pending_path(path);
    let bytes = rounds_domain::secret::random_bytes::<KEY_LEN>()
        .map_err(|e| StoreError::Secret(e.to_string()))?;
    match write_private(&pending, &bytes) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StoreError::Conflict(
                "another key rotation is running (the key file's .new file exists)",
            ));
        }
        Err(e) => {
            return Err(StoreError::Secret(format!(
                "cannot write {}: {e}",
                pending.display()
            )));
        }
    }
    sync_dir(path)?;
    Key::from_bytes(&bytes, &pending)
}

/// After the re-sealing committed: keeps the old key as `<path>.old-<unix ms>` and moves `<path>.new`
/// into place; returns where the old key now is.
pub(crate) fn finish_swap(path: &Path, now_ms: i64) -> Result<PathBuf> {
    let old_bytes = std::fs::read(path).map_err(|e| {
        StoreError::Secret(format!("cannot read the key file {}: {e}", path.display()))
    })?;
    let mut old = sibling(path, &format!(".old-{now_ms}"));
    let mut n = 0;
    loop {
        match write_private(&old, &old_bytes) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => {
                n += 1;
                old = sibling(path, &format!(".old-{now_ms}-{n}"));
            }
            Err(e) => {
                return Err(StoreError::Secret(format!(
                    "cannot keep the previous key as {}: {e}",
                    old.display()
                )));
            }
        }
    }
    std::fs::rename(pending_path(path), path).map_err(|e| {
        StoreError::Secret(format!(
            "cannot move {} into place: {e}",
            pending_path(path).display()
        ))
    })?;
    sync_dir(path)?;
    Ok(old)
}

/// Drops `<path>.new` after a rotation that did not commit.
pub(crate) fn abandon_pending(path: &Path) -> Result<()> {
    match std::fs::remove_file(pending_path(path)) {
        Ok(()) => sync_dir(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Secret(format!(
            "cannot remove {}: {e}",
            pending_path(path).display()
        ))),
    }
}

/// Creates `path` (which must not exist) readable by its owner only, writes `bytes` and syncs them.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Syncs the folder holding `path`, so a created or renamed name survives a power loss.
fn sync_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn create_key_file(path: &Path) -> Result<Vec<u8>> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let key = rounds_domain::secret::random_bytes::<KEY_LEN>()
        .map_err(|e| StoreError::Secret(e.to_string()))?;
    match write_private(path, &key) {
        Ok(()) => Ok(key.to_vec()),
        // Another process created it first: use theirs, or the two would seal with different keys.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(std::fs::read(path)?),
        Err(e) => Err(StoreError::Secret(format!(
            "cannot create the key file {}: {e}",
            path.display()
        ))),
    }
}
