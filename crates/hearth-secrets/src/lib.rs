//! Where Hearth keeps credentials (provider API keys, the gateway token): the OS keychain when
//! one answers, otherwise `secrets.enc`, a ChaCha20-Poly1305 encrypted file in the state
//! directory.
//!
//! [`SecretStore::open`] picks the backend from a [`Preference`] (config or
//! `HEARTH_SECRETS_BACKEND`, see [`preference_from_env`]) and describes its choice in a
//! [`BackendInfo`] that `hearth doctor` and `status` show. Values travel as [`Secret`], which
//! never prints itself; errors and logs name secrets, never their values.
//!
//! The API is blocking: see [`SecretStore`] for how to call it from async code.

mod error;
mod file;
mod fsutil;
#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
mod keychain;
mod secret;
mod store;
#[cfg(test)]
mod tests;

pub use error::SecretsError;
pub use secret::Secret;
pub use store::{
    BackendInfo, BackendKind, KeySource, Preference, SecretStore, preference_from_env,
};
