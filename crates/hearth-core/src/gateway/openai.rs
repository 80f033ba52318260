//! The OpenAI-compatible endpoints: `POST /v1/chat/completions` and `GET /v1/models`.
//!
//! They speak OpenAI's Chat Completions wire format (plain JSON, or SSE chunks with `stream:
//! true`) so the official SDKs and tools built on them work against Hearth. Agents appear as
//! models: `hearth` is the default agent, `hearth:<agentId>` any other.
//!
//! With a `user` field the request continues that user's stored session
//! (`agent:<agentId>:openai:<user>`): only its last user message is new input, the history comes
//! from the store. Without `user` the request is stateless, as with OpenAI: its own messages are
//! the context and only the run is recorded.
//!
//! Off unless `gateway.http.endpoints.chatCompletions.enabled`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason, Usage};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::ApiError;
use crate::agent::tools::ToolBox;
use crate::agent::{TurnError, TurnEvent, TurnOutcome, TurnRequest, TurnSession, run_turn};
use crate::agents::Agent;
use crate::runtime::Runtime;
use crate::util::new_id;

/// The request body; fields Hearth does not use are accepted and ignored, as OpenAI clients send
/// many.
#[derive(Debug, Deserialize)]
pub(super) struct CompletionRequest {
    model: String,
    messages: Vec<InMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
struct InMessage {
    role: String,
    #[serde(default)]
    content: Option<InContent>,
    #[serde(default)]
    tool_calls: Vec<InToolCall>,
    #[serde(default)]
    tool_call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum InContent {
    Text(String),
    Parts(Vec<InPart>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum InPart {
    Text {
        text: String,
    },
    ImageUrl {
        image_url: ImageUrl,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct ImageUrl {
    url: String,
}

#[derive(Debug, Deserialize)]
struct InToolCall {
    id: String,
    function: InFunction,
}

#[derive(Debug, Deserialize)]
struct InFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

fn enabled(rt: &Runtime) -> Result<(), ApiError> {
    if rt
        .live()
        .config
        .gateway
        .http
        .endpoints
        .chat_completions
        .enabled
    {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "the OpenAI-compatible endpoint is off; enable it with `hearth config set gateway.http.endpoints.chatCompletions.enabled true`",
        ))
    }
}

/// `GET /v1/models`: agents as models.
pub(super) async fn models(State(rt): State<Arc<Runtime>>) -> Result<Json<Value>, ApiError> {
    enabled(&rt)?;
    let live = rt.live();
    let created = rt_created(&rt);
    let mut data = vec![
        json!({ "id": "hearth", "object": "model", "created": created, "owned_by": "hearth" }),
    ];
    data.extend(live.agents.iter().map(|a| {
        json!({ "id": format!("hearth:{}", a.id), "object": "model", "created": created, "owned_by": "hearth" })
    }));
    Ok(Json(json!({ "object": "list", "data": data })))
}

fn rt_created(rt: &Runtime) -> i64 {
    (crate::util::now_ms() - i64::try_from(rt.started.elapsed().as_millis()).unwrap_or(0)) / 1000
}

/// The agent a model name selects.
fn agent_for_model(rt: &Runtime, model: &str) -> Result<Agent, ApiError> {
    let live = rt.live();
    let id = model
        .strip_prefix("hearth:")
        .or_else(|| model.strip_prefix("hearth/"))
        .or_else(|| model.strip_prefix("agent:"));
    let found = match id {
        None if model == "hearth" => Some(live.agents.default_agent()),
        None => live.agents.get(model),
        Some(id) => live.agents.get(id),
    };
    found.cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            format!("the model `{model}` does not exist: use `hearth` or `hearth:<agentId>` (GET /v1/models lists them)"),
        )
    })
}

fn convert(messages: Vec<InMessage>) -> Result<(Vec<Message>, Vec<String>), ApiError> {
    let mut out = Vec::with_capacity(messages.len());
    let mut system = Vec::new();
    for m in messages {
        let blocks = match m.content {
            None => Vec::new(),
            Some(InContent::Text(text)) => vec![ContentBlock::Text { text }],
            Some(InContent::Parts(parts)) => {
                let mut blocks = Vec::with_capacity(parts.len());
                for part in parts {
                    match part {
                        InPart::Text { text } => blocks.push(ContentBlock::Text { text }),
                        InPart::ImageUrl { image_url } => blocks.push(image_block(&image_url.url)?),
                        InPart::Other => {}
                    }
                }
                blocks
            }
        };
        match m.role.as_str() {
            "system" | "developer" => {
                system.extend(blocks.into_iter().filter_map(|b| match b {
                    ContentBlock::Text { text } => Some(text),
                    _ => None,
                }));
            }
            "user" => out.push(Message::new(Role::User, blocks)),
            "assistant" => {
                let mut blocks = blocks;
                for call in m.tool_calls {
                    let arguments = serde_json::from_str(&call.function.arguments)
                        .unwrap_or(Value::String(call.function.arguments));
                    blocks.push(ContentBlock::ToolCall {
                        id: call.id,
                        name: call.function.name,
                        arguments,
                    });
                }
                out.push(Message::new(Role::Assistant, blocks));
            }
            "tool" | "function" => {
                let mut msg = Message::new(Role::Tool, blocks);
                msg.tool_call_id = m.tool_call_id;
                msg.tool_name = m.name;
                out.push(msg);
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown message role `{other}`"
                )));
            }
        }
    }
    Ok((out, system))
}

/// Images must come inline: fetching a URL on a client's behalf would be an SSRF hole.
fn image_block(url: &str) -> Result<ContentBlock, ApiError> {
    let rest = url.strip_prefix("data:").ok_or_else(|| {
        ApiError::bad_request(
            "image_url must be a data: URL (base64); Hearth does not fetch remote images",
        )
    })?;
    let (meta, data) = rest
        .split_once(',')
        .ok_or_else(|| ApiError::bad_request("malformed data: URL"))?;
    let mime = meta
        .strip_suffix(";base64")
        .ok_or_else(|| ApiError::bad_request("data: URLs must be base64"))?;
    Ok(ContentBlock::Image {
        mime_type: mime.to_owned(),
        data: data.to_owned(),
    })
}

/// Keeps user ids usable inside a session key.
fn sanitize_user(user: &str) -> String {
    user.chars()
        .take(96)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn finish_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Length => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::ContentFilter => "content_filter",
        StopReason::Stop | StopReason::Aborted | StopReason::Error => "stop",
    }
}

fn usage_json(u: &Usage) -> Value {
    let prompt = u.input + u.cache_read + u.cache_write;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": u.output,
        "total_tokens": prompt + u.output,
        "prompt_tokens_details": { "cached_tokens": u.cache_read },
    })
}

fn turn_error(err: &TurnError) -> ApiError {
    let (status, kind, code) = match err {
        TurnError::Provider(e) | TurnError::AllFailed { last: e, .. }
            if e.kind() == "rate_limited" =>
        {
            (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "upstream_rate_limited",
            )
        }
        TurnError::Provider(_) | TurnError::AllFailed { .. } | TurnError::Incomplete => {
            (StatusCode::BAD_GATEWAY, "api_error", "upstream_error")
        }
        TurnError::Model(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "model_unavailable",
        ),
        TurnError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "api_error", "timeout"),
        TurnError::Aborted => (StatusCode::SERVICE_UNAVAILABLE, "api_error", "aborted"),
        TurnError::TooManyIterations(_) | TurnError::LoopDetected(_) => {
            (StatusCode::BAD_GATEWAY, "api_error", "tool_loop")
        }
        TurnError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "api_error", "internal"),
        TurnError::Budget(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "budget_exceeded",
        ),
    };
    let mut e = ApiError::new(status, kind, code, err.to_string());
    if let TurnError::Provider(p) | TurnError::AllFailed { last: p, .. } = err {
        e.retry_after = p.retry_after();
    }
    e
}

/// `POST /v1/chat/completions`.
pub(super) async fn chat_completions(
    State(rt): State<Arc<Runtime>>,
    body: Result<Json<CompletionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    enabled(&rt)?;
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if rt.shutdown.is_cancelled() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "shutting_down",
            "the gateway is shutting down",
        ));
    }
    let agent = agent_for_model(&rt, &body.model)?;
    let (mut messages, system) = convert(body.messages)?;
    let input = match messages.pop() {
        Some(m) if m.role == Role::User => m,
        _ => return Err(ApiError::bad_request("the last message must be the user's")),
    };
    let session = match body
        .user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        Some(user) => TurnSession::Persistent {
            key: format!("agent:{}:openai:{}", agent.id, sanitize_user(user)),
            channel: "openai".to_owned(),
            sender: Some(user.to_owned()),
        },
        None => TurnSession::Stateless {
            label: format!("agent:{}:openai", agent.id),
            channel: "openai".to_owned(),
            history: messages,
        },
    };
    let run_id = new_id();
    let cancel = rt.runs_cancel.child_token();
    let (observer, deltas) = if body.stream {
        let (tx, rx) = mpsc::unbounded_channel();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let tools = ToolBox::for_agent(&rt, &agent);
    let request = TurnRequest {
        run_id: run_id.clone(),
        agent,
        session,
        input,
        extra_system: (!system.is_empty()).then(|| system.join("\n\n")),
        tools,
        cancel: cancel.clone(),
        observer,
        context: crate::agent::TurnContext::default(),
    };
    let (done_tx, done_rx) = oneshot::channel();
    let task_rt = rt.clone();
    rt.tasks.spawn(async move {
        let _ = done_tx.send(run_turn(&task_rt, request).await);
    });
    // A client that goes away aborts its run.
    let abort_on_drop = cancel.drop_guard();
    let id = format!("chatcmpl-{run_id}");
    let created = crate::util::now_ms() / 1000;
    let model = body.model;

    let Some(deltas) = deltas else {
        let outcome = done_rx.await.map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "internal",
                "the run ended unexpectedly",
            )
        })?;
        abort_on_drop.disarm();
        let outcome: TurnOutcome = outcome.map_err(|e| turn_error(&e))?;
        let body = json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": outcome.message.plain_text(), "refusal": null },
                "logprobs": null,
                "finish_reason": finish_reason(outcome.stop_reason),
            }],
            "usage": usage_json(&outcome.usage),
        });
        let total = started.elapsed();
        let gateway = total.saturating_sub(outcome.model_time);
        let timing = format!(
            "gateway;dur={:.3}, model;dur={:.3}",
            gateway.as_secs_f64() * 1000.0,
            outcome.model_time.as_secs_f64() * 1000.0
        );
        let mut response = Json(body).into_response();
        if let Ok(v) = http::HeaderValue::from_str(&timing) {
            response.headers_mut().insert("server-timing", v);
        }
        return Ok(response);
    };

    let include_usage = body.stream_options.is_some_and(|o| o.include_usage);
    let chunk = move |delta: Value, finish: Option<&str>| {
        let v = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
        });
        sse(&v)
    };
    let first = chunk(json!({ "role": "assistant", "content": "" }), None);
    let chunk_for_deltas = chunk.clone();
    let delta_stream = UnboundedReceiverStream::new(deltas).filter_map(move |event| {
        let out = match event {
            TurnEvent::TextDelta(text) => Some(chunk_for_deltas(json!({ "content": text }), None)),
            TurnEvent::ThinkingDelta(text) => {
                Some(chunk_for_deltas(json!({ "reasoning_content": text }), None))
            }
        };
        std::future::ready(out)
    });
    let tail = futures_util::stream::once(async move {
        let result = done_rx.await;
        abort_on_drop.disarm();
        let mut out = String::new();
        match result {
            Ok(Ok(outcome)) => {
                out.push_str(&chunk(json!({}), Some(finish_reason(outcome.stop_reason))));
                if include_usage {
                    out.push_str(&sse(&json!({
                        "id": format!("chatcmpl-{}", outcome.run_id),
                        "object": "chat.completion.chunk",
                        "created": created,
                        "choices": [],
                        "usage": usage_json(&outcome.usage),
                    })));
                }
            }
            Ok(Err(err)) => {
                let e = turn_error(&err);
                out.push_str(&sse(&json!({ "error": { "message": e.message, "type": e.kind, "code": e.code } })));
            }
            Err(_) => out.push_str(&sse(&json!({ "error": { "message": "the run ended unexpectedly", "type": "api_error" } }))),
        }
        out.push_str("data: [DONE]\n\n");
        out
    });
    let stream = futures_util::stream::once(std::future::ready(first))
        .chain(delta_stream)
        .chain(tail)
        .map(|s| Ok::<_, Infallible>(Bytes::from(s)));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "text/event-stream")
        .header(http::header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

fn sse(v: &Value) -> String {
    format!("data: {v}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_convert_with_system_and_tools() {
        let body: CompletionRequest = serde_json::from_value(json!({
            "model": "hearth",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "read", "arguments": "{\"path\":\"a\"}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "file"},
                {"role": "user", "content": "and?"}
            ],
            "temperature": 0.2
        }))
        .unwrap();
        let (messages, system) = convert(body.messages).unwrap();
        assert_eq!(system, vec!["be brief".to_owned()]);
        assert_eq!(messages.len(), 4);
        assert!(
            matches!(&messages[0].content[1], ContentBlock::Image { mime_type, .. } if mime_type == "image/png")
        );
        assert_eq!(
            messages[1].tool_calls().next().unwrap().2,
            &json!({"path": "a"})
        );
        assert_eq!(messages[2].tool_call_id.as_deref(), Some("c1"));
    }

    #[test]
    fn remote_images_are_refused() {
        assert!(image_block("http://169.254.169.254/x.png").is_err());
        assert!(image_block("data:image/png;base64,AA").is_ok());
    }

    #[test]
    fn users_are_sanitized_for_keys() {
        assert_eq!(sanitize_user("a b:c@d"), "a_b_c@d");
    }
}
