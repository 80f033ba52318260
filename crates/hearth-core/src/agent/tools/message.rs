//! `message`: the agent sending a message into another of its own sessions.
//!
//! The text goes in as a user message and starts a run there through the same path as a
//! client's `chat.send` (queued behind that session's current run, if any); the tool answers
//! the new run's id without waiting for it. Channel targets (a Telegram chat, ...) come with the
//! channels.

use async_trait::async_trait;
use hearth_protocol::methods::{ChatSendParams, ChatSendResult, Request};
use hearth_providers::ToolSpec;
use serde::Deserialize;
use serde_json::{Value, json};

use super::sessions::own_session_key;
use super::{Tool, ToolContext, ToolError, ToolOutput, parse_args};

/// Longest message the tool sends.
const MAX_TEXT_BYTES: usize = 64 * 1024;

/// `message`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageTool;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageArgs {
    session_key: String,
    text: String,
}

#[async_trait]
impl Tool for MessageTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "message".to_owned(),
            description: "Send text as a user message into another of your sessions (by key from sessions_list, or a short name like `research`); it starts a run there and answers its run id without waiting. Sending to chat channels (Telegram, ...) is not available yet.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "sessionKey": { "type": "string", "description": "The session to send to; not the current one." },
                    "text": { "type": "string" }
                },
                "required": ["sessionKey", "text"]
            }),
        }
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let args: MessageArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        match send(ctx, args).await {
            Ok(result) => ToolOutput::json(&json!({
                "runId": result.run_id,
                "sessionKey": result.session_key,
                "status": result.status,
            })),
            Err(e) => e.into(),
        }
    }
}

async fn send(ctx: &ToolContext, args: MessageArgs) -> Result<ChatSendResult, ToolError> {
    if args.text.trim().is_empty() {
        return Err(ToolError::Arguments("`text` is empty".to_owned()));
    }
    if args.text.len() > MAX_TEXT_BYTES {
        return Err(ToolError::Arguments(format!(
            "`text` is longer than {MAX_TEXT_BYTES} bytes"
        )));
    }
    let key = own_session_key(ctx, &args.session_key)?;
    if key == ctx.session_key {
        return Err(ToolError::Refused(
            "that is the current session; answer here instead of sending a message".to_owned(),
        ));
    }
    let request = Request::ChatSend(ChatSendParams {
        session_key: Some(key),
        message: args.text,
        agent_id: Some(ctx.agent_id.clone()),
        ..ChatSendParams::default()
    });
    let value = crate::gateway::methods::dispatch(&ctx.runtime, request)
        .await
        .map_err(|shape| ToolError::Failed(shape.message))?;
    let result: ChatSendResult = serde_json::from_value(value)
        .map_err(|e| ToolError::Failed(format!("unexpected answer from chat.send: {e}")))?;
    tracing::info!(run_id = %ctx.run_id, started = %result.run_id, session = %result.session_key, "message tool started a run");
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[tokio::test]
    async fn refuses_the_current_session_and_other_agents() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        let out = MessageTool
            .call(&ctx, json!({"sessionKey": "main", "text": "hi"}))
            .await;
        assert!(
            out.is_error && out.text.contains("current session"),
            "{out:?}"
        );
        let out = MessageTool
            .call(
                &ctx,
                json!({"sessionKey": "agent:other:main", "text": "hi"}),
            )
            .await;
        assert!(
            out.is_error && out.text.contains("another agent"),
            "{out:?}"
        );
        let out = MessageTool
            .call(&ctx, json!({"sessionKey": "work", "text": "  "}))
            .await;
        assert!(out.is_error, "{out:?}");
    }

    #[tokio::test]
    async fn starts_a_run_in_the_other_session() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        let out = MessageTool
            .call(
                &ctx,
                json!({"sessionKey": "work", "text": "please summarise"}),
            )
            .await;
        assert!(!out.is_error, "{out:?}");
        let v: Value = serde_json::from_str(&out.text).unwrap();
        assert_eq!(v["sessionKey"], "agent:main:work");
        assert_eq!(v["status"], "started");
        let run_id = v["runId"].as_str().unwrap().to_owned();
        // No model is configured here, so the run fails; it is recorded with the sent text.
        ctx.runtime.tasks.close();
        ctx.runtime.tasks.wait().await;
        let run = ctx.runtime.store.get_run(&run_id).await.unwrap().unwrap();
        assert_eq!(run.input, "please summarise");
        assert_eq!(run.session_key, "agent:main:work");
    }
}
