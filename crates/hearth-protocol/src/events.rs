//! Every event the gateway pushes, once: its wire name and its payload type.
//!
//! Like [`crate::methods`], the table at the bottom is the single source of truth for the names
//! announced in `hello-ok` and for the schema document.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::frame::ErrorShape;
use crate::transcript::{Message, Usage};

/// Sent by the gateway as soon as the socket opens, before `connect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectChallenge {
    pub nonce: String,
    pub ts: i64,
}

/// Keep-alive, every `policy.tickIntervalMs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tick {
    pub ts: i64,
}

/// The chat-level view of a run: text as it streams, then the final message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatEvent {
    pub run_id: String,
    pub session_key: String,
    pub state: ChatState,
    /// For `delta`: text appended to the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<String>,
    /// For `final`: the assistant's closing message.
    // Boxed: the message is most of the event's size, and most events are small deltas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Box<Message>>,
    /// For `final`: tokens and cost of the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// For `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorShape>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ChatState {
    Delta,
    Final,
    Aborted,
    Error,
}

/// The agent-level view of a run: every step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentEvent {
    pub run_id: String,
    pub session_key: String,
    #[serde(flatten)]
    pub data: AgentEventData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "stream", content = "data", rename_all = "camelCase")]
pub enum AgentEventData {
    Lifecycle(Lifecycle),
    /// Answer text as it streams.
    Assistant {
        delta: String,
    },
    /// Reasoning text as it streams.
    Thinking {
        delta: String,
    },
    /// A tool call starts.
    #[serde(rename_all = "camelCase")]
    ToolStart {
        tool_call_id: String,
        name: String,
        arguments: Value,
    },
    /// A tool call ended.
    #[serde(rename_all = "camelCase")]
    ToolEnd {
        tool_call_id: String,
        name: String,
        is_error: bool,
        result_bytes: u64,
        duration_ms: u64,
    },
    /// One model call finished.
    Usage {
        model: String,
        usage: Usage,
    },
    /// A model call was tried and failed, or skipped while its provider key cools down; the
    /// run goes on with the next key or fallback model.
    #[serde(rename_all = "camelCase")]
    Attempt {
        /// `provider/model`.
        model: String,
        /// Which of the provider's API keys (0 = `apiKey`, then `apiKeys` in order).
        key: u32,
        outcome: AttemptOutcome,
        /// The provider error's kind (`rate_limited`, `server`, ...), when it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_kind: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// How long the key now cools down.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cooldown_ms: Option<u64>,
    },
    /// The session's older turns were summarised to fit the model's context.
    #[serde(rename_all = "camelCase")]
    Compaction {
        messages_summarised: u64,
        /// Estimated prompt tokens before and after.
        tokens_before: u64,
        tokens_after: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AttemptOutcome {
    Failed,
    SkippedCoolingDown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    pub phase: Phase,
    /// `provider/model` in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorShape>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    Start,
    End,
    Error,
    Aborted,
}

/// A session was created, updated, reset or deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionsChanged {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub reason: SessionChange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SessionChange {
    Created,
    Updated,
    Reset,
    Deleted,
}

/// The gateway is going away.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Shutdown {
    pub reason: String,
}

/// The config file changed and was applied (or could not be).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigChanged {
    pub hash: String,
    /// Settings that changed but need a restart.
    pub restart_required: Vec<String>,
    /// Present when the new file is invalid; the previous config stays in force.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// A shell command an agent wants to run, waiting for a person's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecApproval {
    /// Pass it to `exec.approval.resolve`.
    pub id: String,
    pub run_id: String,
    pub session_key: String,
    pub agent_id: String,
    /// The command line, run with `sh -c`.
    pub command: String,
    /// The working directory, inside the agent's workspace.
    pub cwd: String,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// When the request is denied if nobody decides, in milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
}

/// What a person decided about an [`ExecApproval`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExecApprovalDecision {
    /// Run the command this time.
    AllowOnce,
    /// Run it, and from now on run exactly this command for this agent without asking.
    AllowAlways,
    /// Do not run it.
    Deny,
}

/// An exec approval is no longer pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalResolved {
    pub id: String,
    pub decision: ExecApprovalDecision,
    /// Set when nobody decided: `timeout` or `cancelled` (the run ended first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

macro_rules! events {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal ($payload:ty); )*) => {
        /// The closed set of event names.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventName { $($variant),* }

        impl EventName {
            pub const ALL: &'static [EventName] = &[$(EventName::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(EventName::$variant => $name),* }
            }

            pub fn doc(self) -> &'static str {
                match self { $(EventName::$variant => concat!($($doc, "\n"),*).trim_ascii()),* }
            }
        }

        /// An event with its typed payload.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event { $($variant($payload)),* }

        impl Event {
            pub fn name(&self) -> EventName {
                match self { $(Event::$variant(_) => EventName::$variant),* }
            }

            pub fn payload(&self) -> Value {
                match self {
                    $(Event::$variant(p) => serde_json::to_value(p).unwrap_or(Value::Null)),*
                }
            }

            /// Parses an event frame's name and payload back into a typed event.
            pub fn parse(name: &str, payload: Value) -> Result<Event, serde_json::Error> {
                match name {
                    $($name => Ok(Event::$variant(serde_json::from_value(payload)?)),)*
                    other => Err(serde::de::Error::custom(format!("unknown event `{other}`"))),
                }
            }
        }

        pub(crate) fn event_schemas(generator: &mut schemars::SchemaGenerator) -> Vec<(&'static str, &'static str, schemars::Schema)> {
            vec![$(($name, EventName::$variant.doc(), generator.subschema_for::<$payload>())),*]
        }
    };
}

events! {
    /// First frame from the gateway; `connect` must follow.
    ConnectChallenge = "connect.challenge" (ConnectChallenge);
    /// Keep-alive.
    Tick = "tick" (Tick);
    /// A run's text: deltas, then final, aborted or error.
    Chat = "chat" (ChatEvent);
    /// A run's steps: lifecycle, assistant and thinking deltas, tool calls, usage.
    Agent = "agent" (AgentEvent);
    /// A session was created, updated, reset or deleted.
    SessionsChanged = "sessions.changed" (SessionsChanged);
    /// The config file was reloaded.
    ConfigChanged = "config.changed" (ConfigChanged);
    /// The gateway is shutting down.
    Shutdown = "shutdown" (Shutdown);
    /// An agent wants to run a shell command that needs a person's approval; answer with `exec.approval.resolve`.
    ExecApprovalRequested = "exec.approval.requested" (ExecApproval);
    /// An exec approval was decided, timed out or dropped with its run.
    ExecApprovalResolved = "exec.approval.resolved" (ExecApprovalResolved);
    /// A channel account's state or counts changed; carries every account.
    ChannelsChanged = "channels.changed" (crate::channels::ChannelsStatusResult);
    /// An unknown sender asked to pair; approve with `pairing.approve`.
    PairingRequested = "pairing.requested" (crate::channels::PairingRequest);
    /// A pairing request was approved, denied or expired.
    PairingResolved = "pairing.resolved" (crate::channels::PairingResolved);
    /// A person's identity links changed (linked, a pending link verified, or unlinked).
    IdentityChanged = "identity.changed" (crate::agents::IdentityChanged);
    /// A spending cap was reached for the first time in its day or month.
    BudgetExceeded = "budget.exceeded" (crate::audit::BudgetExceeded);
    /// A scheduled job's or the heartbeat's fire started or ended.
    Cron = "cron" (crate::cron::CronFire);
    /// A job failed `alertAfter` times in a row.
    CronAlert = "cron.alert" (crate::cron::CronAlert);
    /// A webhook call was accepted, or its run ended.
    Hook = "hook" (crate::cron::HookRun);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_event_flattens_stream_and_data() {
        let ev = AgentEvent {
            run_id: "r1".into(),
            session_key: "agent:main:main".into(),
            data: AgentEventData::Assistant { delta: "hi".into() },
        };
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"runId":"r1","sessionKey":"agent:main:main","stream":"assistant","data":{"delta":"hi"}})
        );
        let back = Event::parse("agent", v).unwrap();
        assert_eq!(back, Event::Agent(ev));
    }
}
