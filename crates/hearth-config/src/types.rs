//! The typed configuration, `hearth.json` (JSON5).
//!
//! Key names follow OpenClaw's where the setting exists there, so a user coming from it
//! recognises the file. Every key has a default except the ids of list entries and a
//! provider's `baseUrl`; unknown keys are errors (see [`crate::check_structure`] and
//! [`crate::validate`]). Field docs become the JSON Schema's descriptions.
//!
//! `Debug` never prints a secret: literal [`SecretValue`]s and sensitive provider headers show
//! as `<redacted>`.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The schema version this build writes and reads.
pub const CURRENT_VERSION: u32 = 1;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Schema version of this file. Older files are migrated on load; nothing is dropped.
    pub version: u32,
    /// Optional link to the JSON Schema, for editors.
    #[serde(rename = "$schema", skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The gateway server: where it listens, who may call it, what it serves.
    pub gateway: GatewayConfig,
    /// Agents and the defaults they share.
    pub agents: AgentsConfig,
    /// Model providers and their models.
    pub models: ModelsConfig,
    /// How conversations map to sessions.
    pub session: SessionConfig,
    /// Log levels and log files.
    pub logging: LoggingConfig,
    /// Where secrets referenced as `{ "secret": "name" }` are kept.
    pub secrets: SecretsConfig,
    /// Skills: folders with a `SKILL.md` that teach agents a task.
    pub skills: SkillsConfig,
    /// Which built-in tools agents may call, and the limits of the powerful ones.
    pub tools: ToolsConfig,
    /// MCP servers whose tools agents may be offered (`tools.allow: ["group:mcp"]`).
    pub mcp: McpConfig,
    /// Messaging channels (Telegram, Discord, ...): settings they share.
    pub channels: ChannelsConfig,
    /// The desktop app: which events raise a system notification.
    pub desktop: DesktopConfig,
    /// Which agent answers where: the most specific matching binding wins (peer, parent peer,
    /// guild with roles, guild, team, account, whole channel), else the default agent.
    pub bindings: Vec<BindingConfig>,
    /// Spending caps per agent or sender, per day and per month.
    pub budgets: Vec<BudgetConfig>,
    /// The audit trail: append-only JSONL files under `$HEARTH_HOME/audit/`.
    pub audit: AuditConfig,
    /// The scheduler of jobs (the jobs themselves are stored: `hearth cron add`).
    pub cron: crate::CronConfig,
    /// Incoming webhooks: `POST /hooks/wake`, `/hooks/agent`, `/hooks/<name>`.
    pub hooks: crate::HooksConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: CURRENT_VERSION,
            schema: None,
            gateway: GatewayConfig::default(),
            agents: AgentsConfig::default(),
            models: ModelsConfig::default(),
            session: SessionConfig::default(),
            logging: LoggingConfig::default(),
            secrets: SecretsConfig::default(),
            skills: SkillsConfig::default(),
            tools: ToolsConfig::default(),
            mcp: McpConfig::default(),
            channels: ChannelsConfig::default(),
            desktop: DesktopConfig::default(),
            bindings: Vec::new(),
            budgets: Vec::new(),
            audit: AuditConfig::default(),
            cron: crate::CronConfig::default(),
            hooks: crate::HooksConfig::default(),
        }
    }
}

/// A secret: either written in the file (works, but `hearth doctor` warns) or a reference to
/// an entry in Hearth's secret store (the OS keychain or its encrypted fallback).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum SecretValue {
    /// The secret itself, e.g. `"sk-..."` or `"${OPENAI_API_KEY}"`.
    Literal(String),
    /// `{ "secret": "name" }`: the named entry of the secret store (`hearth secrets set name`).
    Ref {
        /// Name of the entry in the secret store.
        secret: String,
    },
}

impl SecretValue {
    /// The name of the secret-store entry, for a reference.
    pub fn secret_name(&self) -> Option<&str> {
        match self {
            SecretValue::Literal(_) => None,
            SecretValue::Ref { secret } => Some(secret),
        }
    }
}

/// Literals are redacted: after `${ENV}` interpolation they hold the real secret.
impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretValue::Literal(_) => f.write_str("Literal(<redacted>)"),
            SecretValue::Ref { secret } => f.debug_struct("Ref").field("secret", secret).finish(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// gateway

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayConfig {
    /// Port for HTTP and WebSocket (one port carries both).
    pub port: u16,
    /// Which interfaces to listen on. Anything but `loopback` requires auth.
    pub bind: BindMode,
    /// The address to bind when `bind` is `custom`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_bind_host: Option<String>,
    /// How clients prove who they are.
    pub auth: AuthConfig,
    /// The browser Control UI.
    pub control_ui: ControlUiConfig,
    /// Optional HTTP APIs besides the WebSocket protocol.
    pub http: HttpConfig,
    /// What happens when `hearth.json` changes while the gateway runs.
    pub reload: ReloadConfig,
    /// How long shutdown waits for running agent turns before aborting them.
    pub shutdown_timeout_seconds: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            port: 18789,
            bind: BindMode::Loopback,
            custom_bind_host: None,
            auth: AuthConfig::default(),
            control_ui: ControlUiConfig::default(),
            http: HttpConfig::default(),
            reload: ReloadConfig::default(),
            shutdown_timeout_seconds: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BindMode {
    /// 127.0.0.1 only: reachable from this machine.
    #[default]
    Loopback,
    /// All interfaces (0.0.0.0): reachable from the local network. Requires auth.
    Lan,
    /// The address in `customBindHost`. Requires auth unless it is a loopback address.
    Custom,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthConfig {
    /// `token` (default), `password`, or `none` (loopback only).
    pub mode: AuthMode,
    /// The gateway token. If absent in `token` mode, one is generated at first start and kept
    /// in the secret store as `gateway.auth.token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretValue>,
    /// The password in `password` mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretValue>,
    /// Lockout after repeated failed auth attempts.
    pub rate_limit: RateLimitConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Token,
            token: None,
            password: None,
            rate_limit: RateLimitConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// A bearer token on every call (default).
    #[default]
    Token,
    /// A password on every call.
    Password,
    /// No auth. Only allowed on a loopback bind.
    None,
}

/// Failed-auth limiting: after `maxAttempts` failures within `windowMs`, a client is locked out
/// for `lockoutMs` and gets `429` with `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Failed attempts allowed within `windowMs`.
    pub max_attempts: u32,
    /// The window failed attempts are counted in, in milliseconds.
    pub window_ms: u64,
    /// How long a client that exceeded `maxAttempts` is refused, in milliseconds.
    pub lockout_ms: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            window_ms: 60_000,
            lockout_ms: 300_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlUiConfig {
    /// Serve the Control UI at `basePath`.
    pub enabled: bool,
    /// URL path prefix of the Control UI; starts with `/`.
    pub base_path: String,
    /// Browser origins, besides the gateway's own loopback origin, allowed to open the
    /// WebSocket and call the HTTP API (e.g. `"https://hearth.example.org"`).
    pub allowed_origins: Vec<String>,
}

impl Default for ControlUiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            base_path: "/".to_owned(),
            allowed_origins: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpConfig {
    /// Endpoints that are off unless enabled here.
    pub endpoints: HttpEndpoints,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpEndpoints {
    /// The OpenAI-compatible `POST /v1/chat/completions` and `GET /v1/models`.
    pub chat_completions: EndpointToggle,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointToggle {
    /// Serve the endpoint (it requires the gateway's auth like everything else).
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ReloadConfig {
    /// `hot` (default) or `off`.
    pub mode: ReloadMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReloadMode {
    /// Watch the file; apply what can change live, report what needs a restart.
    #[default]
    Hot,
    /// Do not watch the file.
    Off,
}

// ---------------------------------------------------------------------------------------------
// agents

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentsConfig {
    /// Settings every agent uses unless it sets its own.
    pub defaults: AgentDefaults,
    /// Named agents. With none, one agent `main` uses the defaults.
    pub list: Vec<AgentConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentDefaults {
    /// The model agents use unless they name their own.
    pub model: ModelSelection,
    /// The default agent's workspace directory; default `$HEARTH_HOME/workspace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Upper bound on one agent turn, tool calls included.
    pub timeout_seconds: u64,
    /// Agent turns running at once across all sessions.
    pub max_concurrent: u32,
    /// Largest part of one workspace file (`AGENTS.md`, `SOUL.md`, ...) put into the system
    /// prompt, in bytes of UTF-8 (the name is OpenClaw's); the rest is cut with a note.
    pub bootstrap_max_chars: usize,
    /// Largest part of all workspace files together put into the system prompt, in bytes.
    pub bootstrap_total_max_chars: usize,
    /// Do not write the starter workspace files (`AGENTS.md`, `SOUL.md`, ...) into an empty
    /// workspace.
    pub skip_bootstrap: bool,
    /// Summarising older turns when a conversation nears the model's context window.
    pub compaction: CompactionConfig,
    /// What happens to a message that arrives while its session is still answering.
    pub queue: QueueConfig,
    /// Limits of sub-agents started with the `sessions_spawn` tool.
    pub subagents: SubagentsConfig,
    /// A periodic run of the default agent that checks what `HEARTBEAT.md` lists.
    pub heartbeat: crate::HeartbeatConfig,
}

impl Default for AgentDefaults {
    fn default() -> Self {
        Self {
            model: ModelSelection::default(),
            workspace: None,
            timeout_seconds: 600,
            max_concurrent: 8,
            bootstrap_max_chars: 12_000,
            bootstrap_total_max_chars: 48_000,
            skip_bootstrap: false,
            compaction: CompactionConfig::default(),
            queue: QueueConfig::default(),
            subagents: SubagentsConfig::default(),
            heartbeat: crate::HeartbeatConfig::default(),
        }
    }
}

/// When and how a session's older turns are summarised to fit the model's context window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct CompactionConfig {
    /// `auto`: compact before a model call whose prompt would not leave `reserveTokens` free;
    /// `off`: never on its own (`/compact` still works).
    pub mode: CompactionMode,
    /// Tokens kept free in the context window for the answer.
    pub reserve_tokens: u64,
    /// The most recent turns worth about this many tokens stay verbatim; older ones are
    /// summarised.
    pub keep_recent_tokens: u64,
    /// Before compacting, let the agent write durable notes to `memory/YYYY-MM-DD.md`.
    pub memory_flush: bool,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        Self {
            mode: CompactionMode::Auto,
            reserve_tokens: 4096,
            keep_recent_tokens: 8000,
            memory_flush: true,
        }
    }
}

/// What happens to a message that arrives while a run of the same session is going on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueueMode {
    /// Run it next, after the current run (default).
    #[default]
    Followup,
    /// Wait for the current run, then answer every message that arrived meanwhile in one turn.
    Collect,
    /// Hand it to the running turn at its next tool boundary; if the turn ends first, run it next.
    Steer,
    /// Abort the current run and answer the new message instead.
    Interrupt,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueConfig {
    /// `followup` (default), `collect`, `steer` or `interrupt`.
    pub mode: QueueMode,
}

/// Limits of sub-agents (`sessions_spawn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct SubagentsConfig {
    /// How deep sub-agents may nest: 1 lets a turn spawn children that cannot spawn further.
    pub max_depth: u32,
    /// Sub-agents one run may start.
    pub max_children: u32,
    /// Sub-agents running at once across the gateway.
    pub max_concurrent: u32,
    /// Upper bound on one sub-agent's run, in seconds.
    pub timeout_seconds: u64,
}

impl Default for SubagentsConfig {
    fn default() -> Self {
        Self {
            max_depth: 1,
            max_children: 4,
            max_concurrent: 4,
            timeout_seconds: 300,
        }
    }
}

/// Whether compaction runs on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CompactionMode {
    #[default]
    Auto,
    Off,
}

/// Which model answers, and which ones to try when it fails.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelSelection {
    /// `provider/model`, e.g. `"anthropic/claude-sonnet-4-5"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// `provider/model` refs tried in order when the primary fails with a retryable error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<String>,
}

/// An agent's model: a `provider/model` string, or `{ primary, fallbacks }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AgentModel {
    /// `provider/model`.
    Ref(String),
    /// A primary model and fallbacks.
    Selection(ModelSelection),
}

/// One agent. Only `id` is required: an agent without one could not be addressed, so it is
/// not defaulted to an empty string.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentConfig {
    /// Lowercase letters, digits, `-` and `_`.
    pub id: String,
    /// The agent used when no binding picks another. At most one agent sets it; without it the
    /// first agent of the list is the default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Workspace directory; default `$HEARTH_HOME/workspace-<id>` (`workspace` for the default agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// This agent's model, `provider/model` or `{ primary, fallbacks }`; default
    /// `agents.defaults.model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<AgentModel>,
    /// How the agent presents itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// Names of the skills this agent may use; absent means every available skill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<String>>,
    /// This agent's tool policy; each setting given replaces the global one in `tools`, except
    /// `deny`, which adds to it (a global deny cannot be lifted per agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<AgentToolsConfig>,
    /// Replaces `agents.defaults.queue` for this agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueConfig>,
    /// Which agents this one may start as sub-agents (`sessions_spawn`); default only itself,
    /// `["*"]` for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subagents: Option<AgentSubagents>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentSubagents {
    /// Agent ids this agent may spawn; `"*"` allows every agent.
    pub allow_agents: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Identity {
    /// The name the agent uses for itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An emoji shown next to its messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// models

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelsConfig {
    /// Model providers by id; the id is the first half of a `provider/model` ref.
    pub providers: BTreeMap<String, ProviderConfig>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderConfig {
    /// API root, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The API key: `"${OPENAI_API_KEY}"`, `{ "secret": "openai" }`, or the key itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<SecretValue>,
    /// The wire protocol the provider speaks.
    #[serde(default)]
    pub api: ApiKind,
    /// Extra HTTP headers sent with every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The provider's models that agents may use.
    #[serde(default)]
    pub models: Vec<ModelDef>,
    /// More API keys for the same provider. When a key is rate limited or refused, the next one
    /// is tried before falling back to another model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_keys: Vec<SecretValue>,
    /// Send the key as `Authorization: Bearer` instead of the API's own header (for
    /// Anthropic-compatible endpoints that want a bearer token).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auth_header: bool,
    /// Request deadlines.
    #[serde(default)]
    pub timeouts: ProviderTimeouts,
    /// An HTTP(S) proxy for this provider only, e.g. `"http://proxy.lan:3128"`; it replaces
    /// `HTTP_PROXY`/`HTTPS_PROXY` (which apply to every provider without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
}

/// Deadlines for one model call, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderTimeouts {
    /// Until the TCP (and TLS) connection is up.
    pub connect_seconds: u64,
    /// From sending the request until the first byte of the answer.
    pub first_byte_seconds: u64,
    /// Longest silence between two pieces of a streamed answer.
    pub idle_seconds: u64,
}

impl Default for ProviderTimeouts {
    fn default() -> Self {
        Self {
            connect_seconds: 10,
            first_byte_seconds: 120,
            idle_seconds: 120,
        }
    }
}

/// Whether a header's value is a credential: such headers are redacted wherever the
/// configuration is shown.
pub fn is_sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "authorization",
        "token",
        "key",
        "secret",
        "password",
        "cookie",
    ]
    .iter()
    .any(|word| name.contains(word))
}

struct RedactedHeaders<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, value)| {
                let shown: &dyn fmt::Debug = if is_sensitive_header(name) {
                    &"<redacted>"
                } else {
                    value
                };
                (name, shown)
            }))
            .finish()
    }
}

/// Headers often carry credentials, so sensitive ones are redacted.
impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("api", &self.api)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("models", &self.models)
            .field("api_keys", &self.api_keys)
            .field("auth_header", &self.auth_header)
            .field("timeouts", &self.timeouts)
            .field("proxy", &self.proxy.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// LLM wire protocols, named as OpenClaw names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ApiKind {
    /// OpenAI Chat Completions; also OpenRouter, Groq, DeepSeek, Mistral, vLLM, llama.cpp, LM Studio.
    #[default]
    OpenaiCompletions,
    /// OpenAI Responses.
    OpenaiResponses,
    /// Anthropic Messages; also MiniMax and other Anthropic-compatible endpoints.
    AnthropicMessages,
    /// Google Gemini.
    GoogleGenerativeAi,
    /// Ollama's native `/api/chat`.
    Ollama,
}

impl ApiKind {
    /// The name used in `hearth.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKind::OpenaiCompletions => "openai-completions",
            ApiKind::OpenaiResponses => "openai-responses",
            ApiKind::AnthropicMessages => "anthropic-messages",
            ApiKind::GoogleGenerativeAi => "google-generative-ai",
            ApiKind::Ollama => "ollama",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelDef {
    /// The provider's own model id, the second half of a `provider/model` ref.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The model produces reasoning content.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reasoning: bool,
    /// Input kinds the model accepts.
    #[serde(default = "default_input")]
    pub input: Vec<InputKind>,
    /// Prices in US dollars per million tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<ModelCost>,
    /// Context window in tokens.
    #[serde(default = "default_context_window")]
    pub context_window: u64,
    /// Largest answer in tokens.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u64,
}

fn default_input() -> Vec<InputKind> {
    vec![InputKind::Text]
}

fn default_context_window() -> u64 {
    128_000
}

fn default_max_tokens() -> u64 {
    4096
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// Text.
    Text,
    /// Images, sent inline.
    Image,
}

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelCost {
    /// Input tokens not read from the cache.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// Input tokens read from the prompt cache.
    pub cache_read: f64,
    /// Input tokens written to the prompt cache.
    pub cache_write: f64,
}

// ---------------------------------------------------------------------------------------------
// skills

/// Where skills are found and how each is set up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct SkillsConfig {
    /// Skill folders besides `<workspace>/skills` and `$HEARTH_HOME/skills`.
    pub load: SkillsLoadConfig,
    /// Per-skill settings, by skill name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub entries: BTreeMap<String, SkillEntryConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct SkillsLoadConfig {
    /// More directories holding skill folders (`<dir>/<skill>/SKILL.md`), searched after the
    /// workspace's and `$HEARTH_HOME`'s; `~` is the home directory. A name found earlier wins.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_dirs: Vec<String>,
}

/// One skill's settings.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct SkillEntryConfig {
    /// Offer the skill to agents.
    pub enabled: bool,
    /// Environment variables the skill needs (they satisfy its `requires.env`), e.g.
    /// `{ "GITHUB_TOKEN": "${GITHUB_TOKEN}" }`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

impl Default for SkillEntryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            env: BTreeMap::new(),
        }
    }
}

/// Values often are API keys, so only the names are shown.
impl fmt::Debug for SkillEntryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkillEntryConfig")
            .field("enabled", &self.enabled)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// tools

/// The built-in tools agents may call. Secure by default: the `minimal` profile offers only
/// read-only tools over the agent's own memory and sessions.
///
/// Entries of `allow` and `deny` are tool names (`read`, `exec`, `web_fetch`, ...), groups
/// (`group:fs`, `group:runtime`, `group:web`, `group:memory`, `group:sessions`,
/// `group:automation` (the `cron` tool: scheduled jobs),
/// `group:messaging`) or globs over tool names (`mem*`). A tool is offered when the profile or
/// `allow` names it and `deny` does not: deny wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolsConfig {
    /// The base set of tools before `allow` and `deny`.
    pub profile: ToolProfile,
    /// Tools offered on top of the profile.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Tools never offered, whatever the profile or `allow` say.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    /// The `exec` tool: shell commands in the agent's workspace.
    pub exec: ExecToolConfig,
    /// The web tools.
    pub web: WebToolsConfig,
}

/// A named base set of tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ToolProfile {
    /// `group:memory` and `group:sessions`: reading the agent's own data (default).
    #[default]
    Minimal,
    /// `minimal` plus files (`group:fs`) and shell commands (`group:runtime`).
    Coding,
    /// `minimal` plus sending messages (`group:messaging`).
    Messaging,
    /// Every built-in tool.
    Full,
}

/// One agent's tool policy; what it leaves out comes from `tools`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentToolsConfig {
    /// Replaces `tools.profile` for this agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<ToolProfile>,
    /// Replaces `tools.allow` for this agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// Denied for this agent, besides `tools.deny`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecToolConfig {
    /// `allowlist` (default): commands matching `allowlist` (or approved with "allow always")
    /// run, others follow `ask`; `full`: any command runs; `deny`: no `exec` tool at all.
    pub security: ExecSecurity,
    /// When a person must approve a command: `on-miss` (default: when it is not allow-listed),
    /// `always`, or `off` (never ask: a command that is not allowed is refused).
    pub ask: ExecAsk,
    /// Globs over the whole command line, e.g. `"git status*"`, `"ls *"`. A `*` never matches
    /// the shell's operators (`;`, `&`, `|`, `` ` ``, `$`, `<`, `>`, parentheses, newlines), so
    /// `"git *"` does not allow `git log; rm -rf ~`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowlist: Vec<String>,
    /// A command still running after this many seconds is killed with its process group.
    pub timeout_sec: u64,
    /// Output (stdout and stderr together) kept per command, in bytes; the rest is cut.
    pub max_output_bytes: u64,
    /// How long a command waits for a person's approval before it is denied, in seconds.
    pub approval_timeout_sec: u64,
}

impl Default for ExecToolConfig {
    fn default() -> Self {
        Self {
            security: ExecSecurity::Allowlist,
            ask: ExecAsk::OnMiss,
            allowlist: Vec::new(),
            timeout_sec: 60,
            max_output_bytes: 64 * 1024,
            approval_timeout_sec: 120,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExecSecurity {
    /// No `exec` tool.
    Deny,
    /// Allow-listed commands run; the others follow `ask` (default).
    #[default]
    Allowlist,
    /// Any command runs (still subject to `ask: "always"`).
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExecAsk {
    /// Never ask; a command that is not allowed is refused.
    Off,
    /// Ask for commands that are not allow-listed (default).
    #[default]
    OnMiss,
    /// Ask for every command.
    Always,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct WebToolsConfig {
    /// `web_fetch`: read a web page as text.
    pub fetch: WebFetchConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct WebFetchConfig {
    /// Offer `web_fetch` when the tool policy allows it.
    pub enabled: bool,
    /// Let `web_fetch` reach loopback, private, link-local and cloud metadata addresses. Off by
    /// default: a model could otherwise be talked into reading your router or cloud credentials.
    pub allow_private_network: bool,
    /// Largest body read, in bytes; the rest is cut.
    pub max_bytes: u64,
    /// Time allowed for one fetch, redirects included, in seconds.
    pub timeout_sec: u64,
}

impl Default for WebFetchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_private_network: false,
            max_bytes: 2 * 1024 * 1024,
            timeout_sec: 20,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// mcp

/// Model Context Protocol servers. Their tools are offered to agents as `<server>__<tool>`, but
/// only where the tool policy allows them (`group:mcp`, `github__*`, or exact names): no
/// profile includes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct McpConfig {
    /// Servers by name (lowercase letters, digits, `_` and `-`, at most 32 characters).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub servers: BTreeMap<String, McpServerConfig>,
}

/// One MCP server: a local command speaking MCP over stdio (`command`, `args`, `env`, `cwd`),
/// or a remote one over streamable HTTP (`url`, `headers`). Exactly one of `command` and `url`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct McpServerConfig {
    /// The program to start, e.g. `"npx"`; found on `PATH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Its arguments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment variables added to the gateway's for the command, e.g.
    /// `{ "GITHUB_TOKEN": "${GITHUB_TOKEN}" }`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The command's working directory; default the gateway's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The server's streamable HTTP endpoint, e.g. `"https://mcp.example.com/mcp"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// HTTP headers sent with every request, e.g. `{ "Authorization": "Bearer ${TOKEN}" }`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// `stdio` or `streamable-http`; implied by `command` or `url` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<McpTransport>,
    /// Start the server and offer its tools.
    pub enabled: bool,
    /// Time allowed for connecting and for one tool call, in seconds.
    pub timeout_sec: u64,
}

impl Default for McpServerConfig {
    fn default() -> Self {
        Self {
            command: None,
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            url: None,
            headers: BTreeMap::new(),
            transport: None,
            enabled: true,
            timeout_sec: 60,
        }
    }
}

/// Environment and header values are usually credentials, so only their names are shown.
impl fmt::Debug for McpServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpServerConfig")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .field("url", &self.url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("transport", &self.transport)
            .field("enabled", &self.enabled)
            .field("timeout_sec", &self.timeout_sec)
            .finish()
    }
}

/// How the gateway talks to an MCP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum McpTransport {
    /// A child process; MCP over its stdin and stdout.
    Stdio,
    /// MCP's streamable HTTP transport.
    StreamableHttp,
}

// ---------------------------------------------------------------------------------------------
// channels, desktop

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelsConfig {
    /// What every channel does unless it sets its own.
    pub defaults: ChannelDefaults,
    /// Telegram, through the Bot API (long polling by default; webhook optional).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telegram: Option<ChannelConfig>,
    /// Discord, through the Gateway WebSocket and the REST API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discord: Option<ChannelConfig>,
    /// Slack, through Socket Mode (default) or the Events API over HTTP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack: Option<ChannelConfig>,
    /// Matrix, with end-to-end encryption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matrix: Option<ChannelConfig>,
    /// The Control UI's and the tray app's own chat. The owner is always allowed.
    pub webchat: WebchatConfig,
}

impl ChannelsConfig {
    /// The configured channels, by id, in a stable order.
    pub fn configured(&self) -> Vec<(&'static str, &ChannelConfig)> {
        [
            ("telegram", &self.telegram),
            ("discord", &self.discord),
            ("slack", &self.slack),
            ("matrix", &self.matrix),
        ]
        .into_iter()
        .filter_map(|(id, c)| c.as_ref().map(|c| (id, c)))
        .collect()
    }

    /// One channel's section.
    pub fn get(&self, channel: &str) -> Option<&ChannelConfig> {
        match channel {
            "telegram" => self.telegram.as_ref(),
            "discord" => self.discord.as_ref(),
            "slack" => self.slack.as_ref(),
            "matrix" => self.matrix.as_ref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelDefaults {
    /// How the assistant treats direct messages from people it does not know yet.
    pub dm_policy: DmPolicy,
    /// Which group chats the assistant takes part in.
    pub group_policy: GroupPolicy,
    /// Largest attachment fetched or sent, in MB.
    pub media_max_mb: u32,
    /// Stream answers by editing the message in place where the platform allows it.
    pub streaming: bool,
}

impl Default for ChannelDefaults {
    fn default() -> Self {
        Self {
            dm_policy: DmPolicy::default(),
            group_policy: GroupPolicy::default(),
            media_max_mb: 20,
            streaming: true,
        }
    }
}

/// The Control UI's own chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct WebchatConfig {
    /// Offer the chat in the Control UI and the tray app.
    pub enabled: bool,
}

impl Default for WebchatConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// One messaging platform (`channels.telegram`, …) or one account of it
/// (`channels.telegram.accounts.<accountId>`). Settings on the channel apply to each of its
/// accounts unless the account sets its own; a channel without `accounts` is one account,
/// `default`. Which platform settings apply depends on the channel (each says).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelConfig {
    /// Run this channel or account (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// A display name for this account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Direct messages: `pairing` (default), `allowlist`, `open` (needs `allowFrom: ["*"]`),
    /// `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dm_policy: Option<DmPolicy>,
    /// Senders allowed to message the assistant directly (platform user ids; `"*"` for anyone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_from: Option<Vec<String>>,
    /// Group chats: `allowlist` (default: only those under `groups`), `open`, `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_policy: Option<GroupPolicy>,
    /// Senders whose messages are answered in groups (default: anyone in an allowed group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_allow_from: Option<Vec<String>>,
    /// Per group (chat, channel or room id), or `"*"` for every group: whether it is allowed
    /// and whether the bot must be mentioned.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, GroupConfig>,
    /// Regular expressions that count as mentioning the bot in groups, besides a real mention
    /// (e.g. `"^hearth[,:]"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mention_patterns: Option<Vec<String>>,
    /// Longest message sent, in characters (default and maximum: the platform's limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_chunk_limit: Option<usize>,
    /// Largest attachment fetched or sent, in MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_max_mb: Option<u32>,
    /// Stream answers by editing the message in place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streaming: Option<bool>,
    /// Telegram: the bot token from @BotFather. Slack: the bot token (`xoxb-…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<SecretValue>,
    /// Discord: the bot token from the Developer Portal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretValue>,
    /// Slack: the app-level token (`xapp-…`) for Socket Mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_token: Option<SecretValue>,
    /// Slack: the signing secret, for the Events API over HTTP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<SecretValue>,
    /// Base URL of the platform's API (Telegram default `https://api.telegram.org`, Discord
    /// `https://discord.com/api/v10`, Slack `https://slack.com/api`), for a self-hosted Bot API
    /// server or a proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_root: Option<String>,
    /// Telegram: `polling` (default) or `webhook`. Slack: `socket` (default) or `http`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Telegram webhook mode: the public HTTPS URL that reaches
    /// `/channels/telegram/<account>/webhook` on the gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Telegram webhook mode: the secret Telegram sends back in a header, checked on every call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<SecretValue>,
    /// Telegram: an HTTP(S) proxy for Bot API calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Discord: gateway intents (default: guilds, guild messages, direct messages, message
    /// content).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intents: Option<u64>,
    /// Matrix: the homeserver URL, e.g. `https://matrix.example.org`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub homeserver: Option<String>,
    /// Matrix: the bot's user id, e.g. `@hearth:example.org`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Matrix: the bot's password, used to log in once (the session is kept afterwards).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretValue>,
    /// Matrix: an access token instead of a password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<SecretValue>,
    /// Matrix: the device id to reuse with `accessToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Matrix: which room invites to accept: `all`, `allowlist` (only from `allowFrom` and
    /// approved senders), `none`. Default: `all` under `dmPolicy` pairing or open (a stranger's
    /// DM gets a pairing code), `allowlist` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_join: Option<String>,
    /// Several accounts (bots) on this platform, by account id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<String, ChannelConfig>,
}

/// Settings of one group chat (or `"*"`: every group).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupConfig {
    /// Answer in this group (default true when listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Answer only when the bot is mentioned or replied to (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_mention: Option<bool>,
    /// Senders answered in this group (default: the channel's `groupAllowFrom`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_from: Option<Vec<String>>,
    /// Added to the system prompt for this group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
}

/// Which group chats the assistant answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupPolicy {
    /// Only groups listed under `groups` (default).
    #[default]
    Allowlist,
    /// Any group the bot is in.
    Open,
    /// Group messages are ignored.
    Disabled,
}

impl GroupPolicy {
    /// The name used in `hearth.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupPolicy::Allowlist => "allowlist",
            GroupPolicy::Open => "open",
            GroupPolicy::Disabled => "disabled",
        }
    }
}

/// Who may talk to the assistant in direct messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DmPolicy {
    /// A stranger gets a pairing code; the owner approves it once (default).
    #[default]
    Pairing,
    /// Only senders on the channel's allowlist; others are ignored.
    Allowlist,
    /// Anyone who can message the bot talks to the assistant.
    Open,
    /// Direct messages are ignored.
    Disabled,
}

impl DmPolicy {
    /// The name used in `hearth.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            DmPolicy::Pairing => "pairing",
            DmPolicy::Allowlist => "allowlist",
            DmPolicy::Open => "open",
            DmPolicy::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct DesktopConfig {
    /// Which events show a system notification.
    pub notifications: DesktopNotifications,
}

/// Each event kind's system notification, on or off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct DesktopNotifications {
    /// Someone asks to pair with the assistant.
    pub pairing: bool,
    /// A shell command waits for approval.
    pub exec_approval: bool,
    /// A channel lost its connection.
    pub channel_down: bool,
    /// A scheduled job failed.
    pub cron_failed: bool,
    /// Spending reached a budget.
    pub budget: bool,
}

impl Default for DesktopNotifications {
    fn default() -> Self {
        Self {
            pairing: true,
            exec_approval: true,
            channel_down: true,
            cron_failed: true,
            budget: true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// session, logging, secrets

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionConfig {
    /// How direct messages map to sessions. Whatever the scope, two different people never
    /// share a session; identities linked in `identityLinks` are one person.
    pub dm_scope: DmScope,
    /// The key of each agent's main session.
    pub main_key: String,
    /// One person's identities on several channels: `{ "alice": ["telegram:123",
    /// "discord:456"] }`. Linked identities share sessions and memory. `webchat:owner` is the
    /// Control UI's owner. Add links with `hearth identity link` (verified with a code).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub identity_links: BTreeMap<String, Vec<String>>,
    /// When a session starts afresh on its own; the old one stays readable.
    pub reset: ResetConfig,
    /// `reset` per type of chat; a type given here replaces `reset` for it.
    #[serde(skip_serializing_if = "ResetByType::is_empty")]
    pub reset_by_type: ResetByType,
    /// Messages that start a new session (`/new` and `/reset` by default).
    pub reset_triggers: Vec<String>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            dm_scope: DmScope::Main,
            main_key: "main".to_owned(),
            identity_links: BTreeMap::new(),
            reset: ResetConfig::default(),
            reset_by_type: ResetByType::default(),
            reset_triggers: vec!["/new".to_owned(), "/reset".to_owned()],
        }
    }
}

/// An automatic reset rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetConfig {
    /// `off` (default: only `/new` and `/reset`), `daily` (the first message after `atHour`
    /// local time starts a new session) or `idle` (after `idleMinutes` without messages).
    pub mode: ResetMode,
    /// Local hour (0-23) at which `daily` sessions roll over.
    pub at_hour: u8,
    /// Minutes of silence after which an `idle` session starts afresh.
    pub idle_minutes: u32,
}

impl Default for ResetConfig {
    fn default() -> Self {
        Self {
            mode: ResetMode::Off,
            at_hour: 4,
            idle_minutes: 120,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResetMode {
    #[default]
    Off,
    Daily,
    Idle,
}

/// Reset rules per type of chat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetByType {
    /// Direct messages (and the Control UI's chat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct: Option<ResetConfig>,
    /// Groups and channels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<ResetConfig>,
    /// Threads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<ResetConfig>,
}

impl ResetByType {
    pub fn is_empty(&self) -> bool {
        self.direct.is_none() && self.group.is_none() && self.thread.is_none()
    }
}

// ---------------------------------------------------------------------------------------------
// bindings, budgets, audit

/// Routes matching messages to an agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BindingConfig {
    /// The agent that answers.
    pub agent_id: String,
    /// Which messages: every field given must match.
    #[serde(rename = "match")]
    pub matches: BindingMatch,
    /// A name for the binding (its audit file is `audit/<name>.jsonl`); default derived from
    /// the match, e.g. `telegram-peer-123`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For a binding on a `teamId` or `guildId`: that team's sessions share one memory
    /// (`MEMORY.md` and `memory/` under `<workspace>/teams/<channel>-<id>/`), separate from
    /// every personal one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared_memory: bool,
}

/// What a binding matches. `channel` is required; the more fields, the more specific.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct BindingMatch {
    /// `telegram`, `discord`, `slack`, `matrix` or `webchat`.
    pub channel: String,
    /// One account of the channel (`channels.<channel>.accounts.<id>`; `default` for the
    /// top-level one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// One chat: a person (`direct`), a group, a channel. A thread's messages also match its
    /// parent chat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerMatch>,
    /// A Discord server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<String>,
    /// A Slack workspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// With `guildId`: the sender has at least one of these Discord role ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerMatch {
    pub kind: PeerMatchKind,
    /// The chat id on the platform (for `direct`, the person's id).
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PeerMatchKind {
    Direct,
    Group,
    Channel,
}

/// A spending cap. Spending is the cost of runs as priced in `models.providers.*.models[].cost`
/// (runs of models without a price count zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BudgetConfig {
    /// Whose spending: an agent's (`agent:<id>`), a sender's (`telegram:123`, or the name of
    /// an `identityLinks` entry), or everything (`*`).
    pub scope: String,
    /// Cap per local day, in the prices' currency (USD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<f64>,
    /// Cap per calendar month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly: Option<f64>,
    /// `stop` (refuse further runs until the period ends) or `switch` (use `model` instead).
    #[serde(default)]
    pub action: BudgetAction,
    /// The cheaper `provider/model` used once the cap is reached, with `action: switch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BudgetAction {
    #[default]
    Stop,
    Switch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditConfig {
    /// Write the audit trail (default on).
    pub enabled: bool,
    /// Also record message text (off by default: only metadata).
    pub content: bool,
    /// A file is rotated (`<name>.jsonl` → `<name>.1.jsonl` ...) when it reaches this size.
    pub max_file_bytes: u64,
    /// Rotated files kept per log.
    pub max_files: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            content: false,
            max_file_bytes: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DmScope {
    /// The owner's direct messages (every identity linked with `webchat:owner`) share the
    /// agent's main session, the one the Control UI chats in; anyone else gets their own
    /// session, as with `per-peer`.
    #[default]
    Main,
    /// One session per person: their linked identities share it across channels.
    PerPeer,
    /// One session per sender and channel.
    PerChannelPeer,
    /// One session per sender, channel and account.
    PerAccountChannelPeer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct LoggingConfig {
    /// Level or filter directives for the log file, e.g. `"info"` or `"info,hearth_core=debug"`.
    pub level: String,
    /// Level for the terminal; default the same as `level`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_level: Option<String>,
    /// Write JSON logs to `$HEARTH_HOME/logs/`.
    pub file: bool,
    /// Daily log files kept.
    pub max_files: u32,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            console_level: None,
            file: true,
            max_files: 7,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretsConfig {
    /// `auto` (default), `keychain` or `file`.
    pub backend: SecretsBackend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecretsBackend {
    /// The OS keychain when one answers, else the encrypted file.
    #[default]
    Auto,
    /// The OS keychain only.
    Keychain,
    /// The encrypted file `$HEARTH_HOME/secrets.enc`.
    File,
}
