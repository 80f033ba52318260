//! `sessions_list` and `sessions_history`: the agent reading its own conversations;
//! `sessions_spawn`: the agent handing a task to a sub-agent and waiting for its answer.
//!
//! Only the calling agent's sessions are visible (keys `agent:<agentId>:...`), read through the
//! store like `sessions.list` and `chat.history` do for clients.
//!
//! A sub-agent's turn runs [`run_turn`] directly (not the queue) in a session of its own,
//! `agent:<child>:subagent:<uuid>`, one level deeper than the caller, under a child of the
//! caller's cancellation token: aborting the parent run aborts it too. Limits come from
//! `agents.defaults.subagents` (depth, children per run, running at once, time) and which agents
//! may be started from the caller's `subagents.allowAgents`.

use std::time::Duration;

use async_trait::async_trait;
use hearth_protocol::transcript::{ContentBlock, Message};
use hearth_providers::ToolSpec;
use hearth_store::SessionFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Tool, ToolBox, ToolContext, ToolError, ToolOutput, parse_args};
use crate::agent::{TurnContext, TurnError, TurnRequest, TurnSession, run_turn};
use crate::sessions::resolve_key;
use crate::util::truncate_chars;

const DEFAULT_SESSIONS: u64 = 20;
const MAX_SESSIONS: u64 = 100;
const DEFAULT_MESSAGES: u64 = 20;
const MAX_MESSAGES: u64 = 100;
/// Characters of one message's text shown by `sessions_history`.
const MESSAGE_CHARS: usize = 4000;

/// A session key named by the model, made full and checked to be the agent's own.
pub fn own_session_key(ctx: &ToolContext, given: &str) -> Result<String, ToolError> {
    let main_key = ctx.runtime.live().config.session.main_key.clone();
    let key = resolve_key(Some(given), &ctx.agent_id, &main_key).map_err(ToolError::Arguments)?;
    if !key.starts_with(&format!("agent:{}:", ctx.agent_id)) {
        return Err(ToolError::Refused(format!(
            "`{key}` belongs to another agent; you can only use your own sessions (agent:{}:...)",
            ctx.agent_id
        )));
    }
    Ok(key)
}

fn store_failed(e: hearth_store::StoreError) -> ToolError {
    tracing::error!(error = %e, "store error in a sessions tool");
    ToolError::Failed("the session store failed; see the gateway log".to_owned())
}

/// `sessions_list`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionsListTool;

#[derive(Debug, Deserialize)]
struct ListArgs {
    limit: Option<u64>,
    search: Option<String>,
}

#[async_trait]
impl Tool for SessionsListTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "sessions_list".to_owned(),
            description: "List your sessions (conversations), most recently active first: key, title, channel, message count, last activity.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "limit": { "type": "integer", "minimum": 1, "maximum": MAX_SESSIONS },
                    "search": { "type": "string", "description": "Only sessions whose key or title contains this." }
                }
            }),
        }
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let args: ListArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        let limit = args.limit.unwrap_or(DEFAULT_SESSIONS).min(MAX_SESSIONS);
        let filter = SessionFilter {
            agent_id: Some(ctx.agent_id.clone()),
            search: args.search,
            limit: u32::try_from(limit).ok(),
            ..SessionFilter::default()
        };
        let sessions = match ctx.runtime.store.list_sessions(&filter).await {
            Ok(s) => s,
            Err(e) => return store_failed(e).into(),
        };
        let prefix = format!("agent:{}:", ctx.agent_id);
        let list: Vec<Value> = sessions
            .iter()
            .filter(|s| s.key.starts_with(&prefix))
            .map(|s| {
                json!({
                    "key": s.key,
                    "title": s.title,
                    "channel": s.channel,
                    "messageCount": s.message_count,
                    "updatedAt": crate::util::format_utc(s.updated_at),
                    "current": s.key == ctx.session_key,
                })
            })
            .collect();
        ToolOutput::json(&json!({ "sessions": list }))
    }
}

/// `sessions_history`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionsHistoryTool;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryArgs {
    session_key: String,
    limit: Option<u64>,
}

#[async_trait]
impl Tool for SessionsHistoryTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "sessions_history".to_owned(),
            description: "Read the last messages of one of your sessions, oldest first. sessionKey is a key from sessions_list or a short name like `main`.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "sessionKey": { "type": "string" },
                    "limit": { "type": "integer", "minimum": 1, "maximum": MAX_MESSAGES }
                },
                "required": ["sessionKey"]
            }),
        }
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let args: HistoryArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        match history(ctx, &args).await {
            Ok(v) => ToolOutput::json(&v),
            Err(e) => e.into(),
        }
    }
}

async fn history(ctx: &ToolContext, args: &HistoryArgs) -> Result<Value, ToolError> {
    let key = own_session_key(ctx, &args.session_key)?;
    let store = &ctx.runtime.store;
    let Some(session) = store.session_for_key(&key).await.map_err(store_failed)? else {
        return Err(ToolError::Refused(format!("there is no session `{key}`")));
    };
    let limit = args.limit.unwrap_or(DEFAULT_MESSAGES).min(MAX_MESSAGES);
    let messages = store
        .transcript(&session.id, u32::try_from(limit).ok())
        .await
        .map_err(store_failed)?;
    let shown: Vec<Value> = messages.iter().map(describe).collect();
    Ok(json!({ "sessionKey": key, "messages": shown }))
}

/// `sessions_spawn`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionsSpawnTool;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpawnArgs {
    task: String,
    agent_id: Option<String>,
    label: Option<String>,
}

/// The channel sub-agent runs are recorded under (usage per channel).
const SUBAGENT_CHANNEL: &str = "subagent";

#[async_trait]
impl Tool for SessionsSpawnTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "sessions_spawn".to_owned(),
            description: "Hand a self-contained task to a sub-agent and wait for its final answer, which comes back as this tool's result. The sub-agent starts in a fresh session and sees nothing of this conversation, so put everything it needs into `task`. agentId picks another agent (only those you are allowed to start); label names the job in logs.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "task": { "type": "string", "minLength": 1, "description": "What the sub-agent should do, with all the context it needs." },
                    "agentId": { "type": "string", "description": "The agent to start; default yourself." },
                    "label": { "type": "string", "description": "A short name for the job." }
                },
                "required": ["task"]
            }),
        }
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let args: SpawnArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        match spawn(ctx, args).await {
            Ok(text) => ToolOutput::ok(text),
            Err(e) => e.into(),
        }
    }
}

/// Runs one sub-agent to its end; answers its final text.
async fn spawn(ctx: &ToolContext, args: SpawnArgs) -> Result<String, ToolError> {
    let rt = &ctx.runtime;
    let live = rt.live();
    let limits = live.config.agents.defaults.subagents;
    let parent = live.agents.get(&ctx.agent_id).ok_or_else(|| {
        ToolError::Refused(format!("agent `{}` is no longer configured", ctx.agent_id))
    })?;
    let child_id = args
        .agent_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(&ctx.agent_id);
    if !parent.may_spawn(child_id) {
        return Err(ToolError::Refused(format!(
            "you may not start agent `{child_id}`; allowed: {} (agents.list[].subagents.allowAgents)",
            parent.subagents.join(", ")
        )));
    }
    let Some(child) = live.agents.get(child_id) else {
        let known: Vec<&str> = live.agents.iter().map(|a| a.id.as_str()).collect();
        return Err(ToolError::Refused(format!(
            "there is no agent `{child_id}`; configured: {}",
            known.join(", ")
        )));
    };
    let depth = ctx.turn.depth;
    if depth >= limits.max_depth {
        return Err(ToolError::Refused(format!(
            "sub-agent limit reached: this turn is at depth {depth} and sub-agents may nest only {} deep (agents.defaults.subagents.maxDepth); do the task yourself",
            limits.max_depth
        )));
    }
    if !rt.sessions.claim_child(&ctx.run_id, limits.max_children) {
        return Err(ToolError::Refused(format!(
            "sub-agent limit reached: this run already started {} sub-agents (agents.defaults.subagents.maxChildren); do the rest yourself",
            limits.max_children
        )));
    }
    let timeout = Duration::from_secs(limits.timeout_seconds.max(1));
    let deadline = tokio::time::Instant::now() + timeout;
    let slot = tokio::select! {
        slot = rt.sessions.subagent_slot(limits.max_concurrent) => slot,
        () = tokio::time::sleep_until(deadline) => {
            return Err(ToolError::Failed(format!(
                "sub-agent limit reached: no sub-agent slot came free within {} s ({} may run at once, agents.defaults.subagents.maxConcurrent)",
                timeout.as_secs(),
                limits.max_concurrent
            )));
        }
        () = ctx.cancel.cancelled() => return Err(ToolError::Failed("the run was aborted".to_owned())),
    };

    let run_id = crate::util::new_id();
    let key = format!("agent:{}:subagent:{}", child.id, uuid::Uuid::new_v4());
    let label = args
        .label
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty());
    tracing::info!(parent_run = %ctx.run_id, child_run = %run_id, agent = %child.id, session = %key, label, depth = depth + 1, "sub-agent starts");
    let cancel = ctx.cancel.child_token();
    let request = TurnRequest {
        run_id: run_id.clone(),
        agent: child.clone(),
        session: TurnSession::Persistent {
            key,
            channel: SUBAGENT_CHANNEL.to_owned(),
            sender: ctx.sender.clone(),
        },
        input: Message::user(args.task),
        extra_system: Some(subagent_brief(&ctx.agent_id, label)),
        tools: ToolBox::for_agent(rt, child),
        cancel: cancel.clone(),
        observer: None,
        context: TurnContext {
            // The child answers for the same conversation: its audit log and, above all, its
            // memory (never the owner's for someone else's chat).
            binding: ctx.turn.binding.clone(),
            memory_dir: ctx.turn.memory_dir.clone(),
            depth: depth + 1,
            parent_run_id: Some(ctx.run_id.clone()),
        },
    };
    // The child runs as a task of its own, so it ends (and is recorded) properly even when this
    // call is dropped: the parent's turn timed out or was aborted. The guard stops it then.
    let _stop_child = cancel.clone().drop_guard();
    let task_rt = rt.clone();
    let mut child_run = rt.tasks.spawn(async move {
        let _slot = slot;
        run_turn(&task_rt, request).await
    });
    let mut timed_out = false;
    let joined = tokio::select! {
        joined = &mut child_run => joined,
        () = tokio::time::sleep_until(deadline) => {
            timed_out = true;
            cancel.cancel();
            child_run.await
        }
    };
    match joined {
        Ok(Ok(outcome)) => {
            let text = outcome.message.plain_text();
            Ok(if text.trim().is_empty() {
                "(the sub-agent finished without a text answer)".to_owned()
            } else {
                text
            })
        }
        Ok(Err(TurnError::Aborted)) if timed_out => Err(ToolError::Failed(format!(
            "the sub-agent did not finish within {} s (agents.defaults.subagents.timeoutSeconds) and was stopped",
            timeout.as_secs()
        ))),
        Ok(Err(TurnError::Aborted)) => {
            Err(ToolError::Failed("the sub-agent was aborted".to_owned()))
        }
        Ok(Err(e)) => Err(ToolError::Failed(format!("the sub-agent failed: {e}"))),
        Err(e) => {
            tracing::error!(error = %e, child_run = %run_id, "a sub-agent's task failed");
            Err(ToolError::Failed(
                "the sub-agent crashed; see the gateway log".to_owned(),
            ))
        }
    }
}

/// The sub-agent's extra system prompt: who started it and what becomes of its answer.
fn subagent_brief(parent: &str, label: Option<&str>) -> String {
    let job = label.map(|l| format!(" (\"{l}\")")).unwrap_or_default();
    format!(
        "You are a sub-agent: agent `{parent}` started you for one task{job}. Nobody else reads \
         this session. Work on the task on your own and end with a complete answer: your final \
         message is handed back to `{parent}` as the result."
    )
}

fn describe(m: &Message) -> Value {
    let text = m.plain_text();
    let cut = truncate_chars(&text, MESSAGE_CHARS);
    let mut v = json!({
        "role": m.role.as_str(),
        "time": crate::util::format_utc(m.timestamp),
        "text": if cut.len() < text.len() { format!("{cut}…") } else { text.clone() },
    });
    let calls: Vec<&str> = m
        .content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::ToolCall { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    if !calls.is_empty() {
        v["toolCalls"] = json!(calls);
    }
    if let Some(tool) = &m.tool_name {
        v["tool"] = json!(tool);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;
    use hearth_store::{NewSession, RunRecord, RunStatus};

    async fn seed(ctx: &ToolContext, key: &str, agent: &str, text: &str) {
        let store = &ctx.runtime.store;
        let (session, _) = store
            .ensure_session(NewSession {
                key,
                agent_id: agent,
                channel: "webchat",
                sender: None,
            })
            .await
            .unwrap();
        let run = RunRecord {
            id: crate::util::new_id(),
            session_id: Some(session.id.clone()),
            session_key: key.to_owned(),
            agent_id: agent.to_owned(),
            channel: Some("webchat".to_owned()),
            model: None,
            status: RunStatus::Completed,
            input: text.to_owned(),
            error: None,
            usage: Default::default(),
            started_at: 1,
            ended_at: 2,
            sender: None,
            parent_run_id: None,
        };
        store
            .commit_turn(
                &session.id,
                &run,
                &[
                    Message::user(text).at(1),
                    Message::assistant(format!("re: {text}")).at(2),
                ],
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn only_the_agents_own_sessions_are_visible() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        seed(&ctx, "agent:main:main", "main", "hello").await;
        seed(&ctx, "agent:main:work", "main", "work stuff").await;
        seed(&ctx, "agent:other:main", "other", "secret").await;

        let out = SessionsListTool.call(&ctx, json!({})).await;
        let v: Value = serde_json::from_str(&out.text).unwrap();
        let keys: Vec<&str> = v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys.len(), 2);
        assert!(keys.contains(&"agent:main:main") && keys.contains(&"agent:main:work"));

        let out = SessionsHistoryTool
            .call(&ctx, json!({"sessionKey": "work"}))
            .await;
        assert!(!out.is_error, "{out:?}");
        let v: Value = serde_json::from_str(&out.text).unwrap();
        assert_eq!(v["sessionKey"], "agent:main:work");
        assert_eq!(v["messages"][0]["text"], "work stuff");
        assert_eq!(v["messages"][1]["text"], "re: work stuff");

        let out = SessionsHistoryTool
            .call(&ctx, json!({"sessionKey": "agent:other:main"}))
            .await;
        assert!(
            out.is_error && out.text.contains("another agent"),
            "{out:?}"
        );
        assert!(!out.text.contains("secret"));
        let out = SessionsHistoryTool
            .call(&ctx, json!({"sessionKey": "nope"}))
            .await;
        assert!(out.is_error && out.text.contains("no session"), "{out:?}");
    }

    /// Spawns refused before any model is called: none is configured, so a spawn that got
    /// through would fail with a model error instead.
    #[tokio::test]
    async fn spawns_outside_the_limits_are_refused_with_the_setting_to_change() {
        let home = tempfile::tempdir().unwrap();
        let config: hearth_config::Config = serde_json::from_value(json!({
            "agents": {
                "defaults": { "subagents": { "maxDepth": 2, "maxChildren": 1 } },
                "list": [ { "id": "main" }, { "id": "ops" } ]
            }
        }))
        .unwrap();
        let ctx = testing::context(home.path(), config).await;
        let spawn = |args: Value| {
            let ctx = ctx.clone();
            async move { SessionsSpawnTool.call(&ctx, args).await }
        };

        let out = spawn(json!({"task": "x", "agentId": "ops"})).await;
        assert!(
            out.is_error && out.text.contains("may not start agent `ops`"),
            "{out:?}"
        );
        assert!(out.text.contains("allowAgents"), "{out:?}");

        let deep = ctx.clone().in_turn(&TurnContext {
            depth: 2,
            ..TurnContext::default()
        });
        let out = SessionsSpawnTool.call(&deep, json!({"task": "x"})).await;
        assert!(
            out.is_error && out.text.contains("maxDepth") && out.text.contains("depth 2"),
            "{out:?}"
        );

        // The first spawn counts (and fails without a model); the second is over the limit.
        let out = spawn(json!({"task": "x"})).await;
        assert!(
            out.is_error && out.text.contains("sub-agent failed"),
            "{out:?}"
        );
        let out = spawn(json!({"task": "x"})).await;
        assert!(out.is_error && out.text.contains("maxChildren"), "{out:?}");
        let child = ctx
            .runtime
            .store
            .recent_runs(5)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.parent_run_id.as_deref() == Some("run-test"))
            .expect("the child's run is recorded");
        assert!(child.session_key.starts_with("agent:main:subagent:"));
    }
}
