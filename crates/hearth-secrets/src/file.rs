//! The encrypted-file backend: `secrets.enc`, a JSON envelope around the ChaCha20-Poly1305
//! encryption of a JSON map name → value.
//!
//! The key comes, in order, from `HEARTH_SECRETS_KEY` (base64 of 32 bytes), from
//! `HEARTH_SECRETS_PASSPHRASE` (argon2id, its salt stored in the envelope), or from the key file
//! `secrets.key` beside it (made on first use). Every write draws a new nonce and replaces the
//! file atomically; a file that does not decrypt is never overwritten.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

use crate::secret::wipe;
use crate::{KeySource, Secret, SecretsError, fsutil};

pub(crate) const FILE_NAME: &str = "secrets.enc";
pub(crate) const KEY_FILE_NAME: &str = "secrets.key";
pub(crate) const ENV_KEY: &str = "HEARTH_SECRETS_KEY";
pub(crate) const ENV_PASSPHRASE: &str = "HEARTH_SECRETS_PASSPHRASE";

const VERSION: u32 = 1;
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const SALT_LEN: usize = 16;
/// Binds the ciphertext to this format, so it cannot be replayed into another one.
const AAD: &[u8] = b"hearth-secrets/v1";
// Fixed by envelope version 1 (they are argon2's recommended defaults), so a change in the
// crate's defaults can never make an existing file unreadable.
const ARGON2_M_COST_KIB: u32 = 19 * 1024;
const ARGON2_T_COST: u32 = 2;
const ARGON2_P_COST: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    version: u32,
    kdf: Kdf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    salt: Option<String>,
    nonce: String,
    ciphertext: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kdf {
    None,
    Argon2id,
}

/// The key sources' raw values, read once from the environment.
#[derive(Default)]
pub(crate) struct KeyEnv {
    pub(crate) key: Option<Secret>,
    pub(crate) passphrase: Option<Secret>,
}

impl KeyEnv {
    pub(crate) fn from_env() -> Result<Self, SecretsError> {
        Ok(Self {
            key: read_env(ENV_KEY)?,
            passphrase: read_env(ENV_PASSPHRASE)?,
        })
    }
}

fn read_env(name: &str) -> Result<Option<Secret>, SecretsError> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(Secret::from(v))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(SecretsError::BadKey(format!("{name} is not valid UTF-8")))
        }
    }
}

/// 32 key bytes, zeroed on drop.
struct KeyBytes([u8; KEY_LEN]);

impl Drop for KeyBytes {
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&self.0);
    }
}

enum FileKey {
    Raw(KeyBytes),
    /// The derived key depends on the salt in the file, so it is derived on demand and cached
    /// with the salt it belongs to.
    Passphrase {
        passphrase: Secret,
        derived: Mutex<Option<(Vec<u8>, KeyBytes)>>,
    },
}

pub(crate) struct FileBackend {
    path: PathBuf,
    key: FileKey,
    source: KeySource,
    /// Serialises read-modify-write cycles within this process.
    write_lock: Mutex<()>,
}

impl fmt::Debug for FileBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBackend")
            .field("path", &self.path)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl FileBackend {
    /// Picks the key source and checks the key against an existing `secrets.enc`, so a wrong
    /// key fails here rather than at the first read.
    pub(crate) fn open(state_dir: &Path, env: KeyEnv) -> Result<Self, SecretsError> {
        let enc_path = state_dir.join(FILE_NAME);
        let (key, source) = if let Some(encoded) = env.key {
            (FileKey::Raw(decode_env_key(&encoded)?), KeySource::EnvKey)
        } else if let Some(passphrase) = env.passphrase {
            (
                FileKey::Passphrase {
                    passphrase,
                    derived: Mutex::new(None),
                },
                KeySource::Passphrase,
            )
        } else {
            let path = state_dir.join(KEY_FILE_NAME);
            if !path.exists() && enc_path.exists() {
                // A fresh key could never read the existing file; say what is missing instead.
                return Err(SecretsError::BadKey(format!(
                    "{} exists but its key file {} does not. Restore the key file from a backup, \
                     or set {ENV_KEY} or {ENV_PASSPHRASE} if the file was made with one",
                    enc_path.display(),
                    path.display()
                )));
            }
            (
                FileKey::Raw(load_or_create_key_file(&path)?),
                KeySource::KeyFile(path),
            )
        };
        let backend = Self {
            path: enc_path,
            key,
            source,
            write_lock: Mutex::new(()),
        };
        backend.load()?;
        Ok(backend)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn source(&self) -> &KeySource {
        &self.source
    }

    pub(crate) fn get(&self, name: &str) -> Result<Option<Secret>, SecretsError> {
        Ok(self.load()?.and_then(|mut map| map.remove(name)))
    }

    pub(crate) fn set(&self, name: &str, value: &str) -> Result<(), SecretsError> {
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut map = self.load()?.unwrap_or_default();
        map.insert(name.to_owned(), Secret::from(value.to_owned()));
        self.save(&map)
    }

    pub(crate) fn delete(&self, name: &str) -> Result<bool, SecretsError> {
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(mut map) = self.load()? else {
            return Ok(false);
        };
        if map.remove(name).is_none() {
            return Ok(false);
        }
        self.save(&map)?;
        Ok(true)
    }

    pub(crate) fn list(&self) -> Result<Vec<String>, SecretsError> {
        Ok(self
            .load()?
            .map(|m| m.into_keys().collect())
            .unwrap_or_default())
    }

    /// The decrypted map, or `None` when there is no file yet.
    fn load(&self) -> Result<Option<BTreeMap<String, Secret>>, SecretsError> {
        let raw = match std::fs::read(&self.path) {
            Ok(raw) => raw,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SecretsError::io(&self.path, e)),
        };
        let envelope: Envelope = serde_json::from_slice(&raw)
            .map_err(|e| SecretsError::Corrupt(format!("{FILE_NAME} is not an envelope: {e}")))?;
        if envelope.version != VERSION {
            return Err(SecretsError::Corrupt(format!(
                "{FILE_NAME} has version {}; this Hearth reads version {VERSION}",
                envelope.version
            )));
        }
        let salt = envelope
            .salt
            .as_deref()
            .map(|s| decode_b64("salt", s))
            .transpose()?;
        let key = self.key_for(envelope.kdf, salt.as_deref())?;
        let nonce = decode_b64("nonce", &envelope.nonce)?;
        if nonce.len() != NONCE_LEN {
            return Err(SecretsError::Corrupt(format!(
                "{FILE_NAME} has a bad nonce length"
            )));
        }
        let ciphertext = decode_b64("ciphertext", &envelope.ciphertext)?;
        let plaintext = ChaCha20Poly1305::new(Key::from_slice(&key.0))
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: AAD,
                },
            )
            .map_err(|_| self.decrypt_error(None))?;
        // serde's message could quote part of a value, so it is not passed on.
        let parsed: Result<BTreeMap<String, String>, _> = serde_json::from_slice(&plaintext);
        wipe(plaintext);
        let map = parsed.map_err(|_| {
            SecretsError::Corrupt(format!(
                "{FILE_NAME} decrypted but does not hold a name map"
            ))
        })?;
        Ok(Some(
            map.into_iter().map(|(k, v)| (k, Secret::from(v))).collect(),
        ))
    }

    fn save(&self, map: &BTreeMap<String, Secret>) -> Result<(), SecretsError> {
        let plain: BTreeMap<&str, &str> =
            map.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        let plaintext = serde_json::to_vec(&plain)
            .map_err(|e| SecretsError::Corrupt(format!("cannot encode the secrets: {e}")))?;
        let (kdf, salt, key) = match &self.key {
            FileKey::Raw(key) => (Kdf::None, None, KeyBytes(key.0)),
            FileKey::Passphrase { .. } => {
                // Keep the salt already in use (the cached key matches it); a new file gets one.
                let salt = self.cached_salt().unwrap_or_else(|| {
                    let mut salt = vec![0u8; SALT_LEN];
                    OsRng.fill_bytes(&mut salt);
                    salt
                });
                let key = self.key_for(Kdf::Argon2id, Some(&salt))?;
                (Kdf::Argon2id, Some(salt), key)
            }
        };
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = ChaCha20Poly1305::new(Key::from_slice(&key.0))
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: AAD,
                },
            )
            .map_err(|_| SecretsError::Corrupt("encryption failed".to_owned()));
        wipe(plaintext);
        let envelope = Envelope {
            version: VERSION,
            kdf,
            salt: salt.map(|s| B64.encode(s)),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext?),
        };
        let mut bytes = serde_json::to_vec_pretty(&envelope)
            .map_err(|e| SecretsError::Corrupt(format!("cannot encode the envelope: {e}")))?;
        bytes.push(b'\n');
        fsutil::write_private_atomic(&self.path, &bytes)
    }

    fn cached_salt(&self) -> Option<Vec<u8>> {
        match &self.key {
            FileKey::Raw(_) => None,
            FileKey::Passphrase { derived, .. } => derived
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .map(|(salt, _)| salt.clone()),
        }
    }

    /// The key for a file written with `kdf` and `salt`.
    fn key_for(&self, kdf: Kdf, salt: Option<&[u8]>) -> Result<KeyBytes, SecretsError> {
        match (&self.key, kdf) {
            (FileKey::Raw(key), Kdf::None) => Ok(KeyBytes(key.0)),
            (
                FileKey::Passphrase {
                    passphrase,
                    derived,
                },
                Kdf::Argon2id,
            ) => {
                let salt = salt.ok_or_else(|| {
                    SecretsError::Corrupt(format!("{FILE_NAME} uses argon2id but has no salt"))
                })?;
                let mut cached = derived.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some((cached_salt, key)) = cached.as_ref()
                    && cached_salt == salt
                {
                    return Ok(KeyBytes(key.0));
                }
                let key = derive_key(passphrase, salt)?;
                *cached = Some((salt.to_vec(), KeyBytes(key.0)));
                Ok(key)
            }
            (FileKey::Raw(_), Kdf::Argon2id) => {
                Err(self.decrypt_error(Some("the file was encrypted with a passphrase")))
            }
            (FileKey::Passphrase { .. }, Kdf::None) => Err(self.decrypt_error(Some(
                "the file was encrypted with a raw key, not a passphrase",
            ))),
        }
    }

    fn decrypt_error(&self, why: Option<&str>) -> SecretsError {
        let used = match &self.source {
            KeySource::EnvKey => format!("the key in {ENV_KEY}"),
            KeySource::Passphrase => format!("the passphrase in {ENV_PASSPHRASE}"),
            KeySource::KeyFile(path) => format!("the key file {}", path.display()),
        };
        let source_desc = match why {
            Some(why) => format!("{used} ({why})"),
            None => used,
        };
        SecretsError::Decrypt { source_desc }
    }
}

fn decode_b64(what: &str, value: &str) -> Result<Vec<u8>, SecretsError> {
    B64.decode(value)
        .map_err(|_| SecretsError::Corrupt(format!("{FILE_NAME} has a {what} that is not base64")))
}

fn decode_env_key(encoded: &Secret) -> Result<KeyBytes, SecretsError> {
    let bad = || {
        SecretsError::BadKey(format!(
            "{ENV_KEY} must be the base64 of 32 random bytes; make one with \
             `openssl rand -base64 32`"
        ))
    };
    let bytes = B64.decode(encoded.expose().trim()).map_err(|_| bad())?;
    let key = <[u8; KEY_LEN]>::try_from(bytes.as_slice())
        .map(KeyBytes)
        .map_err(|_| bad());
    wipe(bytes);
    key
}

fn derive_key(passphrase: &Secret, salt: &[u8]) -> Result<KeyBytes, SecretsError> {
    let params = argon2::Params::new(
        ARGON2_M_COST_KIB,
        ARGON2_T_COST,
        ARGON2_P_COST,
        Some(KEY_LEN),
    )
    .map_err(|e| SecretsError::Corrupt(format!("argon2 parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = KeyBytes([0; KEY_LEN]);
    argon
        .hash_password_into(passphrase.expose().as_bytes(), salt, &mut key.0)
        .map_err(|e| SecretsError::Corrupt(format!("argon2: {e}")))?;
    Ok(key)
}

/// Reads the key file, creating it with 32 random bytes when there is none.
fn load_or_create_key_file(path: &Path) -> Result<KeyBytes, SecretsError> {
    match fsutil::create_new_private(path) {
        Ok(mut file) => {
            let mut key = KeyBytes([0; KEY_LEN]);
            OsRng.fill_bytes(&mut key.0);
            let written = file
                .write_all(&key.0)
                .and_then(|()| file.sync_all())
                .and_then(|()| fsutil::sync_dir(path.parent().unwrap_or(Path::new("."))));
            if let Err(e) = written {
                // A half-written key file would be refused next time; remove it.
                let _ = std::fs::remove_file(path);
                return Err(SecretsError::io(path, e));
            }
            tracing::info!(path = %path.display(), "created a new secrets key file");
            return Ok(key);
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(SecretsError::io(path, e)),
    }
    fsutil::check_owner_only(path)?;
    let mut bytes = Vec::with_capacity(KEY_LEN + 1);
    std::fs::File::open(path)
        .and_then(|f| f.take(KEY_LEN as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| SecretsError::io(path, e))?;
    let key = <[u8; KEY_LEN]>::try_from(bytes.as_slice())
        .map(KeyBytes)
        .map_err(|_| {
            SecretsError::BadKey(format!(
                "{} must hold exactly 32 bytes. If it was damaged, restore it from a backup: the \
             secrets in {FILE_NAME} cannot be read without it",
                path.display()
            ))
        });
    wipe(bytes);
    key
}
