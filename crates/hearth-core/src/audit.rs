//! The audit trail: what came in on which channel and where it was routed, what each model and
//! tool was asked, what went out, who changed the config and which budget was reached. One JSON
//! object per line (`{"ts": ms, "kind": ..., ...}`, see [`AuditEvent`]) under
//! `$HEARTH_HOME/audit/<log>.jsonl` (0600): `gateway.jsonl` for the gateway's own work (the
//! Control UI, the HTTP API, config changes, budgets) and `<binding>.jsonl` for the
//! conversations a binding routes (`TurnContext::binding`).
//!
//! [`Audit::record`] never blocks its caller: records go through a bounded channel to one writer
//! task, and a full channel drops the record and counts it ([`Audit::dropped`]) rather than make
//! a turn wait for a disk. The writer (`audit/files.rs`) appends off the async threads, rotates a
//! file once it reaches `audit.maxFileBytes` (`<log>.jsonl` → `<log>.1.jsonl` …, keeping
//! `audit.maxFiles`), and is flushed and stopped by [`Audit::close`] once the gateway's runs have
//! drained, so the last runs' records are on disk before the process ends. It is not one of the
//! runtime's tracked tasks for that reason: the tracker's drain waits for runs, and the writer
//! must outlive them. `audit.tail` and `audit.search` read the files back ([`tail`],
//! [`search`]).
//!
//! Secrets never reach a record: provider keys are never part of one, tool arguments are
//! hashed (SHA-256), a config change names the paths that changed, not their values, and message
//! text is left out unless `audit.content` is on.

mod files;

pub use files::{SearchQuery, list_logs, search, tail};

use crate::util::lock;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use hearth_channels::Inbound;
use hearth_config::AuditConfig;
use hearth_protocol::audit::{BudgetActionKind, BudgetPeriod};
use hearth_protocol::transcript::Usage;
use hearth_providers::ProviderError;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::agent::TurnRequest;
use crate::agent::tools::ToolOutput;
use crate::models::ResolvedModel;
use crate::runtime::{Live, Runtime};

use files::Job;

/// The log of everything no binding routed.
pub const GATEWAY_LOG: &str = "gateway";

/// Records waiting for the writer; beyond this they are dropped (and counted).
const CHANNEL_CAPACITY: usize = 4096;

/// Conversations whose binding is remembered for their outbound records.
const REMEMBERED_ROUTES: usize = 4096;

/// Longest error text kept in a record.
const MAX_ERROR_CHARS: usize = 300;

/// How long [`Audit::close`] waits for the writer.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// One record. Serialised with its `kind` tag next to its own fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind")]
pub enum AuditEvent {
    /// A channel message the access policy let in.
    #[serde(rename = "inbound")]
    Inbound(InboundRecord),
    /// Which agent, binding and session that message went to.
    #[serde(rename = "route")]
    Route(RouteRecord),
    /// One model call (each attempt of a failover is one).
    #[serde(rename = "model.request")]
    ModelRequest(ModelRequestRecord),
    #[serde(rename = "tool.call")]
    ToolCall(ToolCallRecord),
    /// A queued channel message was sent, failed (to be retried) or given up.
    #[serde(rename = "outbound")]
    Outbound(OutboundRecord),
    #[serde(rename = "config.change")]
    ConfigChange(ConfigChangeRecord),
    /// A spending cap was reached for the first time in its period.
    #[serde(rename = "budget")]
    Budget(BudgetRecord),
    /// Identities were linked as one person, or unlinked.
    #[serde(rename = "identity.link")]
    IdentityLink(IdentityLinkRecord),
}

impl AuditEvent {
    /// The `kind` as written.
    pub fn kind(&self) -> &'static str {
        match self {
            AuditEvent::Inbound(_) => "inbound",
            AuditEvent::Route(_) => "route",
            AuditEvent::ModelRequest(_) => "model.request",
            AuditEvent::ToolCall(_) => "tool.call",
            AuditEvent::Outbound(_) => "outbound",
            AuditEvent::ConfigChange(_) => "config.change",
            AuditEvent::Budget(_) => "budget",
            AuditEvent::IdentityLink(_) => "identity.link",
        }
    }

    /// Drops message text (kept only with `audit.content`).
    fn strip_content(&mut self) {
        if let AuditEvent::Inbound(record) = self {
            record.text = None;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundRecord {
    pub channel: String,
    pub account: String,
    pub chat_id: String,
    /// `direct`, `group`, `channel` or `thread`.
    pub peer_kind: String,
    /// The identity that wrote: `<channel>:<sender id>`.
    pub sender: String,
    pub message_id: String,
    /// Characters of text.
    pub chars: u64,
    pub attachments: u64,
    /// The text itself, only with `audit.content: true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteRecord {
    pub channel: String,
    pub account: String,
    pub sender: String,
    /// The canonical person (an `identityLinks` name, else the identity).
    pub person: String,
    pub agent_id: String,
    /// The binding's name; `null` when the default agent answered.
    pub binding: Option<String>,
    /// `peer`, `parentPeer`, `guildRoles`, `guild`, `team`, `account`, `channel` or `default`.
    pub matched_by: String,
    pub session_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelRequestRecord {
    pub run_id: String,
    pub session_key: String,
    pub agent_id: String,
    /// The provider's id in the config.
    pub provider: String,
    /// The provider's model id.
    pub model: String,
    /// The provider's id of the HTTP request, when it sent one.
    pub request_id: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// USD, when the model's prices are known.
    pub cost: Option<f64>,
    pub status: RequestStatus,
    /// For `error`: the failure's kind and message (never a key).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCallRecord {
    pub run_id: String,
    pub session_key: String,
    pub tool: String,
    /// SHA-256 (hex) of the arguments as compact JSON: the same call hashes the same, and
    /// nothing of the arguments can be read back.
    pub args_sha256: String,
    pub status: ToolStatus,
    /// How a person decided, for a call that waited for an approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolStatus {
    Ok,
    Error,
    /// Not run: the tool is not offered to the agent, or the same call repeated too often.
    Refused,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundRecord {
    pub channel: String,
    pub account: String,
    pub chat_id: String,
    pub status: OutboundStatus,
    /// Sends tried so far, this one included.
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OutboundStatus {
    Sent,
    /// Failed; retried later.
    Failed,
    /// Failed for good.
    GaveUp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigChangeRecord {
    pub actor: Actor,
    /// The settings that changed (`agents.list[0].model.primary`), never their values.
    pub paths: Vec<String>,
    /// SHA-256 of the config file before and after.
    pub old_hash: String,
    pub new_hash: String,
}

/// Who changed the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    /// The Control UI (or another in-process client such as the desktop shell).
    Ui,
    /// The `hearth` command or another protocol client in `cli` mode.
    Cli,
    /// Someone edited `hearth.json`; the watcher applied it.
    File,
    /// An agent's tool call.
    Agent,
}

impl Actor {
    /// The actor a WebSocket client stands for.
    pub fn of_client(client: &hearth_protocol::methods::ClientInfo) -> Actor {
        if client.mode.as_deref() == Some("cli") {
            Actor::Cli
        } else {
            Actor::Ui
        }
    }
}

tokio::task_local! {
    static ACTOR: Actor;
}

/// Runs `work` on behalf of `actor`: a config change it makes is recorded as theirs.
pub fn as_actor<F: Future>(actor: Actor, work: F) -> impl Future<Output = F::Output> {
    ACTOR.scope(actor, work)
}

/// [`as_actor`] for synchronous work.
pub(crate) fn as_actor_sync<R>(actor: Actor, work: impl FnOnce() -> R) -> R {
    ACTOR.sync_scope(actor, work)
}

/// The actor of the work in progress; in-process callers that set none are the UI's side.
fn current_actor() -> Actor {
    ACTOR.try_with(|a| *a).unwrap_or(Actor::Ui)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetRecord {
    pub scope: String,
    pub period: BudgetPeriod,
    pub spent: f64,
    pub limit: f64,
    pub action: BudgetActionKind,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityLinkRecord {
    /// The person's name in `session.identityLinks`.
    pub name: String,
    pub identities: Vec<String>,
    /// `linked`, `verified`, `unlinked`, ...
    pub action: String,
}

/// The writer's side of the audit trail, shared by the whole gateway (`Runtime::audit`).
pub struct Audit {
    dir: PathBuf,
    tx: mpsc::Sender<Job>,
    /// The receiving end until the writer starts (on the first record, inside the runtime).
    pending: Mutex<Option<mpsc::Receiver<Job>>>,
    started: AtomicBool,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    settings: Arc<RwLock<AuditConfig>>,
    dropped: AtomicU64,
    routes: Mutex<Routes>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("dir", &self.dir)
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Audit {
    /// An audit trail writing under `dir` (created on the first record).
    pub fn new(dir: PathBuf, config: &AuditConfig) -> Audit {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        Audit {
            dir,
            tx,
            pending: Mutex::new(Some(rx)),
            started: AtomicBool::new(false),
            writer: Mutex::new(None),
            settings: Arc::new(RwLock::new(config.clone())),
            dropped: AtomicU64::new(0),
            routes: Mutex::new(Routes::default()),
        }
    }

    /// The directory of the logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Puts a new `audit` section in force (on every config change).
    pub fn configure(&self, config: &AuditConfig) {
        *self
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = config.clone();
    }

    fn settings(&self) -> AuditConfig {
        self.settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether message text is recorded (`audit.content`).
    pub fn records_content(&self) -> bool {
        self.settings().content
    }

    /// Queues a record for `binding`'s log (`gateway.jsonl` for `None`). Never waits: when the
    /// writer is this far behind, the record is dropped and counted.
    pub fn record(&self, binding: Option<&str>, mut event: AuditEvent) {
        let settings = self.settings();
        if !settings.enabled {
            return;
        }
        if !settings.content {
            event.strip_content();
        }
        self.start_writer();
        let job = Job::Write {
            log: log_name(binding),
            ts: crate::util::now_ms(),
            event: Box::new(event),
        };
        if self.tx.try_send(job).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // Said at 1, 2, 4, 8, ... so a stuck disk does not flood the log too.
            if dropped.is_power_of_two() {
                tracing::warn!(
                    dropped,
                    "audit records dropped: the audit writer is not keeping up (or has stopped)"
                );
            }
        }
    }

    /// Records dropped because the writer was behind or stopped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn start_writer(&self) {
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut pending = lock(&self.pending);
        let Some(rx) = pending.take() else {
            return;
        };
        let task = runtime.spawn(files::run(rx, self.dir.clone(), self.settings.clone()));
        *lock(&self.writer) = Some(task);
        self.started.store(true, Ordering::Release);
    }

    /// Waits until every record queued so far is written.
    pub async fn flush(&self) {
        if !self.started.load(Ordering::Acquire) {
            return;
        }
        let (done, written) = oneshot::channel();
        if self.tx.send(Job::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// Writes what is queued and stops the writer; later records are dropped. Called once the
    /// gateway's runs have drained.
    pub async fn close(&self) {
        let task = lock(&self.writer).take();
        let Some(task) = task else {
            return;
        };
        let (done, written) = oneshot::channel();
        if self.tx.send(Job::Close(done)).await.is_ok() {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, written).await;
        }
        if tokio::time::timeout(CLOSE_TIMEOUT, task).await.is_err() {
            tracing::warn!("the audit writer did not stop in time");
        }
    }

    /// Remembers the binding that routed a conversation, for its outbound records.
    fn remember_route(&self, inbound_id: &str, chat: ChatKey, binding: Option<&str>) {
        lock(&self.routes).remember(inbound_id, chat, binding.map(str::to_owned));
    }

    /// The binding whose log an outbound message belongs to.
    fn route_of(&self, inbound_id: Option<&str>, chat: &ChatKey) -> Option<String> {
        lock(&self.routes).binding_of(inbound_id, chat)
    }
}

/// The log file's name for a binding: its name with anything but `[A-Za-z0-9_-]` replaced, so
/// it can never leave the directory nor look like a rotated file (`<log>.1.jsonl`).
pub fn log_name(binding: Option<&str>) -> String {
    match binding.map(str::trim).filter(|b| !b.is_empty()) {
        None => GATEWAY_LOG.to_owned(),
        Some(name) => name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect(),
    }
}

/// Channel, account, chat.
type ChatKey = (String, String, String);

/// The bindings of recent conversations, by inbound message and by chat, oldest forgotten
/// first.
#[derive(Debug, Default)]
struct Routes {
    by_inbound: HashMap<String, Option<String>>,
    by_chat: HashMap<ChatKey, Option<String>>,
    order: VecDeque<(String, ChatKey)>,
}

impl Routes {
    fn remember(&mut self, inbound_id: &str, chat: ChatKey, binding: Option<String>) {
        self.by_inbound
            .insert(inbound_id.to_owned(), binding.clone());
        self.by_chat.insert(chat.clone(), binding);
        self.order.push_back((inbound_id.to_owned(), chat));
        while self.order.len() > REMEMBERED_ROUTES {
            if let Some((inbound, chat)) = self.order.pop_front() {
                self.by_inbound.remove(&inbound);
                // A chat seen again since keeps its newer entry.
                if !self.order.iter().any(|(_, c)| *c == chat) {
                    self.by_chat.remove(&chat);
                }
            }
        }
    }

    fn binding_of(&self, inbound_id: Option<&str>, chat: &ChatKey) -> Option<String> {
        inbound_id
            .and_then(|id| self.by_inbound.get(id))
            .or_else(|| self.by_chat.get(chat))
            .cloned()
            .flatten()
    }
}

/// SHA-256 of `text`, hex.
pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn short_error(text: &str) -> String {
    let cut = crate::util::truncate_chars(text, MAX_ERROR_CHARS);
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut.to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// The hooks: one call at each place something worth auditing happens.

/// How the gateway routed a channel message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Routed<'a> {
    pub(crate) agent_id: &'a str,
    /// The binding's name; `None` for the default agent.
    pub(crate) binding: Option<&'a str>,
    pub(crate) matched_by: &'a str,
    pub(crate) session_key: &'a str,
    /// The canonical person.
    pub(crate) person: &'a str,
}

/// `inbound` and `route` for a message let in, in the routing binding's log.
pub(crate) fn inbound_routed(
    rt: &Runtime,
    inbound_id: &str,
    inbound: &Inbound,
    routed: Routed<'_>,
) {
    let sender = format!("{}:{}", inbound.channel, inbound.sender_id);
    let chat = (
        inbound.channel.clone(),
        inbound.account.clone(),
        inbound.chat_id.clone(),
    );
    rt.audit.remember_route(inbound_id, chat, routed.binding);
    rt.audit.record(
        routed.binding,
        AuditEvent::Inbound(InboundRecord {
            channel: inbound.channel.clone(),
            account: inbound.account.clone(),
            chat_id: inbound.chat_id.clone(),
            peer_kind: inbound.peer_kind.as_str().to_owned(),
            sender: sender.clone(),
            message_id: inbound.message_id.clone(),
            chars: inbound.text.chars().count() as u64,
            attachments: inbound.attachments.len() as u64,
            text: rt.audit.records_content().then(|| inbound.text.clone()),
        }),
    );
    rt.audit.record(
        routed.binding,
        AuditEvent::Route(RouteRecord {
            channel: inbound.channel.clone(),
            account: inbound.account.clone(),
            sender,
            person: routed.person.to_owned(),
            agent_id: routed.agent_id.to_owned(),
            binding: routed.binding.map(str::to_owned),
            matched_by: routed.matched_by.to_owned(),
            session_key: routed.session_key.to_owned(),
        }),
    );
}

/// `model.request` for one call of a turn: its usage (cost included) and the provider's request
/// id, or its failure.
pub(crate) fn model_request(
    rt: &Runtime,
    req: &TurnRequest,
    model: &ResolvedModel,
    outcome: Result<(&Usage, Option<&str>), &ProviderError>,
) {
    let (usage, request_id, status, error) = match outcome {
        Ok((usage, request_id)) => (*usage, request_id, RequestStatus::Ok, None),
        Err(e) => (
            Usage::default(),
            None,
            RequestStatus::Error,
            Some(short_error(&format!("{}: {e}", e.kind()))),
        ),
    };
    rt.audit.record(
        req.context.binding.as_deref(),
        AuditEvent::ModelRequest(ModelRequestRecord {
            run_id: req.run_id.clone(),
            session_key: req.session.key().to_owned(),
            agent_id: req.agent.id.clone(),
            provider: model.provider_id.clone(),
            model: model.model_id.clone(),
            request_id: request_id.map(str::to_owned),
            input_tokens: usage.input,
            output_tokens: usage.output,
            cache_read_tokens: usage.cache_read,
            cache_write_tokens: usage.cache_write,
            cost: usage.cost,
            status,
            error,
        }),
    );
}

/// `tool.call` for one call of a turn. `repeated`: refused as a loop without running.
pub(crate) fn tool_call(
    rt: &Runtime,
    req: &TurnRequest,
    tool: &str,
    args_sha256: String,
    output: &ToolOutput,
    duration_ms: u64,
    repeated: bool,
) {
    let status = if repeated || !req.tools.names().contains(&tool) {
        ToolStatus::Refused
    } else if output.is_error {
        ToolStatus::Error
    } else {
        ToolStatus::Ok
    };
    rt.audit.record(
        req.context.binding.as_deref(),
        AuditEvent::ToolCall(ToolCallRecord {
            run_id: req.run_id.clone(),
            session_key: req.session.key().to_owned(),
            tool: tool.to_owned(),
            args_sha256,
            status,
            approval: None,
            duration_ms,
        }),
    );
}

/// `outbound` for one send of a queued channel message, in the log of the binding that routed
/// its conversation.
pub(crate) fn outbound(
    rt: &Runtime,
    row: &hearth_store::OutboundRow,
    chat_id: &str,
    status: OutboundStatus,
    error: Option<&str>,
) {
    let chat = (row.channel.clone(), row.account.clone(), chat_id.to_owned());
    let binding = rt.audit.route_of(row.inbound_id.as_deref(), &chat);
    rt.audit.record(
        binding.as_deref(),
        AuditEvent::Outbound(OutboundRecord {
            channel: row.channel.clone(),
            account: row.account.clone(),
            chat_id: chat_id.to_owned(),
            status,
            attempts: row.attempts + 1,
            error: error.map(short_error),
        }),
    );
}

/// `config.change` when `next` replaces `previous`: the paths that differ (and the settings
/// waiting for a restart, whose running values `next` keeps), the files' hashes, and who did it.
pub(crate) fn config_change(rt: &Runtime, previous: &Live, next: &Live, restart: &[String]) {
    let before = serde_json::to_value(&*previous.config).unwrap_or(Value::Null);
    let after = serde_json::to_value(&*next.config).unwrap_or(Value::Null);
    let mut paths = changed_paths(&before, &after);
    for path in restart {
        if !paths.contains(path) {
            paths.push(path.clone());
        }
    }
    rt.audit.record(
        None,
        AuditEvent::ConfigChange(ConfigChangeRecord {
            actor: current_actor(),
            paths,
            old_hash: previous.hash.clone(),
            new_hash: next.hash.clone(),
        }),
    );
}

/// The paths (`a.b[2].c`) where two JSON documents differ: the deepest object key or array
/// element that does; an array whose length changed is one path.
pub fn changed_paths(before: &Value, after: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff("", before, after, &mut out);
    out
}

fn diff(path: &str, before: &Value, after: &Value, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let keys = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k)));
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff(
                    &child,
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (a, b) if a == b => {}
        _ => out.push(if path.is_empty() {
            "$".to_owned()
        } else {
            path.to_owned()
        }),
    }
}

#[cfg(test)]
mod tests;
