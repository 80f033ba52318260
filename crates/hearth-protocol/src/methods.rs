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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    fn names_round_trip() {
        for m in Method::ALL {
            assert_eq!(Method::from_name(m.name()), Some(*m));
            assert!(!m.doc().is_empty(), "{} has no doc", m.name());
        }
    }
}
