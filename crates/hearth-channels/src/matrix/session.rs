//! Opening the account's encrypted SQLite stores and logging in.
//!
//! The crypto store belongs to one device, so every start must come back as that device: with a
//! password, the adapter logs in again each start, passing the device id it saved (not a
//! secret) in `state_dir/device.json`; with an access token, it restores the session from the
//! settings (`accessToken`, `userId`, `deviceId`). The access token itself is never written to
//! disk by Hearth.

use std::path::{Path, PathBuf};
use std::time::Duration;

use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::RequestConfig;
use matrix_sdk::ruma::{OwnedDeviceId, OwnedUserId};
use matrix_sdk::{Client, ClientBuildError, SessionMeta, SessionTokens};
use serde::{Deserialize, Serialize};

use super::errors::{http_error, login_error, sdk_error};
use crate::{AccountSettings, ChannelError};

/// How the bot proves who it is.
#[derive(Clone)]
pub(super) enum Credentials {
    Password {
        user: String,
        password: String,
    },
    Token {
        user: OwnedUserId,
        device: OwnedDeviceId,
        token: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .finish_non_exhaustive(),
            Credentials::Token { user, device, .. } => f
                .debug_struct("Token")
                .field("user", user)
                .field("device", device)
                .finish_non_exhaustive(),
        }
    }
}

impl Credentials {
    /// Reads the credentials from the settings: a password login (`userId` + `password`) or
    /// a session restore (`accessToken` + `userId` + `deviceId`).
    pub(super) fn from_settings(settings: &AccountSettings) -> Result<Credentials, ChannelError> {
        let user = settings.require(&settings.user_id, "userId")?;
        if settings.token.as_deref().is_some_and(|t| !t.is_empty()) {
            let token = settings.require(&settings.token, "accessToken")?;
            let device = settings.require(&settings.device_id, "deviceId")?;
            let user = OwnedUserId::try_from(user).map_err(|e| {
                ChannelError::Config(format!("`userId` `{user}` is not a Matrix user id: {e}"))
            })?;
            return Ok(Credentials::Token {
                user,
                device: device.into(),
                token: token.to_owned(),
            });
        }
        let password = settings.require(&settings.password, "password")?;
        Ok(Credentials::Password {
            user: user.to_owned(),
            password: password.to_owned(),
        })
    }
}

/// The non-secret half of a password session, kept so the next login reuses the device.
#[derive(Debug, Serialize, Deserialize)]
struct SavedDevice {
    user_id: String,
    device_id: String,
}

fn device_file(state_dir: &Path) -> PathBuf {
    state_dir.join("device.json")
}

/// The device id saved by an earlier password login of `user`.
pub(super) fn saved_device(state_dir: &Path, user: &str) -> Option<String> {
    let text = std::fs::read_to_string(device_file(state_dir)).ok()?;
    let saved: SavedDevice = serde_json::from_str(&text).ok()?;
    // A device of another account cannot be reused (the user id changed in the settings).
    let same = saved.user_id == user
        || saved
            .user_id
            .strip_prefix('@')
            .and_then(|u| u.split(':').next())
            == Some(user.trim_start_matches('@'));
    same.then_some(saved.device_id)
}

fn save_device(state_dir: &Path, user_id: &str, device_id: &str) -> Result<(), ChannelError> {
    let saved = SavedDevice {
        user_id: user_id.to_owned(),
        device_id: device_id.to_owned(),
    };
    let text = serde_json::to_string_pretty(&saved)
        .map_err(|e| ChannelError::Transient(format!("could not encode device.json: {e}")))?;
    let path = device_file(state_dir);
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| ChannelError::Transient(format!("could not save {}: {e}", path.display())))
}

/// The SDK's own retries are turned off: the sync loop backs off by itself, the crypto
/// machine re-queues its requests on the next sync, and sends must fail fast so the gateway's
/// durable queue decides when to try again (honouring the server's `retry_after_ms`).
fn request_config() -> RequestConfig {
    RequestConfig::new()
        .retry_limit(1)
        .timeout(Duration::from_secs(60))
}

/// Builds a client on the account's stores and logs it in.
pub(super) async fn connect(
    settings: &AccountSettings,
    homeserver: &str,
    credentials: &Credentials,
) -> Result<Client, ChannelError> {
    let store = settings.state_dir.join("store");
    std::fs::create_dir_all(&store).map_err(|e| {
        ChannelError::Config(format!(
            "could not create the Matrix store directory {}: {e}",
            store.display()
        ))
    })?;
    if settings.store_passphrase.is_none() {
        tracing::warn!(
            account = %settings.account_id,
            "no store passphrase: the Matrix crypto store is not encrypted at rest"
        );
    }
    let client = Client::builder()
        .homeserver_url(homeserver)
        .sqlite_store(&store, settings.store_passphrase.as_deref())
        .request_config(request_config())
        .build()
        .await
        .map_err(|e| build_error(&e, &store))?;

    match credentials {
        Credentials::Password { user, password } => {
            let device = saved_device(&settings.state_dir, user);
            let auth = client.matrix_auth();
            let mut login = auth
                .login_username(user, password)
                .initial_device_display_name("Hearth");
            if let Some(device) = device.as_deref() {
                login = login.device_id(device);
            }
            let response = login.send().await.map_err(|e| login_error(&e))?;
            save_device(
                &settings.state_dir,
                response.user_id.as_str(),
                response.device_id.as_str(),
            )?;
            tracing::info!(
                account = %settings.account_id,
                user = %response.user_id,
                device = %response.device_id,
                reused = device.is_some(),
                "logged in to Matrix"
            );
        }
        Credentials::Token {
            user,
            device,
            token,
        } => {
            let session = MatrixSession {
                meta: SessionMeta {
                    user_id: user.clone(),
                    device_id: device.clone(),
                },
                tokens: SessionTokens {
                    access_token: token.clone(),
                    refresh_token: None,
                },
            };
            client
                .restore_session(session)
                .await
                .map_err(|e| restore_error(&e))?;
            // Restoring does not touch the server: check the token now, so a revoked one stops
            // the account with an `Auth` error instead of failing every sync.
            let me = client
                .whoami()
                .await
                .map_err(|e| login_error(&matrix_sdk::Error::from(e)))?;
            if me.device_id.as_ref().is_some_and(|d| d != device) {
                return Err(ChannelError::Config(format!(
                    "`deviceId` is {device}, but the access token belongs to device {}",
                    me.device_id.as_deref().map(|d| d.as_str()).unwrap_or("?")
                )));
            }
        }
    }
    Ok(client)
}

fn build_error(err: &ClientBuildError, store: &Path) -> ChannelError {
    match err {
        ClientBuildError::SqliteStore(e) => ChannelError::Config(format!(
            "could not open the Matrix stores in {} (wrong store passphrase?): {e}",
            store.display()
        )),
        ClientBuildError::Url(e) => ChannelError::Config(format!("`homeserver` is not a URL: {e}")),
        ClientBuildError::Http(e) => http_error(e, "reaching the homeserver"),
        other => ChannelError::Transient(format!("could not start the Matrix client: {other}")),
    }
}

fn restore_error(err: &matrix_sdk::Error) -> ChannelError {
    match err {
        matrix_sdk::Error::CryptoStoreError(e) => ChannelError::Config(format!(
            "the Matrix crypto store in stateDir belongs to another account or device ({e}); \
             use that device's access token or remove the account's state"
        )),
        other => sdk_error(other, "restoring the Matrix session"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_file_round_trips_for_the_same_user_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(saved_device(dir.path(), "@bot:example.org"), None);
        save_device(dir.path(), "@bot:example.org", "ABCDEF").expect("save");
        assert_eq!(
            saved_device(dir.path(), "@bot:example.org").as_deref(),
            Some("ABCDEF")
        );
        // A bare localpart in the settings names the same user.
        assert_eq!(saved_device(dir.path(), "bot").as_deref(), Some("ABCDEF"));
        assert_eq!(saved_device(dir.path(), "@other:example.org"), None);
        let text = std::fs::read_to_string(dir.path().join("device.json")).expect("read");
        assert!(!text.contains("token"));
    }

    #[test]
    fn credentials_name_the_missing_key() {
        let mut settings = AccountSettings {
            channel: "matrix".into(),
            account_id: "default".into(),
            ..AccountSettings::default()
        };
        let err = Credentials::from_settings(&settings).expect_err("no user");
        assert!(err.to_string().contains("userId"), "{err}");
        settings.user_id = Some("@bot:example.org".into());
        let err = Credentials::from_settings(&settings).expect_err("no password");
        assert!(err.to_string().contains("password"), "{err}");
        settings.token = Some("syt_secret".into());
        let err = Credentials::from_settings(&settings).expect_err("no device");
        assert!(err.to_string().contains("deviceId"), "{err}");
        settings.device_id = Some("DEV".into());
        let creds = Credentials::from_settings(&settings).expect("token login");
        assert!(matches!(creds, Credentials::Token { .. }));
        assert!(!format!("{creds:?}").contains("syt_secret"));
    }
}
