//! Channels, pairing and their events: the shapes of `channels.*` and `pairing.*`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::methods::ConfigWrite;

/// Where an account's connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelState {
    /// Connecting for the first time.
    Connecting,
    /// Receiving messages.
    Connected,
    /// The connection failed; the gateway retries after a backoff (see `lastError`).
    Retrying,
    /// Stopped until the config changes: credentials refused or settings incomplete.
    Failed,
    /// `enabled: false` in the config.
    Disabled,
    /// All channels are paused (tray or `hearth channels pause`).
    Paused,
    /// This build was made without the channel.
    Unavailable,
}

/// What a platform supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelCapabilities {
    pub edits: bool,
    pub reactions: bool,
    pub typing: bool,
    pub threads: bool,
    pub media: bool,
    pub max_text_len: usize,
    /// The markup answers are sent in.
    pub format: String,
}

/// Message counts of one account since the gateway started, plus its queues now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelCounts {
    /// Messages received from the platform.
    pub received: u64,
    /// Allowed through access control to an agent.
    pub allowed: u64,
    /// Refused by access control (no model call, nothing stored).
    pub denied: u64,
    /// Group messages not meant for the bot.
    pub ignored: u64,
    /// Pairing codes sent to unknown senders.
    pub pairing: u64,
    /// Messages delivered to the platform.
    pub sent: u64,
    /// Send attempts that failed (each retry counts).
    pub send_failures: u64,
    /// Stored inbound messages not answered yet.
    pub inbound_pending: u64,
    /// Outbound messages waiting in the queue.
    pub outbound_pending: u64,
    /// Outbound messages given up after their retries or refused for good.
    pub outbound_failed: u64,
}

/// One channel account's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccountStatus {
    /// `telegram`, `discord`, `slack`, `matrix`, `webchat`.
    pub channel: String,
    pub account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub state: ChannelState,
    /// When the state last changed (ms since the epoch).
    pub since_ms: i64,
    /// The bot as the platform knows it (`@hearth_bot`), once connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The last connection or delivery error, without secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Reconnects since the gateway started.
    pub reconnects: u64,
    /// Consecutive failed connection attempts (0 when connected).
    pub failures: u32,
    pub dm_policy: String,
    pub group_policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<ChannelCapabilities>,
    pub counts: ChannelCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_inbound_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_outbound_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelsStatusResult {
    /// Every configured account, and `webchat`.
    pub channels: Vec<ChannelAccountStatus>,
    /// All channels paused.
    pub paused: bool,
}

/// A channel account's settings as the setup wizard collects them. Credentials go to the secret
/// store; everything else into `channels.<channel>[.accounts.<account>]`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelsAddParams {
    /// `telegram`, `discord`, `slack` or `matrix`.
    pub channel: String,
    /// Account id; default `default` (the channel's own settings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Credentials by config key: `botToken`, `token`, `appToken`, `signingSecret`, `password`,
    /// `accessToken`, `webhookSecret`. Stored in the secret store, referenced from the config.
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
    /// Other settings by config key (`apiRoot`, `mode`, `homeserver`, `userId`, `dmPolicy`,
    /// `allowFrom`, …), merged into the account's section.
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The config file's hash this change is based on (from `config.get`); stale → `CONFLICT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_hash: Option<String>,
    /// Check the credentials with the platform first and refuse to save when they fail.
    #[serde(default)]
    pub test: bool,
}

impl std::fmt::Debug for ChannelsAddParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelsAddParams")
            .field("channel", &self.channel)
            .field("account", &self.account)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelsAddResult {
    pub channel: String,
    pub account: String,
    /// Who the bot is, when it was tested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Secret-store entries written.
    pub secrets: Vec<String>,
    pub config: ConfigWrite,
}

/// Tries an account's credentials: a configured one (`channel` + `account`) or a draft
/// (`credentials`/`settings` as for `channels.add`).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelsTestParams {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for ChannelsTestParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelsTestParams")
            .field("channel", &self.channel)
            .field("account", &self.account)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelsTestResult {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelsRemoveParams {
    pub channel: String,
    /// Without it, the whole channel with all its accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_hash: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelsPauseParams {
    /// True pauses every channel (they disconnect; nothing is lost: platforms keep messages),
    /// false resumes them.
    pub paused: bool,
}

/// A sender waiting for the owner's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PairingRequest {
    pub channel: String,
    pub account: String,
    pub sender_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    /// The code the sender was given; approve with it.
    pub code: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// A sender the owner approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovedSender {
    pub channel: String,
    pub account: String,
    pub sender_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    pub approved_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PairingListResult {
    pub requests: Vec<PairingRequest>,
    pub approved: Vec<ApprovedSender>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PairingCodeParams {
    /// The code the sender received (case-insensitive).
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PairingDecision {
    pub channel: String,
    pub account: String,
    pub sender_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    /// `approved` or `denied`.
    pub decision: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PairingRevokeParams {
    pub channel: String,
    pub account: String,
    pub sender_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PairingRevokeResult {
    pub revoked: bool,
}

/// Event `pairing.resolved`: a request was approved, denied or expired.
pub type PairingResolved = PairingDecision;
