//! The OS keychain backend (macOS Keychain, Windows Credential Manager, the Secret Service on
//! Linux) through `keyring`.
//!
//! Entries live under the service `hearth:<canonical state dir>`, so two Hearth homes never share
//! one; the entry's user is the secret's name. Keychains cannot list entries, so the names (never
//! the values) are also kept in `secrets.index.json`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::{Secret, SecretsError, fsutil};

pub(crate) const INDEX_FILE_NAME: &str = "secrets.index.json";
/// The probe's entry. `:` is not allowed in secret names, so it can never shadow a real secret.
const PROBE_USER: &str = ":probe";

#[derive(Debug)]
pub(crate) struct KeychainBackend {
    service: String,
    index: PathBuf,
    /// Serialises index updates within this process.
    index_lock: Mutex<()>,
}

impl KeychainBackend {
    pub(crate) fn new(service: String, state_dir: &Path) -> Self {
        Self {
            service,
            index: state_dir.join(INDEX_FILE_NAME),
            index_lock: Mutex::new(()),
        }
    }

    pub(crate) fn service(&self) -> &str {
        &self.service
    }

    pub(crate) fn index_path(&self) -> &Path {
        &self.index
    }

    fn entry(&self, name: &str) -> Result<keyring::Entry, SecretsError> {
        keyring::Entry::new(&self.service, name).map_err(|e| keychain_error(&e))
    }

    pub(crate) fn get(&self, name: &str) -> Result<Option<Secret>, SecretsError> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(Secret::from(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            // The error holds the raw bytes; only say what is wrong.
            Err(keyring::Error::BadEncoding(_)) => Err(SecretsError::Corrupt(format!(
                "the keychain entry for `{name}` is not UTF-8 text"
            ))),
            Err(e) => Err(keychain_error(&e)),
        }
    }

    pub(crate) fn set(&self, name: &str, value: &str) -> Result<(), SecretsError> {
        self.entry(name)?
            .set_password(value)
            .map_err(|e| keychain_error(&e))?;
        self.update_index(|names| {
            if let Err(at) = names.binary_search_by(|n| n.as_str().cmp(name)) {
                names.insert(at, name.to_owned());
            }
        })
    }

    pub(crate) fn delete(&self, name: &str) -> Result<bool, SecretsError> {
        let existed = match self.entry(name)?.delete_credential() {
            Ok(()) => true,
            Err(keyring::Error::NoEntry) => false,
            Err(e) => return Err(keychain_error(&e)),
        };
        self.update_index(|names| names.retain(|n| n != name))?;
        Ok(existed)
    }

    pub(crate) fn list(&self) -> Result<Vec<String>, SecretsError> {
        read_index(&self.index)
    }

    fn update_index(&self, change: impl FnOnce(&mut Vec<String>)) -> Result<(), SecretsError> {
        let _guard = self
            .index_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut names = read_index(&self.index)?;
        change(&mut names);
        write_index(&self.index, &names)
    }
}

/// Whether the keychain answers: reading an entry that does not exist must say "no entry".
/// Anything else (no D-Bus session bus, no Secret Service, a locked store) means it is not usable.
/// Bounded by `timeout`, because a Secret Service that is activatable but never starts can keep
/// a call waiting; the probing thread is then left to finish on its own.
pub(crate) fn probe(service: &str, timeout: Duration) -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let service = service.to_owned();
    std::thread::Builder::new()
        .name("hearth-keychain-probe".to_owned())
        .spawn(move || {
            let answer = keyring::Entry::new(&service, PROBE_USER).and_then(|e| e.get_password());
            let verdict = match answer {
                Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(e.to_string()),
            };
            // The receiver is gone only when the probe already timed out.
            let _ = tx.send(verdict);
        })
        .map_err(|e| format!("cannot start the keychain probe: {e}"))?;
    rx.recv_timeout(timeout).unwrap_or_else(|_| {
        Err(format!(
            "the keychain did not answer within {} s",
            timeout.as_secs()
        ))
    })
}

fn keychain_error(e: &keyring::Error) -> SecretsError {
    // keyring's Display never includes a password (BadEncoding is handled before this).
    SecretsError::Keychain(e.to_string())
}

pub(crate) fn read_index(path: &Path) -> Result<Vec<String>, SecretsError> {
    match std::fs::read(path) {
        Ok(raw) => serde_json::from_slice(&raw).map_err(|e| {
            SecretsError::Corrupt(format!("{} is not a list of names: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(SecretsError::io(path, e)),
    }
}

pub(crate) fn write_index(path: &Path, names: &[String]) -> Result<(), SecretsError> {
    let mut bytes = serde_json::to_vec_pretty(names)
        .map_err(|e| SecretsError::Corrupt(format!("cannot encode the names index: {e}")))?;
    bytes.push(b'\n');
    fsutil::write_private_atomic(path, &bytes)
}
