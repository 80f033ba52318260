//! The tools an agent may call during a turn.
//!
//! A [`ToolBox`] is what one turn offers the model, built by [`ToolBox::for_agent`] from the
//! config's tool policy ([`policy`]): only tools in it are described to the model, and a call to
//! anything else is refused with an error result, never run, and logged. Every call gets a
//! [`ToolContext`] (the agent's workspace, the run, its cancellation, the runtime) and arguments
//! already checked against the tool's JSON Schema ([`args`]).
//!
//! The built-in tools, one module per group: [`fs`] (read, write, edit, ls, glob, grep) and
//! [`patch`] (apply_patch), confined to the workspace; [`exec`] (shell commands, with
//! [`approvals`] when a person must agree); [`web`] (web_fetch, refusing private networks);
//! [`memory`]; [`sessions`] (reading sessions, starting sub-agents); [`message`]; [`skill`]
//! (reading the agent's skills); [`cron`] (the agent's own scheduled jobs).

pub mod approvals;
mod args;
pub mod cron;
pub mod exec;
pub mod fs;
mod html;
pub mod memory;
pub mod message;
pub mod patch;
pub mod policy;
pub mod scope;
pub mod sessions;
pub mod skill;
#[cfg(test)]
pub(crate) mod testing;
pub mod web;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use hearth_providers::ToolSpec;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::agent::TurnContext;
use crate::agents::Agent;
use crate::runtime::Runtime;
use crate::util::truncate_chars;
use policy::{BuiltinTool, ToolPolicy};

pub use approvals::ExecApprovals;

/// Largest tool result handed back to the model; a tool's own caps are smaller, this is the
/// backstop.
const MAX_RESULT_BYTES: usize = 512 * 1024;

/// A tool's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub text: String,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            is_error: false,
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            is_error: true,
        }
    }

    /// A JSON value as the result text.
    pub fn json(value: &Value) -> Self {
        match serde_json::to_string_pretty(value) {
            Ok(text) => Self::ok(text),
            Err(e) => Self::error(format!("could not encode the result: {e}")),
        }
    }
}

/// Why a tool could not do what it was asked. The message goes to the model, so it says what
/// to do instead.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("invalid arguments: {0}")]
    Arguments(String),
    #[error("{0}")]
    Refused(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ToolError::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<ToolError> for ToolOutput {
    fn from(e: ToolError) -> Self {
        ToolOutput::error(e.to_string())
    }
}

/// What a tool call knows about where it runs.
#[derive(Debug, Clone)]
pub struct ToolContext {
    /// The agent's workspace; file tools are confined to it.
    pub workspace: PathBuf,
    pub agent_id: String,
    /// The session the calling run belongs to.
    pub session_key: String,
    pub run_id: String,
    /// Cancelled when the run is aborted; long tools stop on it.
    pub cancel: CancellationToken,
    pub runtime: Arc<Runtime>,
    /// Where the calling turn stands: binding, memory, depth among sub-agents.
    pub turn: TurnContext,
    /// Whom the calling turn answers, so what it starts (sub-agents) counts against the same
    /// person's budgets and usage.
    pub sender: Option<String>,
}

impl ToolContext {
    pub fn new(
        rt: &Arc<Runtime>,
        agent: &Agent,
        session_key: &str,
        run_id: &str,
        cancel: &CancellationToken,
    ) -> Self {
        Self {
            workspace: agent.workspace.clone(),
            agent_id: agent.id.clone(),
            session_key: session_key.to_owned(),
            run_id: run_id.to_owned(),
            cancel: cancel.clone(),
            runtime: rt.clone(),
            turn: TurnContext::default(),
            sender: None,
        }
    }

    /// The context of a call made by a turn answering `sender`.
    #[must_use]
    pub fn answering(mut self, sender: Option<&str>) -> Self {
        self.sender = sender.map(str::to_owned);
        self
    }

    /// A path the agent gave, as it is meant in this turn's memory scope (see [`scope`]).
    pub fn scoped_path(&self, given: &str) -> Result<String, ToolError> {
        scope::scoped_path(self.turn.memory_dir.as_deref(), given)
    }

    /// The context of a call made by a turn standing at `turn`.
    #[must_use]
    pub fn in_turn(mut self, turn: &TurnContext) -> Self {
        self.turn = turn.clone();
        self
    }
}

/// One tool.
#[async_trait]
pub trait Tool: Send + Sync + std::fmt::Debug {
    /// Name, description and the JSON Schema of the arguments.
    fn spec(&self) -> ToolSpec;
    /// Runs the tool. `arguments` already matched the spec's schema.
    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput;
}

/// Deserialises checked arguments into a tool's own type.
pub(crate) fn parse_args<T: DeserializeOwned>(arguments: Value) -> Result<T, ToolError> {
    serde_json::from_value(arguments).map_err(|e| ToolError::Arguments(e.to_string()))
}

#[derive(Debug, Clone)]
struct Entry {
    spec: ToolSpec,
    tool: Arc<dyn Tool>,
}

/// The tools offered in one turn.
#[derive(Debug, Clone, Default)]
pub struct ToolBox {
    entries: Vec<Entry>,
}

impl ToolBox {
    pub fn new(tools: Vec<Arc<dyn Tool>>) -> Self {
        Self {
            entries: tools
                .into_iter()
                .map(|tool| Entry {
                    spec: tool.spec(),
                    tool,
                })
                .collect(),
        }
    }

    /// The tools `agent` may use under the current config's policy: built-in ones, then the
    /// ready MCP servers' tools the policy allows.
    pub fn for_agent(rt: &Arc<Runtime>, agent: &Agent) -> ToolBox {
        let live = rt.live();
        let tools_cfg = &live.config.tools;
        let agent_cfg = live
            .config
            .agents
            .list
            .iter()
            .find(|a| a.id == agent.id)
            .and_then(|a| a.tools.as_ref());
        let policy = ToolPolicy::new(tools_cfg, agent_cfg);
        let mut tools: Vec<Arc<dyn Tool>> = policy
            .offered()
            .into_iter()
            .filter_map(|tool| builtin(tool, rt, &live, agent))
            .collect();
        // MCP tools of ready servers, only where the policy names them.
        for tool in rt.mcp.tools() {
            if policy.allows_mcp(tool.name()) {
                tools.push(tool);
            }
        }
        ToolBox::new(tools)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names of the tools offered.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.spec.name.as_str()).collect()
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        self.entries.iter().map(|e| e.spec.clone()).collect()
    }

    /// Runs a call; answers the output and how long it took in ms.
    pub async fn call(&self, ctx: &ToolContext, name: &str, arguments: Value) -> (ToolOutput, u64) {
        let started = Instant::now();
        let output = match self.entries.iter().find(|e| e.spec.name == name) {
            Some(entry) => match args::check(&entry.spec.parameters, &arguments) {
                Ok(()) => {
                    tracing::debug!(tool = %name, run_id = %ctx.run_id, "tool call");
                    // A config change a tool makes is the agent's in the audit trail.
                    let call = entry.tool.call(ctx, arguments);
                    cap(crate::audit::as_actor(crate::audit::Actor::Agent, call).await)
                }
                Err(problem) => ToolOutput::error(format!(
                    "invalid arguments for `{name}`: {problem}. Fix the arguments and call it again."
                )),
            },
            None => {
                tracing::warn!(tool = %name, run_id = %ctx.run_id, agent = %ctx.agent_id, "refused a call to a tool this agent is not offered");
                ToolOutput::error(format!(
                    "tool `{name}` is not available to this agent; answer without it"
                ))
            }
        };
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        (output, ms)
    }
}

fn cap(mut output: ToolOutput) -> ToolOutput {
    if output.text.len() > MAX_RESULT_BYTES {
        let total = output.text.len();
        let kept = truncate_chars(&output.text, MAX_RESULT_BYTES).len();
        output.text.truncate(kept);
        output
            .text
            .push_str(&format!("\n[result cut at {kept} of {total} bytes]"));
    }
    output
}

/// The implementation of a built-in tool, set up from the config; `None` when it has nothing
/// to offer this agent.
fn builtin(
    tool: BuiltinTool,
    rt: &Runtime,
    live: &crate::runtime::Live,
    agent: &Agent,
) -> Option<Arc<dyn Tool>> {
    let cfg = &live.config.tools;
    Some(match tool {
        BuiltinTool::Read => Arc::new(fs::ReadTool),
        BuiltinTool::Write => Arc::new(fs::WriteTool),
        BuiltinTool::Edit => Arc::new(fs::EditTool),
        BuiltinTool::ApplyPatch => Arc::new(patch::ApplyPatchTool),
        BuiltinTool::Ls => Arc::new(fs::LsTool),
        BuiltinTool::Glob => Arc::new(fs::GlobTool),
        BuiltinTool::Grep => Arc::new(fs::GrepTool),
        BuiltinTool::Exec => Arc::new(exec::ExecTool::new(cfg.exec.clone())),
        BuiltinTool::WebFetch => Arc::new(web::WebFetchTool::new(cfg.web.fetch.clone())),
        BuiltinTool::MemoryGet => Arc::new(memory::MemoryGetTool),
        BuiltinTool::MemorySearch => Arc::new(memory::MemorySearchTool),
        BuiltinTool::SessionsList => Arc::new(sessions::SessionsListTool),
        BuiltinTool::SessionsHistory => Arc::new(sessions::SessionsHistoryTool),
        BuiltinTool::SessionsSpawn => Arc::new(sessions::SessionsSpawnTool),
        BuiltinTool::Message => Arc::new(message::MessageTool),
        BuiltinTool::Cron => Arc::new(cron::CronTool),
        BuiltinTool::Skill => {
            let registry = rt.context.skills(&rt.home, &live.config, agent);
            // Only worth its place in the prompt when there is a skill to read.
            registry.available().next()?;
            Arc::new(skill::SkillTool::new(registry))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug)]
    struct Counting(std::sync::atomic::AtomicUsize);

    #[async_trait]
    impl Tool for Counting {
        fn spec(&self) -> ToolSpec {
            ToolSpec {
                name: "count".into(),
                description: "counts".into(),
                parameters: json!({
                    "type": "object",
                    "properties": { "n": { "type": "integer" } },
                    "required": ["n"]
                }),
            }
        }
        async fn call(&self, _ctx: &ToolContext, _arguments: Value) -> ToolOutput {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ToolOutput::ok("counted")
        }
    }

    #[tokio::test]
    async fn unknown_tools_and_bad_arguments_are_refused_without_running() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        let tool = Arc::new(Counting(Default::default()));
        let toolbox = ToolBox::new(vec![tool.clone()]);
        let (out, _) = toolbox.call(&ctx, "exec", json!({"command": "ls"})).await;
        assert!(
            out.is_error && out.text.contains("not available"),
            "{out:?}"
        );
        let (out, _) = toolbox.call(&ctx, "count", json!({"n": "three"})).await;
        assert!(out.is_error && out.text.contains("`n`"), "{out:?}");
        let (out, _) = toolbox.call(&ctx, "count", json!({})).await;
        assert!(out.is_error && out.text.contains("`n`"), "{out:?}");
        assert_eq!(tool.0.load(std::sync::atomic::Ordering::SeqCst), 0);
        let (out, _) = toolbox.call(&ctx, "count", json!({"n": 3})).await;
        assert_eq!(out, ToolOutput::ok("counted"));
    }

    #[tokio::test]
    async fn the_default_profile_offers_no_files_shell_or_web() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        let live = ctx.runtime.live();
        let toolbox = ToolBox::for_agent(&ctx.runtime, live.agents.default_agent());
        let names = toolbox.names();
        assert_eq!(
            names,
            [
                "memory_get",
                "memory_search",
                "sessions_list",
                "sessions_history"
            ]
        );
        for spec in toolbox.specs() {
            assert_eq!(spec.parameters["type"], "object", "{}", spec.name);
        }
    }

    #[tokio::test]
    async fn per_agent_policy_applies_to_its_toolbox() {
        let home = tempfile::tempdir().unwrap();
        let config: hearth_config::Config = serde_json::from_value(json!({
            "gateway": { "auth": { "mode": "none" } },
            "tools": { "profile": "coding", "deny": ["grep"] },
            "agents": { "list": [
                { "id": "main" },
                { "id": "reader", "tools": { "profile": "minimal", "allow": ["read"], "deny": ["memory_*"] } }
            ] }
        }))
        .unwrap();
        let ctx = testing::context(home.path(), config).await;
        let live = ctx.runtime.live();
        let main = ToolBox::for_agent(&ctx.runtime, live.agents.get("main").unwrap());
        assert!(main.names().contains(&"exec") && main.names().contains(&"write"));
        assert!(!main.names().contains(&"grep"));
        assert!(
            main.names().contains(&"sessions_spawn"),
            "coding starts sub-agents"
        );
        let reader = ToolBox::for_agent(&ctx.runtime, live.agents.get("reader").unwrap());
        assert_eq!(
            reader.names(),
            ["read", "sessions_list", "sessions_history"]
        );
    }

    #[test]
    fn oversized_results_are_cut() {
        let out = cap(ToolOutput::ok("x".repeat(MAX_RESULT_BYTES + 10)));
        assert!(out.text.len() < MAX_RESULT_BYTES + 100);
        assert!(out.text.ends_with("bytes]"));
    }
}
