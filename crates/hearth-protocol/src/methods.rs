//! Every gateway method, once: its wire name, its params type and its result type.
//!
//! The table at the bottom of this file is the single source of truth. It generates
//! - [`Method`], the closed set of names, with `hello-ok`'s feature list;
//! - [`Request`], a parsed request with typed params, which the gateway dispatches on;
//! - one marker type per method in [`spec`], implementing [`MethodSpec`], so a client can make
//!   typed calls (`client.call::<spec::ChatSend>(params)`);
//! - the per-method JSON Schemas in [`crate::schema`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

pub use crate::agents::*;
pub use crate::audit::*;
pub use crate::channels::*;
pub use crate::cron::*;
use crate::transcript::{Message, Usage};

/// Compile-time description of one method, for typed clients.
pub trait MethodSpec {
    const NAME: &'static str;
    type Params: Serialize + DeserializeOwned + JsonSchema;
    type Result: Serialize + DeserializeOwned + JsonSchema;
}

/// Why a request's method or params were not accepted.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("unknown method `{0}`")]
    UnknownMethod(String),
    #[error("invalid params for `{method}`: {source}")]
    InvalidParams {
        method: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

fn parse_params<T: DeserializeOwned>(
    method: &'static str,
    params: Value,
) -> Result<T, RequestError> {
    // Absent params and `null` mean "no params": the same as `{}`.
    let params = if params.is_null() {
        Value::Object(Default::default())
    } else {
        params
    };
    serde_json::from_value(params).map_err(|source| RequestError::InvalidParams { method, source })
}

macro_rules! methods {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal ($params:ty) -> $result:ty; )*) => {
        /// The closed set of method names.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Method { $($variant),* }

        impl Method {
            pub const ALL: &'static [Method] = &[$(Method::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(Method::$variant => $name),* }
            }

            pub fn from_name(name: &str) -> Option<Method> {
                match name { $($name => Some(Method::$variant),)* _ => None }
            }

            /// The method's documentation, as written on the table.
            pub fn doc(self) -> &'static str {
                match self { $(Method::$variant => concat!($($doc, "\n"),*).trim_ascii()),* }
            }
        }

        /// A request whose params parsed against its method's type.
        #[derive(Debug, Clone)]
        pub enum Request { $($variant($params)),* }

        impl Request {
            pub fn parse(method: &str, params: Value) -> Result<Request, RequestError> {
                match method {
                    $($name => Ok(Request::$variant(parse_params($name, params)?)),)*
                    other => Err(RequestError::UnknownMethod(other.to_owned())),
                }
            }

            pub fn method(&self) -> Method {
                match self { $(Request::$variant(_) => Method::$variant),* }
            }
        }

        /// Marker types, one per method, for typed calls.
        pub mod spec {
            use super::*;
            $(
                $(#[doc = $doc])*
                #[derive(Debug, Clone, Copy)]
                pub struct $variant;
                impl MethodSpec for $variant {
                    const NAME: &'static str = $name;
                    type Params = $params;
                    type Result = $result;
                }
            )*
        }

        pub(crate) fn method_schemas(generator: &mut schemars::SchemaGenerator) -> Vec<(&'static str, &'static str, schemars::Schema, schemars::Schema)> {
            vec![$(($name, Method::$variant.doc(), generator.subschema_for::<$params>(), generator.subschema_for::<$result>())),*]
        }
    };
}

/// An empty params or result object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

// ---------------------------------------------------------------------------------------------
// connect

/// First frame of every connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectParams {
    pub min_protocol: u32,
    pub max_protocol: u32,
    pub client: ClientInfo,
    /// `operator` (full control) is the only role for now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Requested scopes. The gateway grants by the credential, never by what the client claims.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ConnectAuth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    /// A stable name for the kind of client: `hearth-cli`, `control-ui`, ...
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub version: String,
    pub platform: String,
    /// `cli`, `ui`, `webchat`, `backend`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectAuth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// The gateway's answer to `connect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelloOk {
    /// Always `hello-ok`.
    #[serde(rename = "type")]
    pub kind: String,
    pub protocol: u32,
    pub server: ServerInfo,
    pub features: Features,
    pub policy: Policy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub version: String,
    pub conn_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    pub methods: Vec<String>,
    pub events: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub max_payload: usize,
    pub tick_interval_ms: u64,
}

// ---------------------------------------------------------------------------------------------
// health, status

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthResult {
    pub ok: bool,
    pub version: String,
    pub uptime_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusResult {
    pub version: String,
    pub uptime_ms: u64,
    pub pid: u32,
    /// The address the gateway listens on.
    pub listen: String,
    pub state_dir: String,
    pub config_path: String,
    /// Which secret store is in use: `keychain` or `encrypted-file`.
    pub secrets_backend: String,
    pub default_agent: String,
    pub agents: Vec<AgentInfo>,
    pub providers: Vec<ProviderInfo>,
    pub sessions: u64,
    pub active_runs: u64,
    pub connections: u64,
    /// Whether the first-run setup still has to happen.
    pub onboarding: OnboardingStatus,
    /// The desktop shell around this gateway, if any.
    pub desktop: DesktopStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingStatus {
    /// True while no provider and default model are configured (see `onboarding.apply`).
    pub needed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DesktopStatus {
    /// True when the gateway runs inside the desktop app (`desktop.*` methods work).
    pub available: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfo {
    pub id: String,
    pub name: String,
    /// `provider/model` of the primary model.
    pub model: String,
    pub fallbacks: Vec<String>,
    pub workspace: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderInfo {
    pub id: String,
    pub api: String,
    pub base_url: String,
    pub models: Vec<String>,
    /// False when the provider's API kind is not supported by this build.
    pub available: bool,
}

// ---------------------------------------------------------------------------------------------
// chat

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatSendParams {
    /// Session key; absent means the default agent's main session (`main`). A short key such as
    /// `main` or `work` is scoped to the agent; a full key (`agent:<id>:...`) is used as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    pub message: String,
    /// The agent to answer; absent means the default agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Sending the same key twice starts one run; the second answer says `duplicate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Files sent with the message; each becomes a content block of the user's message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<ChatAttachment>,
}

/// A file attached to a chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ChatAttachment {
    /// An image, at most 5 MiB once decoded.
    #[serde(rename_all = "camelCase")]
    Image {
        /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
        mime_type: String,
        /// Base64 of the file, without a `data:` prefix.
        data: String,
        /// The file's name, for display.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatSendResult {
    pub run_id: String,
    pub session_key: String,
    pub status: RunAcceptance,
    /// For `command`: the gateway's answer to a slash command (`/status`, `/new`, `/stop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunAcceptance {
    /// The run starts now.
    Started,
    /// Another run of the session is going; this one runs after it.
    Queued,
    /// The idempotency key was seen before; `runId` is the earlier run.
    Duplicate,
    /// The message was a slash command the gateway answered itself (`reply`); no run started.
    Command,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatHistoryParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    /// Most recent messages to return (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatHistoryResult {
    pub session_key: String,
    /// Absent when the session has no messages yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatAbortParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    /// Abort only this run; absent aborts the session's current and queued runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatAbortResult {
    pub aborted: bool,
    pub run_ids: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// sessions

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionsListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Only the sessions of this sender (a channel's user id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Substring of the key or the title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    /// Include sessions that were reset (their keys now point at newer sessions).
    #[serde(default)]
    pub include_archived: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionsListResult {
    pub sessions: Vec<SessionInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub key: String,
    pub session_id: String,
    pub agent_id: String,
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub message_count: u64,
    pub usage: Usage,
    pub archived: bool,
    /// The session this one was forked from or spawned by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// For a fork: the parent's last message (`seq`) it copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork_seq: Option<i64>,
}

/// Fork a session at one of its messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionsForkParams {
    /// The session key to fork (its active session); or give `sessionId` for an archived one.
    pub key: String,
    /// Fork this session (active or archived) instead of the key's active one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The last message to copy (its `seq` from `chat.history`); default all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_seq: Option<i64>,
    /// The new session's key; default `<key>:fork:<n>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionsForkResult {
    /// The new session's key.
    pub key: String,
    pub session_id: String,
    pub parent_id: String,
    pub fork_seq: i64,
    /// Messages copied.
    pub messages: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionsPreviewParams {
    pub keys: Vec<String>,
    /// Most recent messages per session (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionsPreviewResult {
    pub previews: Vec<SessionPreview>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionPreview {
    pub key: String,
    /// False when no session has this key.
    pub found: bool,
    pub items: Vec<PreviewItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewItem {
    pub role: crate::transcript::Role,
    pub text: String,
    pub timestamp: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionKeyParams {
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionsResetResult {
    pub key: String,
    /// The archived session, still readable; absent when the key had no session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_session_id: Option<String>,
}

/// What `sessions.compact` did. The transcript is unchanged; the summary is shown in
/// `chat.history` as a `system` message right after the last message it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionsCompactResult {
    pub key: String,
    /// False when there was nothing to summarise (no session, or too short a conversation).
    pub compacted: bool,
    pub messages_summarised: u64,
    /// Estimated prompt tokens before and after.
    pub tokens_before: u64,
    pub tokens_after: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionsDeleteResult {
    pub key: String,
    /// How many sessions (the current and archived ones) were deleted.
    pub deleted: u64,
}

// ---------------------------------------------------------------------------------------------
// models, config

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelsListResult {
    pub models: Vec<ModelInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    /// `provider/model`.
    pub id: String,
    pub provider: String,
    pub name: String,
    pub api: String,
    pub context_window: u64,
    pub max_tokens: u64,
    pub input: Vec<String>,
    pub reasoning: bool,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigGetResult {
    pub path: String,
    /// SHA-256 of the file as it is on disk; send it back to a write to guard against a
    /// concurrent edit.
    pub hash: String,
    /// The effective config with every secret replaced by `"__redacted__"`.
    pub config: Value,
    /// Settings changed on disk that need a restart to apply.
    pub restart_required: Vec<String>,
    /// The file's text exactly as on disk (comments included); empty when there is no file.
    pub raw: String,
    /// Whether the file exists (without it the defaults apply).
    pub exists: bool,
}

/// Config text may hold keys written in the file: only its size is shown.
struct TextSize<'a>(&'a str);

impl std::fmt::Debug for TextSize<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

impl std::fmt::Debug for ConfigGetResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigGetResult")
            .field("path", &self.path)
            .field("hash", &self.hash)
            .field("config", &self.config)
            .field("restart_required", &self.restart_required)
            .field("raw", &TextSize(&self.raw))
            .field("exists", &self.exists)
            .finish()
    }
}

/// How bad a config [`ConfigIssue`] is: errors refuse the file, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IssueSeverity {
    Error,
    Warning,
}

/// One problem found in a config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigIssue {
    pub severity: IssueSeverity,
    /// The setting's dotted path, e.g. `models.providers.openai.baseUrl`; empty for the whole
    /// document.
    pub path: String,
    /// What is wrong and, when there is more to say, what to do.
    pub message: String,
    /// 1-based line, for syntax errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column, for syntax errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigValidateParams {
    /// The whole file's text (JSON5).
    pub raw: String,
}

impl std::fmt::Debug for ConfigValidateParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigValidateParams")
            .field("raw", &TextSize(&self.raw))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigValidateResult {
    /// False when any issue is an error.
    pub ok: bool,
    /// Errors first, then warnings.
    pub issues: Vec<ConfigIssue>,
}

#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigSetParams {
    /// The new file's text, written as is (comments kept).
    pub raw: String,
    /// `hash` from `config.get`: the write is refused (`CONFLICT`) when the file changed since.
    pub base_hash: String,
}

impl std::fmt::Debug for ConfigSetParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigSetParams")
            .field("raw", &TextSize(&self.raw))
            .field("base_hash", &self.base_hash)
            .finish()
    }
}

#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigPatchParams {
    /// An RFC 7396 JSON merge patch of the file's document: objects merge, `null` deletes,
    /// anything else replaces.
    pub patch: serde_json::Map<String, Value>,
    /// `hash` from `config.get`: the write is refused (`CONFLICT`) when the file changed since.
    pub base_hash: String,
}

/// A patch may set keys: only the top-level settings it touches are shown.
impl std::fmt::Debug for ConfigPatchParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigPatchParams")
            .field("patch", &self.patch.keys().collect::<Vec<_>>())
            .field("base_hash", &self.base_hash)
            .finish()
    }
}

/// A config write that was checked, written and applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigWrite {
    /// SHA-256 of the file as written; the `baseHash` of the next write.
    pub hash: String,
    /// Settings that changed but apply only after a restart.
    pub restart_required: Vec<String>,
    /// Warnings about the new config (it was applied anyway).
    pub warnings: Vec<ConfigIssue>,
}

// ---------------------------------------------------------------------------------------------
// secrets

/// Which secret store the gateway uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SecretsBackendKind {
    /// The OS keychain.
    Keychain,
    /// `secrets.enc` in the state directory.
    EncryptedFile,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretsListResult {
    pub backend: SecretsBackendKind,
    /// The stored names, sorted. Values never leave the gateway.
    pub names: Vec<String>,
}

#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretsSetParams {
    /// 1 to 128 characters from `A-Z`, `a-z`, `0-9`, `.`, `_` and `-`; the config refers to it as
    /// `{ "secret": "<name>" }`.
    pub name: String,
    pub value: String,
}

/// The value is a secret: only the name is shown.
impl std::fmt::Debug for SecretsSetParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsSetParams")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretsSetResult {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretsDeleteParams {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretsDeleteResult {
    /// False when there was no such secret.
    pub deleted: bool,
}

// ---------------------------------------------------------------------------------------------
// providers.test, onboarding

/// Shows header names only: their values are often keys.
struct HeaderNames<'a>(&'a BTreeMap<String, String>);

impl std::fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProvidersTestParams {
    /// A configured provider's id (`models.providers.<id>`). Exactly one of `provider` and
    /// `draft`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// A provider that is not configured yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<ProviderDraft>,
    /// The provider's own id of a model to send a tiny completion to, besides listing models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// A provider's connection settings, as a form holds them before they are saved.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderDraft {
    /// `openai-completions`, `openai-responses`, `anthropic-messages`, `google-generative-ai` or
    /// `ollama`.
    pub api: String,
    /// Default: the vendor's own (OpenAI, Anthropic, Gemini, or Ollama on 127.0.0.1:11434).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// The key and header values are secrets.
impl std::fmt::Debug for ProviderDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderDraft")
            .field("api", &self.api)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("headers", &HeaderNames(&self.headers))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvidersTestResult {
    /// True when the provider answered (and the model, when one was given).
    pub ok: bool,
    /// Time the whole test took.
    pub latency_ms: u64,
    /// The models the provider lists (empty when listing failed).
    pub models: Vec<RemoteModelInfo>,
    /// Why the test failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ProviderTestError>,
}

/// A model as the provider lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteModelInfo {
    /// The provider's own model id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderTestError {
    /// `auth`, `rate_limited`, `not_found`, `timeout`, `network`, `invalid_request`, ...
    pub kind: String,
    /// A sentence for a person; never contains the key.
    pub message: String,
}

/// How an assistant answers direct messages from people it does not know yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DmPolicyChoice {
    Pairing,
    Allowlist,
    Open,
    Disabled,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OnboardingApplyParams {
    /// The provider to add (or update) under `models.providers`.
    pub provider: OnboardingProvider,
    /// The default model, `provider/model`.
    pub model: String,
    /// `provider/model` refs tried in order when the default model fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<Vec<String>>,
    /// The default agent's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant_name: Option<String>,
    /// Written to the default agent's workspace as `SOUL.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soul: Option<String>,
    /// Written to the default agent's workspace as `USER.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `channels.defaults.dmPolicy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_policy: Option<DmPolicyChoice>,
    /// `hash` from `config.get`.
    pub base_hash: String,
}

#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OnboardingProvider {
    /// The provider's id, the first half of `provider/model`.
    pub id: String,
    /// The API kind, as in [`ProviderDraft::api`].
    pub api: String,
    /// Default: the vendor's own for `api`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Stored in the secret store as `<id>-api-key`; the config refers to it by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<OnboardingModel>>,
}

/// The key is a secret.
impl std::fmt::Debug for OnboardingProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnboardingProvider")
            .field("id", &self.id)
            .field("api", &self.api)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("models", &self.models)
            .finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OnboardingModel {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// usage, runs, logs

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageSummaryParams {
    /// Days to cover, today included (default 30, at most 366).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
}

/// Runs, tokens and cost of a set of runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageRow {
    pub runs: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// US dollars; `null` when no run of the set had known prices.
    pub cost: Option<f64>,
}

/// A [`UsageRow`] for one day, agent, channel or model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageBucket {
    /// `YYYY-MM-DD` (the gateway's local time), an agent id, a channel or `provider/model`.
    pub key: String,
    #[serde(flatten)]
    pub usage: UsageRow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageSummaryResult {
    /// Start of the range (local midnight `days - 1` days ago), milliseconds since the epoch.
    pub from: i64,
    /// End of the range (now), milliseconds since the epoch.
    pub to: i64,
    pub totals: UsageRow,
    /// Every day of the range, oldest first, days without runs included.
    pub by_day: Vec<UsageBucket>,
    /// Sorted by cost, then tokens, descending.
    pub by_agent: Vec<UsageBucket>,
    /// Sorted by cost, then tokens, descending.
    pub by_channel: Vec<UsageBucket>,
    /// Sorted by cost, then tokens, descending; runs that reached no model are left out.
    pub by_model: Vec<UsageBucket>,
    /// Per canonical person (an `identityLinks` name, else the identity), sorted like the
    /// others; runs without a sender are left out.
    #[serde(default)]
    pub by_sender: Vec<UsageBucket>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunsRecentParams {
    /// At most this many runs (default 20, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunsRecentResult {
    /// Newest first.
    pub runs: Vec<RunSummary>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    Completed,
    Failed,
    Aborted,
    /// The gateway stopped while the run was going.
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub id: String,
    pub session_key: String,
    pub agent_id: String,
    /// `provider/model`.
    pub model: Option<String>,
    pub status: RunOutcome,
    pub error: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// US dollars, when the model's prices are known.
    pub cost: Option<f64>,
    /// Milliseconds since the epoch.
    pub started_at: i64,
    pub ended_at: i64,
}

/// A log level, least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogsTailParams {
    /// `cursor` of the previous answer: only newer entries come back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// At most this many entries, the newest ones (default 200, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Leave out entries below this level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_level: Option<LogLevel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogsTailResult {
    /// Oldest first.
    pub entries: Vec<LogEntry>,
    /// Pass it back to get what comes next.
    pub cursor: String,
    /// The log rotated (or the cursor is unknown): clear what was shown; `entries` starts over.
    pub reset: bool,
}

/// One line of the gateway's log file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// RFC 3339.
    pub ts: String,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// The module that logged it, e.g. `hearth_core::reload`.
    pub target: String,
    pub message: String,
    /// The entry's other fields and its span's.
    pub fields: serde_json::Map<String, Value>,
}

// ---------------------------------------------------------------------------------------------
// desktop

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DesktopGetResult {
    /// True inside the desktop app.
    pub available: bool,
    /// Whether the app starts at login; `null` when headless or unknown.
    pub autostart: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DesktopAutostartSetParams {
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DesktopAutostartSetResult {
    /// The setting now in force.
    pub autostart: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSchemaResult {
    pub schema: Value,
}

// ---------------------------------------------------------------------------------------------
// exec approvals

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalListResult {
    /// Pending approvals, oldest first.
    pub approvals: Vec<crate::events::ExecApproval>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecApprovalResolveParams {
    /// The approval's id, from `exec.approval.requested` or `exec.approval.list`.
    pub id: String,
    pub decision: crate::events::ExecApprovalDecision,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalResolveResult {
    pub id: String,
    pub decision: crate::events::ExecApprovalDecision,
}

// ---------------------------------------------------------------------------------------------
// skills

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SkillsListParams {
    /// The agent whose skills to list; absent means the default agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillsListResult {
    /// Every skill found, in precedence order (workspace, `$HEARTH_HOME`, `skills.load.extraDirs`).
    pub skills: Vec<SkillInfo>,
    /// `SKILL.md` files that could not be loaded.
    pub errors: Vec<SkillLoadError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillInfo {
    pub name: String,
    pub description: String,
    /// The skills directory it was found in.
    pub source: String,
    /// Its `SKILL.md`.
    pub path: String,
    /// Offered to the agent (in its system prompt).
    pub available: bool,
    /// Why it is not offered: a missing binary or environment variable, another OS, disabled,
    /// not in the agent's list, or shadowed by a skill of the same name found earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillLoadError {
    /// The `SKILL.md` at fault.
    pub path: String,
    /// 1-based line, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// mcp

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpStatusResult {
    /// Every configured MCP server, by name.
    pub servers: Vec<McpServerStatus>,
}

/// One MCP server as the gateway sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpServerStatus {
    /// The name under `mcp.servers`; its tools are offered as `<name>__<tool>`.
    pub name: String,
    /// `stdio` (a child process) or `http` (streamable HTTP).
    pub transport: String,
    pub state: McpServerState,
    /// The names the model sees, while the server is ready.
    pub tools: Vec<String>,
    /// The last connection or listing failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// While `failed`: milliseconds until the next attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    /// How many times the server was started again after a failure.
    pub restarts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum McpServerState {
    /// Connecting and listing its tools.
    Starting,
    /// Connected; its tools are offered (subject to the tool policy).
    Ready,
    /// Exited or could not connect; retried after a backoff. Its tools are not offered.
    Failed,
    /// `enabled: false`.
    Disabled,
}

/// Method names mapped to their docs, for `hello-ok` and documentation.
pub fn method_docs() -> BTreeMap<&'static str, &'static str> {
    Method::ALL.iter().map(|m| (m.name(), m.doc())).collect()
}

methods! {
    /// Handshake; must be the first frame. Answers `hello-ok`.
    Connect = "connect" (ConnectParams) -> HelloOk;
    /// Liveness of the gateway.
    Health = "health" (Empty) -> HealthResult;
    /// Version, uptime, agents, providers, sessions and runs.
    Status = "status" (Empty) -> StatusResult;
    /// Send a message to an agent. Answers at once with the run id; the run streams `chat` and `agent` events.
    ChatSend = "chat.send" (ChatSendParams) -> ChatSendResult;
    /// A session's transcript, oldest first.
    ChatHistory = "chat.history" (ChatHistoryParams) -> ChatHistoryResult;
    /// Abort a session's run (or one run by id).
    ChatAbort = "chat.abort" (ChatAbortParams) -> ChatAbortResult;
    /// Sessions, most recently updated first.
    SessionsList = "sessions.list" (SessionsListParams) -> SessionsListResult;
    /// The last few messages of each named session.
    SessionsPreview = "sessions.preview" (SessionsPreviewParams) -> SessionsPreviewResult;
    /// Archive a session; the next message under its key starts a new one.
    SessionsReset = "sessions.reset" (SessionKeyParams) -> SessionsResetResult;
    /// Delete a session key's current and archived sessions with their transcripts.
    SessionsDelete = "sessions.delete" (SessionKeyParams) -> SessionsDeleteResult;
    /// Fork a session at one of its messages into a new session (`<key>:fork:<n>` unless `newKey` is given); the original stays as it was.
    SessionsFork = "sessions.fork" (SessionsForkParams) -> SessionsForkResult;
    /// Summarise a session's older turns now (what `/compact` does); the transcript stays whole.
    SessionsCompact = "sessions.compact" (SessionKeyParams) -> SessionsCompactResult;
    /// Every configured model, as `provider/model`.
    ModelsList = "models.list" (Empty) -> ModelsListResult;
    /// The effective config, secrets redacted, with the file's hash.
    ConfigGet = "config.get" (Empty) -> ConfigGetResult;
    /// The config's JSON Schema.
    ConfigSchema = "config.schema" (Empty) -> ConfigSchemaResult;
    /// An agent's skills: available or why not, and `SKILL.md` files that could not be loaded.
    SkillsList = "skills.list" (SkillsListParams) -> SkillsListResult;
    /// Shell commands waiting for a person's approval.
    ExecApprovalList = "exec.approval.list" (Empty) -> ExecApprovalListResult;
    /// Decide a pending shell command: `allow-once`, `allow-always` or `deny`. `NOT_FOUND` when it is no longer pending.
    ExecApprovalResolve = "exec.approval.resolve" (ExecApprovalResolveParams) -> ExecApprovalResolveResult;
    /// MCP servers: state, tools offered and the last error.
    McpStatus = "mcp.status" (Empty) -> McpStatusResult;
    /// Checks a config text with the whole pipeline (syntax, schema, rules); writes nothing.
    ConfigValidate = "config.validate" (ConfigValidateParams) -> ConfigValidateResult;
    /// Replaces the config file with this text (comments kept), keeping the previous one as `hearth.json.bak`, and applies it. `INVALID_REQUEST` with `details.issues` when invalid, `CONFLICT` with `details.expected`/`actual` when `baseHash` is stale; nothing is written then.
    ConfigSet = "config.set" (ConfigSetParams) -> ConfigWrite;
    /// Applies an RFC 7396 merge patch (`null` deletes) to the config file's document, then writes and applies it as `config.set` does.
    ConfigPatch = "config.patch" (ConfigPatchParams) -> ConfigWrite;
    /// The secret store's backend and the names it holds; never values.
    SecretsList = "secrets.list" (Empty) -> SecretsListResult;
    /// Stores a secret; a provider whose key refers to it uses it at once.
    SecretsSet = "secrets.set" (SecretsSetParams) -> SecretsSetResult;
    /// Removes a secret.
    SecretsDelete = "secrets.delete" (SecretsDeleteParams) -> SecretsDeleteResult;
    /// Tries a provider for real: lists its models and, with `model`, sends it a tiny completion. A failure is `ok: false` with `error`, not a protocol error.
    ProvidersTest = "providers.test" (ProvidersTestParams) -> ProvidersTestResult;
    /// First-run setup in one step, all or nothing: the provider (its key into the secret store), the default model, the assistant's name, the DM policy, and `SOUL.md`/`USER.md`.
    OnboardingApply = "onboarding.apply" (OnboardingApplyParams) -> ConfigWrite;
    /// Runs, tokens and cost over the last days: totals, per day, agent, channel, model and sender.
    UsageSummary = "usage.summary" (UsageSummaryParams) -> UsageSummaryResult;
    /// The most recent runs, newest first.
    RunsRecent = "runs.recent" (RunsRecentParams) -> RunsRecentResult;
    /// The gateway log's latest entries; with the previous answer's `cursor`, only newer ones.
    LogsTail = "logs.tail" (LogsTailParams) -> LogsTailResult;
    /// The desktop app's settings: whether it runs in one, and whether it starts at login.
    DesktopGet = "desktop.get" (Empty) -> DesktopGetResult;
    /// Turns starting at login on or off. `UNAVAILABLE` outside the desktop app.
    DesktopAutostartSet = "desktop.autostart.set" (DesktopAutostartSetParams) -> DesktopAutostartSetResult;
    /// Every channel account: connection state, identity, last error, message counts and queues.
    ChannelsStatus = "channels.status" (Empty) -> ChannelsStatusResult;
    /// Adds or updates a channel account: credentials into the secret store, settings into the config (optionally tested with the platform first).
    ChannelsAdd = "channels.add" (ChannelsAddParams) -> ChannelsAddResult;
    /// Checks a channel account's credentials with the platform; a failure is `ok: false`, not a protocol error.
    ChannelsTest = "channels.test" (ChannelsTestParams) -> ChannelsTestResult;
    /// Removes a channel account (or the whole channel) from the config, and its secrets.
    ChannelsRemove = "channels.remove" (ChannelsRemoveParams) -> ConfigWrite;
    /// Pauses or resumes every channel.
    ChannelsPause = "channels.pause" (ChannelsPauseParams) -> ChannelsStatusResult;
    /// Pairing requests waiting for approval, and approved senders.
    PairingList = "pairing.list" (Empty) -> PairingListResult;
    /// Approves the sender who received this code; they are remembered and told.
    PairingApprove = "pairing.approve" (PairingCodeParams) -> PairingDecision;
    /// Refuses the pairing request with this code.
    PairingDeny = "pairing.deny" (PairingCodeParams) -> PairingDecision;
    /// Forgets an approved sender; their next message asks for pairing again.
    PairingRevoke = "pairing.revoke" (PairingRevokeParams) -> PairingRevokeResult;
    /// Every agent with its settings resolved, and how many bindings route to it.
    AgentsList = "agents.list" (Empty) -> AgentsListResult;
    /// Adds an agent to `agents.list` (the implicit `main` is written out first when the list is empty).
    AgentsAdd = "agents.add" (AgentsAddParams) -> ConfigWrite;
    /// Removes an agent. `CONFLICT` while bindings route to it, unless `force` (they go too); the only agent cannot be removed.
    AgentsRemove = "agents.remove" (AgentsRemoveParams) -> ConfigWrite;
    /// The bindings in file order, each with its name and tier.
    BindingsList = "bindings.list" (Empty) -> BindingsListResult;
    /// Appends a binding; the whole config is validated (an unknown agent is an error naming the configured ones).
    BindingsAdd = "bindings.add" (BindingsAddParams) -> ConfigWrite;
    /// Removes a binding by index or name.
    BindingsRemove = "bindings.remove" (BindingsRemoveParams) -> ConfigWrite;
    /// Which agent, session and memory a message would get, and why each binding won, lost or did not match.
    RouteExplain = "route.explain" (RouteExplainParams) -> RouteExplainResult;
    /// The owner, the identity links of the config, and links waiting for their codes.
    IdentityList = "identity.list" (Empty) -> IdentityListResult;
    /// Starts linking identities as one person: a 6-digit code goes to each in its latest direct chat (`webchat:owner` counts as verified). Codes expire after 10 minutes.
    IdentityLinkStart = "identity.link.start" (IdentityLinkStartParams) -> IdentityLinkStartResult;
    /// Confirms a pending link with the codes its identities received; once every identity is verified the link is written to `session.identityLinks`.
    IdentityLinkConfirm = "identity.link.confirm" (IdentityLinkConfirmParams) -> ConfigWrite;
    /// Removes an identity from its link (no code needed).
    IdentityUnlink = "identity.unlink" (IdentityUnlinkParams) -> ConfigWrite;
    /// Every spending cap of `budgets`: spent in the current local day or month, and whether it is reached.
    BudgetsStatus = "budgets.status" (Empty) -> BudgetsStatusResult;
    /// An audit log's latest entries (default `gateway`), oldest first, and the names of every log.
    AuditTail = "audit.tail" (AuditTailParams) -> AuditTailResult;
    /// Audit entries matching text, kind, log and time range, newest first, across logs and rotated files.
    AuditSearch = "audit.search" (AuditSearchParams) -> AuditSearchResult;
    /// Every scheduled job with its next time and latest fire, and the heartbeat.
    CronList = "cron.list" (Empty) -> CronListResult;
    /// Adds a job; `CONFLICT` when the name is taken, `INVALID_REQUEST` with `details.problems` listing everything wrong with it.
    CronAdd = "cron.add" (CronAddParams) -> CronJob;
    /// Changes a job by a merge patch on its definition; checked whole, next time recomputed.
    CronEdit = "cron.edit" (CronEditParams) -> CronJob;
    /// Removes a job and its history.
    CronRemove = "cron.remove" (CronIdParams) -> CronRemoveResult;
    /// Runs a job now (also a disabled one), in the background; poll `cron.history` with the fire id.
    CronRun = "cron.run" (CronIdParams) -> CronRunResult;
    /// Fires newest first: status, duration, tokens, cost and the delivered output.
    CronHistory = "cron.history" (CronHistoryParams) -> CronHistoryResult;
    /// Adds jobs, replacing stored ones of the same name (a sample file such as `docs/examples/cron-jobs.json`).
    CronImport = "cron.import" (CronImportParams) -> CronImportResult;
    /// A webhook call and its run, by the id its `202` answer gave.
    HooksGet = "hooks.get" (HooksGetParams) -> HookRun;
    /// Whether webhooks are on and at which path, the mappings (never their secrets), and the latest calls, newest first.
    HooksList = "hooks.list" (HooksListParams) -> HooksListResult;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_params_are_the_same() {
        assert!(matches!(
            Request::parse("health", Value::Null).unwrap(),
            Request::Health(_)
        ));
        assert!(matches!(
            Request::parse("health", serde_json::json!({})).unwrap(),
            Request::Health(_)
        ));
    }

    #[test]
    fn unknown_method_and_bad_params_are_errors() {
        assert!(matches!(
            Request::parse("nope", Value::Null),
            Err(RequestError::UnknownMethod(m)) if m == "nope"
        ));
        let err = Request::parse("chat.send", serde_json::json!({"mesage": "hi"})).unwrap_err();
        assert!(err.to_string().contains("chat.send"), "{err}");
    }

    #[test]
    fn secret_params_never_print_their_values() {
        let parsed = Request::parse(
            "secrets.set",
            serde_json::json!({"name": "openai-api-key", "value": "sk-hidden-1"}),
        )
        .unwrap();
        let draft = Request::parse(
            "providers.test",
            serde_json::json!({"draft": {"api": "ollama", "apiKey": "sk-hidden-2", "headers": {"x-api-key": "sk-hidden-3"}}}),
        )
        .unwrap();
        let onboarding = Request::parse(
            "onboarding.apply",
            serde_json::json!({"provider": {"id": "p", "api": "ollama", "apiKey": "sk-hidden-4"}, "model": "p/m", "baseHash": ""}),
        )
        .unwrap();
        let set = Request::parse(
            "config.set",
            serde_json::json!({"raw": "{ apiKey: 'sk-hidden-5' }", "baseHash": "h"}),
        )
        .unwrap();
        let patch = Request::parse(
            "config.patch",
            serde_json::json!({"patch": {"models": {"apiKey": "sk-hidden-6"}}, "baseHash": "h"}),
        )
        .unwrap();
        let shown = format!("{parsed:?} {draft:?} {onboarding:?} {set:?} {patch:?}");
        assert!(!shown.contains("sk-hidden"), "{shown}");
        assert!(
            shown.contains("openai-api-key") && shown.contains("x-api-key"),
            "{shown}"
        );
    }

    #[test]
    fn usage_buckets_flatten_and_null_costs_stay() {
        let bucket = UsageBucket {
            key: "2025-01-02".into(),
            usage: UsageRow {
                runs: 2,
                input_tokens: 10,
                ..UsageRow::default()
            },
        };
        let v = serde_json::to_value(&bucket).unwrap();
        assert_eq!(v["key"], "2025-01-02");
        assert_eq!(v["runs"], 2);
        assert_eq!(v["inputTokens"], 10);
        assert!(v["cost"].is_null() && v.as_object().unwrap().contains_key("cost"));
        let attachment: ChatAttachment = serde_json::from_value(
            serde_json::json!({"type": "image", "mimeType": "image/png", "data": "AAAA"}),
        )
        .unwrap();
        assert!(matches!(
            attachment,
            ChatAttachment::Image { name: None, .. }
        ));
    }

    #[test]
    fn names_round_trip() {
        for m in Method::ALL {
            assert_eq!(Method::from_name(m.name()), Some(*m));
            assert!(!m.doc().is_empty(), "{} has no doc", m.name());
        }
    }
}
