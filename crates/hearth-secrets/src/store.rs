//! Choosing a backend and the [`SecretStore`] facade over it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::file::{ENV_KEY, ENV_PASSPHRASE, FileBackend, KeyEnv};
#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
use crate::keychain::{self, KeychainBackend};
use crate::{Secret, SecretsError, fsutil};

/// Env var that overrides the configured backend: `auto`, `keychain` or `file`.
pub(crate) const ENV_BACKEND: &str = "HEARTH_SECRETS_BACKEND";
const MAX_NAME_LEN: usize = 128;
/// How long `Auto` waits for the keychain before settling for the file.
#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which backend the user asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preference {
    /// The OS keychain when it answers, else the encrypted file.
    #[default]
    Auto,
    /// The OS keychain or an error.
    Keychain,
    /// The encrypted file, never the keychain.
    File,
}

impl FromStr for Preference {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Preference::Auto),
            "keychain" => Ok(Preference::Keychain),
            "file" => Ok(Preference::File),
            other => Err(format!(
                "unknown secrets backend `{other}` (use auto, keychain or file)"
            )),
        }
    }
}

impl fmt::Display for Preference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preference::Auto => "auto",
            Preference::Keychain => "keychain",
            Preference::File => "file",
        })
    }
}

/// The backend's preference from `HEARTH_SECRETS_BACKEND`; `None` when it is unset or not one of
/// `auto`, `keychain`, `file` (which is logged).
pub fn preference_from_env() -> Option<Preference> {
    let value = std::env::var(ENV_BACKEND)
        .ok()
        .filter(|v| !v.trim().is_empty())?;
    match value.parse() {
        Ok(pref) => Some(pref),
        Err(reason) => {
            tracing::warn!(%reason, "ignoring {ENV_BACKEND}");
            None
        }
    }
}

/// The backend in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    Keychain,
    EncryptedFile,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Keychain => "keychain",
            BackendKind::EncryptedFile => "encrypted-file",
        })
    }
}

/// Where the encrypted file's key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// `HEARTH_SECRETS_KEY`, the base64 of 32 bytes.
    EnvKey,
    /// `HEARTH_SECRETS_PASSPHRASE`, through argon2id.
    Passphrase,
    /// `secrets.key` in the state directory.
    KeyFile(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::EnvKey => f.write_str(ENV_KEY),
            KeySource::Passphrase => f.write_str(ENV_PASSPHRASE),
            KeySource::KeyFile(path) => write!(f, "key file {}", path.display()),
        }
    }
}

/// What [`SecretStore::open`] chose and what the user should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    pub kind: BackendKind,
    /// For the encrypted file only.
    pub key_source: Option<KeySource>,
    /// The keychain service, or the path of `secrets.enc`.
    pub location: String,
    /// A plain sentence or two for `hearth doctor`.
    pub advice: String,
}

#[derive(Debug)]
enum Backend {
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    Keychain(KeychainBackend),
    File(FileBackend),
}

/// Named secrets in the OS keychain or in an encrypted file.
///
/// Every method blocks (file I/O, D-Bus or keychain calls, argon2). On Linux the keychain runs
/// `keyring`'s async Secret Service client on its own Tokio runtime and blocks on it, which
/// panics on a Tokio runtime thread: callers inside an async runtime must call the store through
/// `tokio::task::spawn_blocking`, opening included.
pub struct SecretStore {
    backend: Backend,
    info: BackendInfo,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretStore")
            .field("kind", &self.info.kind)
            .field("location", &self.info.location)
            .finish_non_exhaustive()
    }
}

impl SecretStore {
    /// Opens the store for the Hearth home `state_dir` (created if missing).
    ///
    /// `Auto` probes the keychain and falls back to the encrypted file when it does not answer;
    /// `Keychain` fails with [`SecretsError::Unavailable`] instead. The encrypted file's key is
    /// checked here: a wrong key fails now, not at the first read.
    pub fn open(state_dir: &Path, pref: Preference) -> Result<SecretStore, SecretsError> {
        Self::open_with(state_dir, pref, KeyEnv::from_env()?)
    }

    pub(crate) fn open_with(
        state_dir: &Path,
        pref: Preference,
        env: KeyEnv,
    ) -> Result<SecretStore, SecretsError> {
        fsutil::ensure_dir(state_dir)?;
        let fallback = match pref {
            Preference::File => None,
            Preference::Keychain => match open_keychain(state_dir)? {
                Ok(store) => return Ok(store),
                Err(reason) => {
                    return Err(SecretsError::Unavailable(format!(
                        "the OS keychain is not usable ({reason}); set {ENV_BACKEND}=file to \
                         keep secrets in an encrypted file instead"
                    )));
                }
            },
            Preference::Auto => match open_keychain(state_dir)? {
                Ok(store) => return Ok(store),
                Err(reason) => {
                    tracing::info!(%reason, "OS keychain not usable; using the encrypted file");
                    Some(reason)
                }
            },
        };
        let file = FileBackend::open(state_dir, env)?;
        let info = file_info(&file, fallback.as_deref());
        Ok(SecretStore {
            backend: Backend::File(file),
            info,
        })
    }

    /// Which backend is in use, for `status` and `hearth doctor`.
    pub fn info(&self) -> &BackendInfo {
        &self.info
    }

    pub fn get(&self, name: &str) -> Result<Option<Secret>, SecretsError> {
        check_name(name)?;
        match &self.backend {
            #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
            Backend::Keychain(k) => k.get(name),
            Backend::File(f) => f.get(name),
        }
    }

    /// Stores `value` under `name`, replacing any earlier value.
    pub fn set(&self, name: &str, value: &str) -> Result<(), SecretsError> {
        check_name(name)?;
        match &self.backend {
            #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
            Backend::Keychain(k) => k.set(name, value),
            Backend::File(f) => f.set(name, value),
        }
    }

    /// Removes `name`; `false` when there was no such secret.
    pub fn delete(&self, name: &str) -> Result<bool, SecretsError> {
        check_name(name)?;
        match &self.backend {
            #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
            Backend::Keychain(k) => k.delete(name),
            Backend::File(f) => f.delete(name),
        }
    }

    /// The stored names, sorted; never values.
    pub fn list(&self) -> Result<Vec<String>, SecretsError> {
        match &self.backend {
            #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
            Backend::Keychain(k) => k.list(),
            Backend::File(f) => f.list(),
        }
    }
}

/// The keychain store, or why the keychain cannot be used (the outer error is a local failure
/// such as an unreadable state dir).
#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
fn open_keychain(state_dir: &Path) -> Result<Result<SecretStore, String>, SecretsError> {
    let canonical = state_dir
        .canonicalize()
        .map_err(|e| SecretsError::io(state_dir, e))?;
    let service = format!("hearth:{}", canonical.display());
    if let Err(reason) = keychain::probe(&service, PROBE_TIMEOUT) {
        return Ok(Err(reason));
    }
    let backend = KeychainBackend::new(service, state_dir);
    let info = BackendInfo {
        kind: BackendKind::Keychain,
        key_source: None,
        location: backend.service().to_owned(),
        advice: format!(
            "Secrets are kept in the OS keychain under the service `{}`; only their names are \
             stored on disk, in {}.",
            backend.service(),
            backend.index_path().display()
        ),
    };
    Ok(Ok(SecretStore {
        backend: Backend::Keychain(backend),
        info,
    }))
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn open_keychain(_state_dir: &Path) -> Result<Result<SecretStore, String>, SecretsError> {
    Ok(Err(
        "this build of Hearth has no OS keychain support for this platform".to_owned(),
    ))
}

fn file_info(file: &FileBackend, fallback: Option<&str>) -> BackendInfo {
    let enc = file.path().display();
    let why = match fallback {
        Some(reason) => format!(
            "The OS keychain was not usable ({reason}), so secrets are kept in an encrypted file. "
        ),
        None => String::new(),
    };
    let how = match file.source() {
        KeySource::EnvKey => format!(
            "Secrets are encrypted in {enc} with the key from {ENV_KEY}. Keep a copy of that key \
             somewhere safe: without it the secrets cannot be read."
        ),
        KeySource::Passphrase => format!(
            "Secrets are encrypted in {enc} with a key derived (argon2id) from \
             {ENV_PASSPHRASE}. Without the passphrase the secrets cannot be read."
        ),
        KeySource::KeyFile(key) => format!(
            "Secrets are encrypted in {enc} with the key in {}. The key file protects copies and \
             backups of secrets.enc, not against someone who can read your account's files: they \
             can read the key too. For that, set {ENV_PASSPHRASE} or use an OS keychain.",
            key.display()
        ),
    };
    BackendInfo {
        kind: BackendKind::EncryptedFile,
        key_source: Some(file.source().clone()),
        location: file.path().display().to_string(),
        advice: format!("{why}{how}"),
    }
}

/// Names are `[A-Za-z0-9._-]{1,128}`: safe as keychain users, JSON keys and in messages.
fn check_name(name: &str) -> Result<(), SecretsError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(SecretsError::InvalidName)
    }
}
