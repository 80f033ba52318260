//! One account's settings as the gateway resolved them: config merged over the channel's
//! defaults, secrets read from the secret store.

use std::fmt;
use std::path::PathBuf;

/// Everything an adapter needs to connect. Built by the gateway from `channels.<id>` and
/// `channels.<id>.accounts.<accountId>`; credentials are plain here and never printed.
#[derive(Clone, Default)]
pub struct AccountSettings {
    /// Matrix: the passphrase of its SQLite stores (kept by the gateway in the secret store).
    pub store_passphrase: Option<String>,
    /// `telegram`, `discord`, `slack`, `matrix`.
    pub channel: String,
    pub account_id: String,
    /// Base URL of the platform's API, for self-hosted servers and tests: Telegram `apiRoot`
    /// (default `https://api.telegram.org`), Discord (default `https://discord.com/api/v10`),
    /// Slack (default `https://slack.com/api`). For Matrix, use `homeserver`.
    pub api_root: Option<String>,
    /// Telegram `botToken`, Discord bot `token`, Slack `botToken` (`xoxb-`), Matrix access token.
    pub token: Option<String>,
    /// Slack app-level token (`xapp-`) for Socket Mode.
    pub app_token: Option<String>,
    /// Slack signing secret, for the Events API over HTTP.
    pub signing_secret: Option<String>,
    /// Telegram: `polling` (default) or `webhook`. Slack: `socket` (default) or `http`.
    pub mode: Option<String>,
    /// Telegram webhook mode: the public HTTPS URL that reaches the gateway's webhook route.
    pub webhook_url: Option<String>,
    /// Telegram webhook mode: the secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token`.
    pub webhook_secret: Option<String>,
    /// HTTP(S) proxy for this account's API calls.
    pub proxy: Option<String>,
    /// Discord: gateway intents bitfield; default guilds, guild messages, DMs, message content.
    pub intents: Option<u64>,
    /// Matrix homeserver URL.
    pub homeserver: Option<String>,
    /// Matrix user id (`@bot:example.org`) for password login.
    pub user_id: Option<String>,
    /// Matrix password (used once to log in; the session is then kept in `state_dir`).
    pub password: Option<String>,
    /// Matrix device id to reuse.
    pub device_id: Option<String>,
    /// Matrix: which invites to accept: `all`, `allowlist` (senders in `allow_from`), `none`.
    /// The gateway always sets it (from `autoJoin`, else from the DM policy).
    pub auto_join: Option<String>,
    /// Senders whose invites are accepted under `auto_join: allowlist` (the account's
    /// `allowFrom`, plus approved pairings).
    pub allow_from: Vec<String>,
    /// A private directory of this account's own state (Matrix's SQLite crypto and state
    /// stores, session file). Created by the gateway (0700).
    pub state_dir: PathBuf,
}

impl fmt::Debug for AccountSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |v: &Option<String>| v.as_ref().map(|_| "<set>");
        f.debug_struct("AccountSettings")
            .field("channel", &self.channel)
            .field("account_id", &self.account_id)
            .field("api_root", &self.api_root)
            .field("token", &set(&self.token))
            .field("app_token", &set(&self.app_token))
            .field("signing_secret", &set(&self.signing_secret))
            .field("mode", &self.mode)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &set(&self.webhook_secret))
            .field("proxy", &self.proxy)
            .field("homeserver", &self.homeserver)
            .field("user_id", &self.user_id)
            .field("password", &set(&self.password))
            .field("device_id", &self.device_id)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

impl AccountSettings {
    /// The credential, or a [`crate::ChannelError::Config`] naming the key to set.
    pub fn require<'a>(
        &self,
        value: &'a Option<String>,
        key: &str,
    ) -> Result<&'a str, crate::ChannelError> {
        value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| {
            crate::ChannelError::Config(format!(
                "`channels.{}{}.{key}` is not set",
                self.channel,
                if self.account_id == "default" {
                    String::new()
                } else {
                    format!(".accounts.{}", self.account_id)
                }
            ))
        })
    }
}
