//! The secret store's one error type. No variant ever carries a secret's value.

use std::path::PathBuf;

/// Why a secret store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("invalid secret name: use 1 to 128 characters from A-Z, a-z, 0-9, `.`, `_` and `-`")]
    InvalidName,
    /// The OS keychain refused; the text is the keychain's message, which never holds a value.
    #[error("OS keychain: {0}")]
    Keychain(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `secrets.enc` did not decrypt with the key in use; the file was left as it was.
    #[error(
        "cannot decrypt secrets.enc with {source_desc}: wrong key, or the file was damaged; \
         secrets.enc was not changed"
    )]
    Decrypt { source_desc: String },
    /// The key material (env value, key file) is unusable; the text says how to fix it.
    #[error("{0}")]
    BadKey(String),
    #[error("corrupt secret store: {0}")]
    Corrupt(String),
    /// The backend that was asked for cannot be used here.
    #[error("secret store unavailable: {0}")]
    Unavailable(String),
}

impl SecretsError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
