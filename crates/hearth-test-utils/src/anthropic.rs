//! [`FakeAnthropic`]: Anthropic's Messages API served on 127.0.0.1, for tests.
//!
//! It follows the API reference (<https://docs.anthropic.com/en/api/messages>, "Streaming
//! Messages"):
//!
//! - `POST /v1/messages` needs `anthropic-version` and `max_tokens` (400
//!   `invalid_request_error` otherwise, as the API answers). Without `stream: true` it answers a
//!   `message` object (`content` blocks, `stop_reason`, `usage`). With it, `text/event-stream`
//!   of named events: `message_start` (id, model, prompt usage), per content block
//!   `content_block_start` / `content_block_delta` / `content_block_stop`, a `ping`, then
//!   `message_delta` (`stop_reason`, `usage.output_tokens`) and `message_stop`.
//! - Thinking streams as a `thinking` block of `thinking_delta`s closed by a `signature_delta`;
//!   the signature is [`thinking_signature`] of the text. Thinking blocks sent back in a request
//!   must carry that signature, or the answer is the API's 400 for an invalid signature, so a
//!   test proves a client returns thinking unmodified.
//! - Tool calls are `tool_use` blocks whose `input` streams as `input_json_delta` fragments
//!   (the first one empty, as the API sends it).
//! - An answer longer than `max_tokens` (≈ 4 characters a token) is cut there with
//!   `stop_reason: "max_tokens"`.
//! - Errors use the documented body `{"type": "error", "error": {"type", "message"}}`; a
//!   missing or wrong key (see [`FakeAnthropic::require_key`]; `x-api-key`, or
//!   `Authorization: Bearer` as compatible gateways take it) gets 401 `authentication_error`.
//!   [`Reply::overloaded`] is 529 `overloaded_error`; [`Reply::rate_limited`] a 429 with
//!   `retry-after` and the `anthropic-ratelimit-*` headers.
//! - `GET /v1/models` (<https://docs.anthropic.com/en/api/models-list>) answers `{"data":
//!   [{"type": "model", "id", "display_name", "created_at"}], "has_more", "first_id",
//!   "last_id"}`, listing [`FakeAnthropic::MODELS`] or the ids set with
//!   [`FakeAnthropic::set_models`]. Pages hold `limit` models (default 20, at most 1000, or
//!   fewer with [`FakeAnthropic::set_models_page_size`]) and start after `after_id`; an unknown
//!   `after_id` gets 400. Keys and `anthropic-version` are checked as for messages, and replies
//!   queued with [`FakeAnthropic::push_models`] are played.
//!
//! Usage: `input_tokens` ≈ characters of the prompt / 4 less the cache counts set with
//! [`FakeAnthropic::set_cache_tokens`], which Anthropic reports apart.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use crate::script::{
    ARGUMENT_FRAGMENT_CHARS, Answer, DEFAULT_CHUNK_CHARS, Failure, MAX_BODY_BYTES, Play, Reply,
    Script, bearer, cut_stream, display_name, error_response, frames_body, json_response,
    output_tokens, pieces, prompt_tokens, sse_event, sse_response, stalled,
};

/// A fake Anthropic server on 127.0.0.1. Dropping it shuts the server down.
#[derive(Debug)]
pub struct FakeAnthropic {
    addr: SocketAddr,
    script: Arc<Script>,
}

crate::scripted_fake!(FakeAnthropic);

impl FakeAnthropic {
    /// The models `/v1/models` lists unless [`FakeAnthropic::set_models`] says otherwise.
    pub const MODELS: [&'static str; 3] =
        ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"];

    /// Starts on a free loopback port.
    pub async fn start() -> Self {
        match Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(fake) => fake,
            Err(err) => panic!("FakeAnthropic could not bind 127.0.0.1:0: {err}"),
        }
    }

    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let script = Arc::new(Script::new());
        script.serve(listener, app(Arc::clone(&script)), "FakeAnthropic");
        Ok(Self { addr, script })
    }

    /// `http://127.0.0.1:<port>/v1`, the value for a provider's `baseUrl`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Reports `read` as `cache_read_input_tokens` and `write` as `cache_creation_input_tokens`
    /// from now on.
    pub fn set_cache_tokens(&self, read: u64, write: u64) {
        self.script.set_cached_tokens(read);
        self.script.set_cache_write_tokens(write);
    }
}

/// The signature the fake puts on a thinking block with this text, and expects back with it.
pub fn thinking_signature(thinking: &str) -> String {
    // FNV-1a: stable across runs and platforms, which `DefaultHasher` does not promise.
    let hash = thinking.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("EqFakeSig{hash:016x}")
}

/// Anthropic's error body.
fn error_body(kind: &str, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

fn invalid_request(message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &error_body("invalid_request_error", message),
    )
}

/// Anthropic's answers to the vendor-neutral failures.
fn failure_response(failure: Failure) -> Response {
    match failure {
        Failure::RateLimited { retry_after_secs } => error_response(
            429,
            &error_body(
                "rate_limit_error",
                "This request would exceed the rate limit for your organization of 50 requests \
                 per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
            ),
            &[
                ("retry-after".to_owned(), retry_after_secs.to_string()),
                (
                    "anthropic-ratelimit-requests-limit".to_owned(),
                    "50".to_owned(),
                ),
                (
                    "anthropic-ratelimit-requests-remaining".to_owned(),
                    "0".to_owned(),
                ),
            ],
        ),
        Failure::Overloaded => {
            error_response(529, &error_body("overloaded_error", "Overloaded"), &[])
        }
        Failure::ServerError => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &error_body("api_error", "Internal server error"),
        ),
        Failure::ContextTooLong => {
            invalid_request("prompt is too long: 208310 tokens > 200000 maximum")
        }
        Failure::Unauthorized => json_response(
            StatusCode::UNAUTHORIZED,
            &error_body("authentication_error", "invalid x-api-key"),
        ),
    }
}

/// The 401 when a key is required and the request does not present it.
fn reject_unauthorized(script: &Script, headers: &HeaderMap) -> Option<Response> {
    let required = script.required_key()?;
    let presented = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| bearer(headers));
    let message = match presented {
        Some(key) if key == required => return None,
        Some(_) => "invalid x-api-key",
        None => "x-api-key header is required",
    };
    Some(json_response(
        StatusCode::UNAUTHORIZED,
        &error_body("authentication_error", message),
    ))
}

fn app(script: Arc<Script>) -> Router {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/models", get(list_models))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(script)
}

async fn messages(
    State(script): State<Arc<Script>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        script.record(uri.path(), &headers, Value::Null);
        return invalid_request("There was an error parsing the body of your request.");
    };
    let facts = RequestFacts::read(&request);
    script.record(uri.path(), &headers, request);
    if let Some(rejection) = reject_unauthorized(&script, &headers) {
        return rejection;
    }
    if !headers.contains_key("anthropic-version") {
        return invalid_request("anthropic-version: header is required");
    }
    if let Some(problem) = &facts.problem {
        return invalid_request(problem);
    }
    let reply = script.next_reply();
    let message = MessageFacts {
        id: format!("msg_fake{:016}", script.next_id()),
        model: facts.model.clone(),
    };
    answer(&script, reply, &facts, &message).await
}

/// The page size when the request names none, and the largest the API takes.
const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 1000;

async fn list_models(
    State(script): State<Arc<Script>>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    script.record(uri.path(), &headers, Value::Null);
    if let Some(rejection) = reject_unauthorized(&script, &headers) {
        return rejection;
    }
    if !headers.contains_key("anthropic-version") {
        return invalid_request("anthropic-version: header is required");
    }
    if let Some(failed) = script.listing_failure(failure_response).await {
        return failed;
    }
    let all = script.models(&FakeAnthropic::MODELS);
    let size = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_PAGE_SIZE,
        Some(Ok(n)) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
        Some(_) => return invalid_request("limit: Input should be between 1 and 1000"),
    }
    .min(script.models_page_size().unwrap_or(MAX_PAGE_SIZE));
    let start = match query.get("after_id") {
        None => 0,
        Some(after) => match all.iter().position(|id| id == after) {
            Some(i) => i + 1,
            None => return invalid_request(&format!("after_id: model {after} not found")),
        },
    };
    let end = (start + size).min(all.len());
    let page = &all[start..end];
    let data: Vec<Value> = page
        .iter()
        .map(|id| {
            json!({
                "type": "model",
                "id": id,
                "display_name": display_name(id),
                "created_at": "2025-09-29T00:00:00Z",
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "data": data,
            "has_more": end < all.len(),
            "first_id": page.first(),
            "last_id": page.last(),
        }),
    )
}

async fn unknown_route(
    State(script): State<Arc<Script>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    script.record(uri.path(), &headers, Value::Null);
    json_response(
        StatusCode::NOT_FOUND,
        &error_body(
            "not_found_error",
            &format!("{method} {}: not found", uri.path()),
        ),
    )
}

/// What the reply needs from the request, read once before the body is recorded.
#[derive(Debug)]
struct RequestFacts {
    model: String,
    stream: bool,
    max_tokens: u64,
    prompt_chars: usize,
    last_user_text: String,
    /// Why the API would refuse the request, in its words.
    problem: Option<String>,
}

impl RequestFacts {
    fn read(request: &Value) -> Self {
        let messages = request["messages"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut prompt_chars = system_text(&request["system"]).chars().count();
        let mut problem = None;
        for message in messages {
            for block in blocks(&message["content"]) {
                prompt_chars += block_chars(block);
                if block["type"] == "thinking" {
                    let thinking = block["thinking"].as_str().unwrap_or_default();
                    if block["signature"].as_str() != Some(&thinking_signature(thinking)) {
                        problem =
                            Some("messages: Invalid `signature` in `thinking` block".to_owned());
                    }
                }
            }
        }
        let max_tokens = request["max_tokens"].as_u64();
        if max_tokens.is_none() {
            problem = Some("max_tokens: Field required".to_owned());
        }
        let last_user_text = messages
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .map(|m| {
                blocks(&m["content"])
                    .filter_map(|b| b.as_str().or_else(|| b["text"].as_str()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            model: request["model"]
                .as_str()
                .unwrap_or("claude-sonnet-4-5")
                .to_owned(),
            stream: request["stream"].as_bool().unwrap_or(false),
            max_tokens: max_tokens.unwrap_or(0),
            prompt_chars,
            last_user_text,
            problem,
        }
    }
}

/// A message's `content`: a string is one text block.
fn blocks(content: &Value) -> impl Iterator<Item = &Value> {
    let single = content.is_string().then_some(content);
    let many = content.as_array().map(Vec::as_slice).unwrap_or_default();
    single.into_iter().chain(many)
}

/// Characters a content block adds to the prompt.
fn block_chars(block: &Value) -> usize {
    if let Some(text) = block.as_str() {
        return text.chars().count();
    }
    match block["type"].as_str() {
        Some("text") => block["text"].as_str().map_or(0, |t| t.chars().count()),
        Some("thinking") => block["thinking"].as_str().map_or(0, |t| t.chars().count()),
        Some("tool_use") => block["input"].to_string().chars().count(),
        Some("tool_result") => blocks(&block["content"]).map(block_chars).sum(),
        _ => 0,
    }
}

/// `system`: a string, or text blocks.
fn system_text(system: &Value) -> String {
    blocks(system)
        .filter_map(|b| b.as_str().or_else(|| b["text"].as_str()))
        .collect()
}

#[derive(Debug)]
struct MessageFacts {
    id: String,
    model: String,
}

/// The answer cut to the request's `max_tokens`, and the stop reason.
fn within_limit(mut answer: Answer, max_tokens: u64) -> (Answer, &'static str) {
    let reason = if answer.cut_to_tokens(max_tokens) {
        "max_tokens"
    } else if answer.tool_calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    (answer, reason)
}

async fn answer(
    script: &Script,
    reply: Reply,
    facts: &RequestFacts,
    message: &MessageFacts,
) -> Response {
    let answer = match script.play(reply, &facts.last_user_text).await {
        Play::Answer(answer) => answer,
        Play::Error {
            status,
            body,
            headers,
        } => return error_response(status, &body, &headers),
        Play::Fail(failure) => return failure_response(failure),
        Play::Cut(text) => return cut_after(message, facts, script, &text),
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
    let (answer, stop_reason) = within_limit(answer, facts.max_tokens);
    let usage = Usage::of(script, facts, &answer);
    if facts.stream {
        sse_response(frames_body(stream_frames(
            message,
            &answer,
            stop_reason,
            &usage,
        )))
    } else {
        json_response(
            StatusCode::OK,
            &message_object(message, &answer, stop_reason, &usage),
        )
    }
}

#[derive(Debug)]
struct Usage {
    input: u64,
    cache_read: u64,
    cache_write: u64,
    output: u64,
}

impl Usage {
    fn of(script: &Script, facts: &RequestFacts, answer: &Answer) -> Self {
        let cache_read = script.cached_tokens();
        let cache_write = script.cache_write_tokens();
        Self {
            input: prompt_tokens(facts.prompt_chars)
                .saturating_sub(cache_read + cache_write)
                .max(1),
            cache_read,
            cache_write,
            output: output_tokens(answer.output_chars()),
        }
    }

    /// The usage as `message_start` reports it: the prompt's counts, one output token so far.
    fn at_start(&self) -> Value {
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": 1,
        })
    }

    fn whole(&self) -> Value {
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": self.output,
        })
    }
}

fn message_start(message: &MessageFacts, usage: Value) -> Bytes {
    sse_event(
        "message_start",
        &json!({
            "type": "message_start",
            "message": {
                "id": message.id,
                "type": "message",
                "role": "assistant",
                "model": message.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": usage,
            },
        }),
    )
}

fn block_start(index: usize, block: Value) -> Bytes {
    sse_event(
        "content_block_start",
        &json!({ "type": "content_block_start", "index": index, "content_block": block }),
    )
}

fn block_delta(index: usize, delta: Value) -> Bytes {
    sse_event(
        "content_block_delta",
        &json!({ "type": "content_block_delta", "index": index, "delta": delta }),
    )
}

fn block_stop(index: usize) -> Bytes {
    sse_event(
        "content_block_stop",
        &json!({ "type": "content_block_stop", "index": index }),
    )
}

fn stream_frames(
    message: &MessageFacts,
    answer: &Answer,
    stop_reason: &str,
    usage: &Usage,
) -> Vec<Bytes> {
    let mut frames = vec![
        message_start(message, usage.at_start()),
        sse_event("ping", &json!({ "type": "ping" })),
    ];
    let mut index = 0;
    if !answer.thinking.is_empty() {
        frames.push(block_start(
            index,
            json!({ "type": "thinking", "thinking": "", "signature": "" }),
        ));
        for piece in pieces(&answer.thinking, answer.chunk_chars) {
            frames.push(block_delta(
                index,
                json!({ "type": "thinking_delta", "thinking": piece }),
            ));
        }
        frames.push(block_delta(
            index,
            json!({ "type": "signature_delta", "signature": thinking_signature(&answer.thinking) }),
        ));
        frames.push(block_stop(index));
        index += 1;
    }
    if !answer.text.is_empty() {
        frames.push(block_start(index, json!({ "type": "text", "text": "" })));
        for piece in pieces(&answer.text, answer.chunk_chars) {
            frames.push(block_delta(
                index,
                json!({ "type": "text_delta", "text": piece }),
            ));
        }
        frames.push(block_stop(index));
        index += 1;
    }
    for call in &answer.tool_calls {
        frames.push(block_start(
            index,
            json!({ "type": "tool_use", "id": call.id, "name": call.name, "input": {} }),
        ));
        frames.push(block_delta(
            index,
            json!({ "type": "input_json_delta", "partial_json": "" }),
        ));
        for piece in pieces(&call.arguments, ARGUMENT_FRAGMENT_CHARS) {
            frames.push(block_delta(
                index,
                json!({ "type": "input_json_delta", "partial_json": piece }),
            ));
        }
        frames.push(block_stop(index));
        index += 1;
    }
    frames.push(sse_event(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason, "stop_sequence": null },
            "usage": { "output_tokens": usage.output },
        }),
    ));
    frames.push(sse_event(
        "message_stop",
        &json!({ "type": "message_stop" }),
    ));
    frames
}

fn message_object(
    message: &MessageFacts,
    answer: &Answer,
    stop_reason: &str,
    usage: &Usage,
) -> Value {
    let mut content = Vec::with_capacity(2 + answer.tool_calls.len());
    if !answer.thinking.is_empty() {
        content.push(json!({
            "type": "thinking",
            "thinking": answer.thinking,
            "signature": thinking_signature(&answer.thinking),
        }));
    }
    if !answer.text.is_empty() {
        content.push(json!({ "type": "text", "text": answer.text }));
    }
    for call in &answer.tool_calls {
        // Whole messages carry `input` as an object; scripted invalid JSON becomes `{}`.
        let input = serde_json::from_str::<Value>(&call.arguments)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Map::new()));
        content
            .push(json!({ "type": "tool_use", "id": call.id, "name": call.name, "input": input }));
    }
    json!({
        "id": message.id,
        "type": "message",
        "role": "assistant",
        "model": message.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": usage.whole(),
    })
}

/// Streams the message start and `text` in deltas, then drops the connection mid-response (no
/// `message_delta`, no `message_stop`).
fn cut_after(
    message: &MessageFacts,
    facts: &RequestFacts,
    script: &Script,
    text: &str,
) -> Response {
    let usage = Usage::of(script, facts, &Answer::default());
    let mut frames = vec![
        message_start(message, usage.at_start()),
        block_start(0, json!({ "type": "text", "text": "" })),
    ];
    frames.extend(
        pieces(text, DEFAULT_CHUNK_CHARS)
            .map(|piece| block_delta(0, json!({ "type": "text_delta", "text": piece }))),
    );
    sse_response(cut_stream(frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_stable_and_differ_by_text() {
        assert_eq!(thinking_signature("a"), thinking_signature("a"));
        assert_ne!(thinking_signature("a"), thinking_signature("b"));
    }

    #[test]
    fn request_facts_count_blocks_and_check_thinking_signatures() {
        let facts = RequestFacts::read(&json!({
            "model": "m",
            "max_tokens": 10,
            "system": "12345678",
            "messages": [
                { "role": "user", "content": [{ "type": "text", "text": "abcd" }, { "type": "image", "source": {} }] },
                { "role": "assistant", "content": [{ "type": "tool_use", "id": "t", "name": "n", "input": {} }] },
                { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t", "content": "xy" }] },
            ],
        }));
        assert_eq!(facts.prompt_chars, 8 + 4 + 2 + 2);
        assert_eq!(facts.last_user_text, "");
        assert_eq!(facts.problem, None);
        let facts = RequestFacts::read(&json!({
            "messages": [
                { "role": "assistant", "content": [{ "type": "thinking", "thinking": "t", "signature": "forged" }] },
                { "role": "user", "content": "hi" },
            ],
        }));
        assert_eq!(facts.last_user_text, "hi");
        assert_eq!(facts.problem.as_deref(), Some("max_tokens: Field required"));
    }

    #[test]
    fn long_answers_stop_at_max_tokens() {
        let answer = Answer {
            text: "x".repeat(100),
            ..Answer::default()
        };
        let (cut, reason) = within_limit(answer.clone(), 5);
        assert_eq!((cut.text.len(), reason), (20, "max_tokens"));
        let (whole, reason) = within_limit(answer, 25);
        assert_eq!((whole.text.len(), reason), (100, "end_turn"));
    }
}
