//! `sessions_list` and `sessions_history`: the agent reading its own conversations.
//!
//! Only the calling agent's sessions are visible (keys `agent:<agentId>:...`), read through the
//! store like `sessions.list` and `chat.history` do for clients.

use async_trait::async_trait;
use hearth_protocol::transcript::{ContentBlock, Message};
use hearth_providers::ToolSpec;
use hearth_store::SessionFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Tool, ToolContext, ToolError, ToolOutput, parse_args};
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
}
