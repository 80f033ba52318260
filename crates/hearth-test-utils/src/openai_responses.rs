//! [`FakeOpenAiResponses`]: OpenAI's Responses API served on 127.0.0.1, for tests.
//!
//! It follows the API reference (<https://platform.openai.com/docs/api-reference/responses> and
//! "Streaming events"):
//!
//! - `POST /v1/responses` answers a `response` object (`output` items, `status`, `usage`) when
//!   `stream` is false or absent. With `stream: true` it answers `text/event-stream` of typed
//!   events, each with `event: <type>` and a `sequence_number`: `response.created`,
//!   `response.in_progress`, then per output item `response.output_item.added`, its deltas and
//!   `response.output_item.done`, then `response.completed`.
//! - Thinking is a `reasoning` item whose summary streams as
//!   `response.reasoning_summary_text.delta`; text a `message` item with an `output_text` part
//!   streamed as `response.output_text.delta`; each tool call a `function_call` item (`id`
//!   `fc_…`, `call_id` as scripted) whose arguments stream as
//!   `response.function_call_arguments.delta` fragments, then `.done`.
//! - An answer longer than `max_output_tokens` (≈ 4 characters a token) is cut there and ends
//!   with `response.incomplete` (`incomplete_details.reason: "max_output_tokens"`).
//! - `GET /v1/models` lists models as [`crate::FakeOpenAi`] does.
//! - Errors are OpenAI's, as [`crate::FakeOpenAi`] sends them (same body, statuses, headers and
//!   401 for a missing or wrong bearer key, see [`FakeOpenAiResponses::require_key`]).
//!
//! Usage: `input_tokens` ≈ characters of `instructions` and `input` / 4 (at least 1), including
//! the `cached_tokens` set with [`FakeOpenAiResponses::set_cached_tokens`], as OpenAI counts them.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::openai::{
    error_body, failure_response, list_models, reject_unauthorized, unknown_route,
};
use crate::script::{
    ARGUMENT_FRAGMENT_CHARS, Answer, DEFAULT_CHUNK_CHARS, MAX_BODY_BYTES, Play, Reply, Script,
    cut_stream, error_response, frames_body, json_response, output_tokens, pieces, prompt_tokens,
    sse_event, sse_response, stalled, text_of, unix_now,
};

/// A fake OpenAI Responses server on 127.0.0.1. Dropping it shuts the server down.
#[derive(Debug)]
pub struct FakeOpenAiResponses {
    addr: SocketAddr,
    script: Arc<Script>,
}

crate::scripted_fake!(FakeOpenAiResponses);

impl FakeOpenAiResponses {
    /// Starts on a free loopback port.
    pub async fn start() -> Self {
        match Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(fake) => fake,
            Err(err) => panic!("FakeOpenAiResponses could not bind 127.0.0.1:0: {err}"),
        }
    }

    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let script = Arc::new(Script::new());
        script.serve(listener, app(Arc::clone(&script)), "FakeOpenAiResponses");
        Ok(Self { addr, script })
    }

    /// `http://127.0.0.1:<port>/v1`, the value for a provider's `baseUrl`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Reports `n` as `usage.input_tokens_details.cached_tokens` from now on.
    pub fn set_cached_tokens(&self, n: u64) {
        self.script.set_cached_tokens(n);
    }
}

fn app(script: Arc<Script>) -> Router {
    Router::new()
        .route("/v1/responses", post(responses))
        .route("/v1/models", get(list_models))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(script)
}

async fn responses(
    State(script): State<Arc<Script>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        script.record(uri.path(), &headers, Value::Null);
        return json_response(
            StatusCode::BAD_REQUEST,
            &error_body(
                "We could not parse the JSON body of your request.",
                "invalid_request_error",
                None,
                None,
            ),
        );
    };
    let facts = RequestFacts::read(&request);
    script.record(uri.path(), &headers, request);
    if let Some(rejection) = reject_unauthorized(&script, &headers) {
        return rejection;
    }
    let reply = script.next_reply();
    let n = script.next_id();
    let ids = Ids {
        response: format!("resp_fake{n:016}"),
        message: format!("msg_fake{n:016}"),
        reasoning: format!("rs_fake{n:016}"),
        created_at: unix_now(),
    };
    answer(&script, reply, &facts, &ids).await
}

/// What the reply needs from the request, read once before the body is recorded.
#[derive(Debug)]
struct RequestFacts {
    model: String,
    stream: bool,
    max_output_tokens: Option<u64>,
    prompt_chars: usize,
    last_user_text: String,
}

impl RequestFacts {
    fn read(request: &Value) -> Self {
        let input = &request["input"];
        let items: Vec<&Value> = match input {
            Value::Array(items) => items.iter().collect(),
            // A bare string is one user message.
            Value::String(_) => vec![input],
            _ => Vec::new(),
        };
        let instructions = request["instructions"].as_str().unwrap_or_default();
        let prompt_chars =
            instructions.chars().count() + items.iter().map(|item| item_chars(item)).sum::<usize>();
        let last_user_text = items
            .iter()
            .rev()
            .find_map(|item| match item {
                Value::String(text) => Some(text.clone()),
                _ if item["role"] == "user" => Some(text_of(&item["content"])),
                _ => None,
            })
            .unwrap_or_default();
        Self {
            model: request["model"].as_str().unwrap_or("gpt-5").to_owned(),
            stream: request["stream"].as_bool().unwrap_or(false),
            max_output_tokens: request["max_output_tokens"].as_u64(),
            prompt_chars,
            last_user_text,
        }
    }
}

/// Characters an input item adds to the prompt.
fn item_chars(item: &Value) -> usize {
    let count = |v: &Value| text_of(v).chars().count();
    match item["type"].as_str() {
        Some("function_call") => count(&item["arguments"]),
        Some("function_call_output") => count(&item["output"]),
        _ if item.is_string() => count(item),
        _ => count(&item["content"]),
    }
}

/// The ids and time one response shares across its events.
#[derive(Debug)]
struct Ids {
    response: String,
    message: String,
    reasoning: String,
    created_at: u64,
}

/// The outcome of one answer: its output items, status and usage.
#[derive(Debug)]
struct Outcome<'a> {
    ids: &'a Ids,
    model: &'a str,
    answer: Answer,
    incomplete: bool,
    usage: Value,
}

impl Outcome<'_> {
    fn status(&self) -> &'static str {
        if self.incomplete {
            "incomplete"
        } else {
            "completed"
        }
    }

    fn reasoning_item(&self) -> Value {
        json!({
            "id": self.ids.reasoning,
            "type": "reasoning",
            "summary": [{ "type": "summary_text", "text": self.answer.thinking }],
        })
    }

    fn message_item(&self, text: &str, status: &str) -> Value {
        json!({
            "id": self.ids.message,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": if status == "completed" {
                json!([output_text(text)])
            } else {
                json!([])
            },
        })
    }

    fn call_item(&self, index: usize, arguments: &str, status: &str) -> Value {
        let call = &self.answer.tool_calls[index];
        json!({
            "id": format!("fc_{}_{index}", self.ids.response),
            "type": "function_call",
            "status": status,
            "arguments": arguments,
            "call_id": call.id,
            "name": call.name,
        })
    }

    /// The finished output items, in stream order.
    fn output(&self) -> Vec<Value> {
        let mut output = Vec::new();
        if !self.answer.thinking.is_empty() {
            output.push(self.reasoning_item());
        }
        if !self.answer.text.is_empty() {
            output.push(self.message_item(&self.answer.text, "completed"));
        }
        for (index, call) in self.answer.tool_calls.iter().enumerate() {
            output.push(self.call_item(index, &call.arguments, "completed"));
        }
        output
    }

    fn response(&self, status: &str, output: Vec<Value>, usage: &Value) -> Value {
        json!({
            "id": self.ids.response,
            "object": "response",
            "created_at": self.ids.created_at,
            "status": status,
            "error": null,
            "incomplete_details": if status == "incomplete" {
                json!({ "reason": "max_output_tokens" })
            } else {
                Value::Null
            },
            "model": self.model,
            "output": output,
            "store": false,
            "usage": usage,
        })
    }

    fn whole(&self) -> Value {
        self.response(self.status(), self.output(), &self.usage)
    }
}

fn output_text(text: &str) -> Value {
    json!({ "type": "output_text", "text": text, "annotations": [] })
}

/// SSE frames numbered in order, as the API's `sequence_number`.
#[derive(Debug, Default)]
struct Frames {
    frames: Vec<Bytes>,
}

impl Frames {
    fn push(&mut self, kind: &str, fields: Value) {
        let mut event = json!({ "type": kind, "sequence_number": self.frames.len() });
        if let (Some(event), Value::Object(fields)) = (event.as_object_mut(), fields) {
            event.extend(fields);
        }
        self.frames.push(sse_event(kind, &event));
    }

    /// `response.created` and `response.in_progress`.
    fn open(&mut self, outcome: &Outcome<'_>) {
        let empty = outcome.response("in_progress", Vec::new(), &Value::Null);
        self.push("response.created", json!({ "response": empty }));
        self.push("response.in_progress", json!({ "response": empty }));
    }

    fn text_deltas(&mut self, outcome: &Outcome<'_>, output_index: usize, text: &str, size: usize) {
        self.push(
            "response.output_item.added",
            json!({ "output_index": output_index, "item": outcome.message_item("", "in_progress") }),
        );
        self.push(
            "response.content_part.added",
            json!({ "item_id": outcome.ids.message, "output_index": output_index, "content_index": 0, "part": output_text("") }),
        );
        for piece in pieces(text, size) {
            self.push(
                "response.output_text.delta",
                json!({ "item_id": outcome.ids.message, "output_index": output_index, "content_index": 0, "delta": piece }),
            );
        }
    }
}

fn stream_frames(outcome: &Outcome<'_>) -> Vec<Bytes> {
    let answer = &outcome.answer;
    let mut f = Frames::default();
    f.open(outcome);
    let mut output_index = 0;
    if !answer.thinking.is_empty() {
        let id = &outcome.ids.reasoning;
        f.push(
            "response.output_item.added",
            json!({ "output_index": output_index, "item": { "id": id, "type": "reasoning", "summary": [] } }),
        );
        f.push(
            "response.reasoning_summary_part.added",
            json!({ "item_id": id, "output_index": output_index, "summary_index": 0, "part": { "type": "summary_text", "text": "" } }),
        );
        for piece in pieces(&answer.thinking, answer.chunk_chars) {
            f.push(
                "response.reasoning_summary_text.delta",
                json!({ "item_id": id, "output_index": output_index, "summary_index": 0, "delta": piece }),
            );
        }
        f.push(
            "response.reasoning_summary_text.done",
            json!({ "item_id": id, "output_index": output_index, "summary_index": 0, "text": answer.thinking }),
        );
        f.push(
            "response.output_item.done",
            json!({ "output_index": output_index, "item": outcome.reasoning_item() }),
        );
        output_index += 1;
    }
    if !answer.text.is_empty() {
        let id = &outcome.ids.message;
        f.text_deltas(outcome, output_index, &answer.text, answer.chunk_chars);
        f.push(
            "response.output_text.done",
            json!({ "item_id": id, "output_index": output_index, "content_index": 0, "text": answer.text }),
        );
        f.push(
            "response.content_part.done",
            json!({ "item_id": id, "output_index": output_index, "content_index": 0, "part": output_text(&answer.text) }),
        );
        f.push(
            "response.output_item.done",
            json!({ "output_index": output_index, "item": outcome.message_item(&answer.text, "completed") }),
        );
        output_index += 1;
    }
    for (index, call) in answer.tool_calls.iter().enumerate() {
        let item = outcome.call_item(index, "", "in_progress");
        let id = item["id"].clone();
        f.push(
            "response.output_item.added",
            json!({ "output_index": output_index, "item": item }),
        );
        for piece in pieces(&call.arguments, ARGUMENT_FRAGMENT_CHARS) {
            f.push(
                "response.function_call_arguments.delta",
                json!({ "item_id": id, "output_index": output_index, "delta": piece }),
            );
        }
        f.push(
            "response.function_call_arguments.done",
            json!({ "item_id": id, "output_index": output_index, "arguments": call.arguments }),
        );
        f.push(
            "response.output_item.done",
            json!({ "output_index": output_index, "item": outcome.call_item(index, &call.arguments, "completed") }),
        );
        output_index += 1;
    }
    let kind = if outcome.incomplete {
        "response.incomplete"
    } else {
        "response.completed"
    };
    f.push(kind, json!({ "response": outcome.whole() }));
    f.frames
}

fn usage(facts: &RequestFacts, answer: &Answer, cached_tokens: u64) -> Value {
    let input = prompt_tokens(facts.prompt_chars).max(cached_tokens);
    let output = output_tokens(answer.output_chars());
    json!({
        "input_tokens": input,
        "input_tokens_details": { "cached_tokens": cached_tokens },
        "output_tokens": output,
        "output_tokens_details": { "reasoning_tokens": output_tokens(answer.thinking.chars().count()) },
        "total_tokens": input + output,
    })
}

async fn answer(script: &Script, reply: Reply, facts: &RequestFacts, ids: &Ids) -> Response {
    let mut answer = match script.play(reply, &facts.last_user_text).await {
        Play::Answer(answer) => answer,
        Play::Error {
            status,
            body,
            headers,
        } => return error_response(status, &body, &headers),
        Play::Fail(failure) => return failure_response(failure),
        Play::Cut(text) => return cut_after(facts, ids, &text),
        Play::Stall => {
            return stalled(
                script,
                if facts.stream {
                    "text/event-stream; charset=utf-8"
                } else {
                    "application/json"
                },
            );
        }
        Play::ShutDown => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let incomplete = facts
        .max_output_tokens
        .is_some_and(|max| answer.cut_to_tokens(max));
    let outcome = Outcome {
        ids,
        model: &facts.model,
        usage: usage(facts, &answer, script.cached_tokens()),
        answer,
        incomplete,
    };
    if facts.stream {
        sse_response(frames_body(stream_frames(&outcome)))
    } else {
        json_response(StatusCode::OK, &outcome.whole())
    }
}

/// Streams the opening events and `text` in deltas, then drops the connection mid-response (no
/// `response.completed`).
fn cut_after(facts: &RequestFacts, ids: &Ids, text: &str) -> Response {
    let outcome = Outcome {
        ids,
        model: &facts.model,
        answer: Answer::default(),
        incomplete: false,
        usage: Value::Null,
    };
    let mut f = Frames::default();
    f.open(&outcome);
    f.text_deltas(&outcome, 0, text, DEFAULT_CHUNK_CHARS);
    sse_response(cut_stream(f.frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_facts_read_items_and_a_bare_string() {
        let facts = RequestFacts::read(&json!({
            "model": "gpt-5",
            "instructions": "1234",
            "input": [
                { "role": "user", "content": [{ "type": "input_text", "text": "abcd" }, { "type": "input_image", "image_url": "data:x" }] },
                { "type": "function_call", "call_id": "c", "name": "n", "arguments": "{}" },
                { "type": "function_call_output", "call_id": "c", "output": "ok" },
            ],
            "max_output_tokens": 9,
        }));
        assert_eq!(facts.prompt_chars, 4 + 4 + 2 + 2);
        assert_eq!(facts.last_user_text, "abcd");
        assert_eq!(facts.max_output_tokens, Some(9));
        let facts = RequestFacts::read(&json!({ "input": "hello", "stream": true }));
        assert_eq!(
            (facts.last_user_text.as_str(), facts.stream),
            ("hello", true)
        );
    }

    #[test]
    fn events_are_numbered_in_order() {
        let mut frames = Frames::default();
        frames.push("a", json!({ "x": 1 }));
        frames.push("b", json!({}));
        let second = String::from_utf8(frames.frames[1].to_vec()).unwrap();
        assert_eq!(
            second,
            "event: b\ndata: {\"type\":\"b\",\"sequence_number\":1}\n\n"
        );
    }
}
