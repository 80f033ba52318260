//! [`FakeOpenAi`]: OpenAI's Chat Completions API served on 127.0.0.1, for tests and the benchmark.
//!
//! It follows the OpenAI API reference (<https://platform.openai.com/docs/api-reference/chat>):
//!
//! - `POST /v1/chat/completions` answers a `chat.completion` object (`choices[0].message`,
//!   `finish_reason`, `usage`) when `stream` is false or absent. With `stream: true` it answers
//!   `text/event-stream` of `chat.completion.chunk` objects: the first delta carries
//!   `role: "assistant"`, text arrives in `delta.content`, tool calls in `delta.tool_calls[]` (a
//!   call's first fragment carries `index`, `id`, `type` and `function.name`, later fragments only
//!   `index` and a piece of `function.arguments`), then a chunk with an empty delta and the
//!   `finish_reason`. With `stream_options.include_usage` every chunk has `usage: null` and one
//!   more chunk with empty `choices` carries the usage. The stream ends with `data: [DONE]`.
//! - Reasoning streams in `delta.reasoning_content`, as DeepSeek and other OpenAI-compatible
//!   servers send it (OpenAI itself does not expose reasoning on this endpoint).
//! - Errors use the documented body `{"error": {"message", "type", "param", "code"}}`; a missing
//!   or wrong bearer key (see [`FakeOpenAi::require_key`]) gets 401 with code `invalid_api_key`
//!   and the key masked, as OpenAI masks it. The vendor-neutral failures answer as OpenAI does:
//!   [`Reply::rate_limited`] 429 with `retry-after`, [`Reply::overloaded`] 503 "engine is
//!   currently overloaded", [`Reply::server_error`] 500, [`Reply::context_too_long`] 400
//!   `context_length_exceeded`, [`Reply::unauthorized`] 401 `invalid_api_key`.
//! - `GET /v1/models` answers `{"object": "list", "data": [{"id", "object": "model", "created",
//!   "owned_by"}]}`, no pages, listing `gpt-4o`, `gpt-4o-mini` and `o3-mini` or the ids set with
//!   [`FakeOpenAi::set_models`]; it checks the key as chat does and plays replies queued with
//!   [`FakeOpenAi::push_models`].
//!
//! Token counts are rough: prompt ≈ characters of the request's messages / 4 (at least 1),
//! completion ≈ characters of the answer / 4.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::script::{
    ARGUMENT_FRAGMENT_CHARS, Answer, DEFAULT_CHUNK_CHARS, Failure, MAX_BODY_BYTES, Play, Script,
    bearer, cut_stream, error_response, json_response, output_tokens, paced_body, pieces,
    prompt_tokens, sse_data, sse_response, stalled, text_of, unix_now,
};
pub use crate::script::{FakeToolCall, RecordedRequest, Reply};

const SYSTEM_FINGERPRINT: &str = "fp_hearth_fake";
const MODELS: [&str; 3] = ["gpt-4o", "gpt-4o-mini", "o3-mini"];

/// A fake OpenAI server on 127.0.0.1. Dropping it shuts the server down.
#[derive(Debug)]
pub struct FakeOpenAi {
    addr: SocketAddr,
    script: Arc<Script>,
}

crate::scripted_fake!(FakeOpenAi);

impl FakeOpenAi {
    /// Starts on a free loopback port.
    pub async fn start() -> Self {
        match Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(fake) => fake,
            Err(err) => panic!("FakeOpenAi could not bind 127.0.0.1:0: {err}"),
        }
    }

    /// Starts on `addr` (the benchmark uses a fixed port).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let script = Arc::new(Script::new());
        script.serve(listener, app(Arc::clone(&script)), "FakeOpenAi");
        Ok(Self { addr, script })
    }

    /// `http://127.0.0.1:<port>/v1`, the value for a provider's `baseUrl`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Reports `n` as `usage.prompt_tokens_details.cached_tokens` from now on.
    pub fn set_cached_tokens(&self, n: u64) {
        self.script.set_cached_tokens(n);
    }
}

/// The 401 response when a key is required and the request does not present it.
pub(crate) fn reject_unauthorized(script: &Script, headers: &HeaderMap) -> Option<Response> {
    let required = script.required_key()?;
    let presented = bearer(headers);
    let body = match presented {
        Some(key) if key == required.as_str() => return None,
        Some(key) => invalid_key_body(key),
        None => error_body(
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), \
             or as the password field (with blank username) if you're accessing the API \
             from your browser and are prompted for a username and password. You can \
             obtain an API key from https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            None,
            None,
        ),
    };
    Some(json_response(StatusCode::UNAUTHORIZED, &body))
}

fn app(script: Arc<Script>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(list_models))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(script)
}

async fn chat_completions(
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
                "We could not parse the JSON body of your request. (HINT: This likely means you \
                 aren't using your HTTP library correctly. The OpenAI API expects a JSON \
                 payload, but what was sent was not valid JSON.)",
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
    let envelope = Envelope {
        id: format!("chatcmpl-fake{:08}", script.next_id()),
        created: unix_now(),
        model: facts.model.clone(),
        include_usage: facts.include_usage,
    };
    answer(&script, reply, &facts, &envelope).await
}

/// `GET /v1/models` (shared with the Responses fake).
pub(crate) async fn list_models(
    State(script): State<Arc<Script>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    script.record(uri.path(), &headers, Value::Null);
    if let Some(rejection) = reject_unauthorized(&script, &headers) {
        return rejection;
    }
    if let Some(failed) = script.listing_failure(failure_response).await {
        return failed;
    }
    let data: Vec<Value> = script
        .models(&MODELS)
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": 1_715_367_049, "owned_by": "system" }))
        .collect();
    json_response(StatusCode::OK, &json!({ "object": "list", "data": data }))
}

pub(crate) async fn unknown_route(
    State(script): State<Arc<Script>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    script.record(uri.path(), &headers, Value::Null);
    json_response(
        StatusCode::NOT_FOUND,
        &error_body(
            &format!("Invalid URL ({method} {})", uri.path()),
            "invalid_request_error",
            None,
            None,
        ),
    )
}

/// What the reply needs from the request, read once before the body is recorded.
#[derive(Debug)]
struct RequestFacts {
    model: String,
    stream: bool,
    include_usage: bool,
    prompt_chars: usize,
    last_user_text: String,
}

impl RequestFacts {
    fn read(request: &Value) -> Self {
        let messages = request["messages"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let prompt_chars = messages
            .iter()
            .map(|m| {
                let calls: usize = m["tool_calls"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|c| {
                        c["function"]["arguments"]
                            .as_str()
                            .map_or(0, |a| a.chars().count())
                    })
                    .sum();
                text_of(&m["content"]).chars().count() + calls
            })
            .sum();
        let last_user_text = messages
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .map(|m| text_of(&m["content"]))
            .unwrap_or_default();
        Self {
            model: request["model"]
                .as_str()
                .unwrap_or("gpt-4o-mini")
                .to_owned(),
            stream: request["stream"].as_bool().unwrap_or(false),
            include_usage: request["stream_options"]["include_usage"]
                .as_bool()
                .unwrap_or(false),
            prompt_chars,
            last_user_text,
        }
    }
}

fn finish_reason(answer: &Answer) -> &'static str {
    if answer.tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    }
}

fn usage(answer: &Answer, facts: &RequestFacts, cached_tokens: u64) -> Value {
    let prompt = prompt_tokens(facts.prompt_chars);
    let reasoning = output_tokens(answer.thinking.chars().count());
    let completion = output_tokens(answer.output_chars());
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": { "cached_tokens": cached_tokens, "audio_tokens": 0 },
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

/// The fields every completion object and chunk of one response share.
#[derive(Debug)]
struct Envelope {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
}

impl Envelope {
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Bytes {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [{ "index": 0, "delta": null, "logprobs": null, "finish_reason": finish_reason }],
        });
        chunk["choices"][0]["delta"] = delta;
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        sse_data(&chunk)
    }

    fn usage_chunk(&self, usage: Value) -> Bytes {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [],
            "usage": null,
        });
        chunk["usage"] = usage;
        sse_data(&chunk)
    }
}

async fn answer(
    script: &Script,
    reply: Reply,
    facts: &RequestFacts,
    envelope: &Envelope,
) -> Response {
    let answer = match script.play(reply, &facts.last_user_text).await {
        Play::Answer(answer) => answer,
        Play::Error {
            status,
            body,
            headers,
        } => return error_response(status, &body, &headers),
        Play::Fail(failure) => return failure_response(failure),
        Play::Cut(text) => return cut_after(envelope, &text),
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
    let usage = usage(&answer, facts, script.cached_tokens());
    if facts.stream {
        sse_response(paced_body(
            stream_frames(envelope, &answer, usage),
            answer.pace,
        ))
    } else {
        json_response(StatusCode::OK, &completion_object(envelope, &answer, usage))
    }
}

/// OpenAI's answers to the vendor-neutral failures (shared with the Responses fake).
pub(crate) fn failure_response(failure: Failure) -> Response {
    match failure {
        Failure::RateLimited { retry_after_secs } => error_response(
            429,
            &error_body(
                &format!(
                    "Rate limit reached for gpt-4o-mini in organization org-fake on requests per \
                     min (RPM): Limit 3, Used 3, Requested 1. Please try again in \
                     {retry_after_secs}s. Visit https://platform.openai.com/account/rate-limits \
                     to learn more."
                ),
                "requests",
                None,
                Some("rate_limit_exceeded"),
            ),
            &[
                ("retry-after".to_owned(), retry_after_secs.to_string()),
                ("x-ratelimit-limit-requests".to_owned(), "3".to_owned()),
                ("x-ratelimit-remaining-requests".to_owned(), "0".to_owned()),
            ],
        ),
        Failure::Overloaded => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &error_body(
                "The engine is currently overloaded, please try again later.",
                "server_error",
                None,
                None,
            ),
        ),
        Failure::ServerError => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &error_body(
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
                None,
            ),
        ),
        Failure::ContextTooLong => json_response(
            StatusCode::BAD_REQUEST,
            &error_body(
                "This model's maximum context length is 128000 tokens. However, your messages \
                 resulted in 131072 tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                Some("messages"),
                Some("context_length_exceeded"),
            ),
        ),
        Failure::Unauthorized => json_response(
            StatusCode::UNAUTHORIZED,
            &invalid_key_body("sk-fake-0000000000000000"),
        ),
    }
}

fn stream_frames(envelope: &Envelope, answer: &Answer, usage: Value) -> Vec<Bytes> {
    let mut frames = Vec::with_capacity(8);
    let opening_content = if answer.text.is_empty() && answer.thinking.is_empty() {
        Value::Null
    } else {
        json!("")
    };
    frames.push(envelope.chunk(
        json!({ "role": "assistant", "content": opening_content, "refusal": null }),
        None,
    ));
    for piece in pieces(&answer.thinking, answer.chunk_chars) {
        frames.push(envelope.chunk(json!({ "content": null, "reasoning_content": piece }), None));
    }
    for piece in pieces(&answer.text, answer.chunk_chars) {
        frames.push(envelope.chunk(json!({ "content": piece }), None));
    }
    for (index, call) in answer.tool_calls.iter().enumerate() {
        frames.push(envelope.chunk(
            json!({ "tool_calls": [{
                "index": index,
                "id": call.id,
                "type": "function",
                "function": { "name": call.name, "arguments": "" },
            }] }),
            None,
        ));
        for piece in pieces(&call.arguments, ARGUMENT_FRAGMENT_CHARS) {
            frames.push(envelope.chunk(
                json!({ "tool_calls": [{ "index": index, "function": { "arguments": piece } }] }),
                None,
            ));
        }
    }
    frames.push(envelope.chunk(json!({}), Some(finish_reason(answer))));
    if envelope.include_usage {
        frames.push(envelope.usage_chunk(usage));
    }
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    frames
}

fn completion_object(envelope: &Envelope, answer: &Answer, usage: Value) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": if answer.text.is_empty() { Value::Null } else { json!(answer.text) },
        "refusal": null,
    });
    if !answer.thinking.is_empty() {
        message["reasoning_content"] = json!(answer.thinking);
    }
    if !answer.tool_calls.is_empty() {
        message["tool_calls"] = answer
            .tool_calls
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "type": "function",
                    "function": { "name": c.name, "arguments": c.arguments },
                })
            })
            .collect();
    }
    let mut completion = json!({
        "id": envelope.id,
        "object": "chat.completion",
        "created": envelope.created,
        "model": envelope.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": [{
            "index": 0,
            "message": null,
            "logprobs": null,
            "finish_reason": finish_reason(answer),
        }],
        "usage": null,
    });
    completion["choices"][0]["message"] = message;
    completion["usage"] = usage;
    completion
}

/// Streams the opening chunk and `text` in deltas, then drops the connection mid-response (no
/// terminating chunk, no `[DONE]`).
fn cut_after(envelope: &Envelope, text: &str) -> Response {
    let mut frames = vec![envelope.chunk(
        json!({ "role": "assistant", "content": "", "refusal": null }),
        None,
    )];
    frames.extend(
        pieces(text, DEFAULT_CHUNK_CHARS)
            .map(|piece| envelope.chunk(json!({ "content": piece }), None)),
    );
    sse_response(cut_stream(frames))
}

/// OpenAI's error body shape.
pub(crate) fn error_body(
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Value {
    json!({ "error": { "message": message, "type": kind, "param": param, "code": code } })
}

/// OpenAI's 401 body for a wrong key, which shows only the key's ends.
fn invalid_key_body(key: &str) -> Value {
    let chars: Vec<char> = key.chars().collect();
    let masked = if chars.len() > 8 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
    } else {
        "*".repeat(chars.len())
    };
    error_body(
        &format!(
            "Incorrect API key provided: {masked}. You can find your API key at \
             https://platform.openai.com/account/api-keys."
        ),
        "invalid_request_error",
        None,
        Some("invalid_api_key"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_key_body_masks_the_key_like_openai() {
        let body = invalid_key_body("sk-secret-value-1234");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("Incorrect API key provided: sk-*************1234."));
        assert!(!message.contains("secret-value"));
        assert_eq!(body["error"]["code"], "invalid_api_key");
    }

    #[test]
    fn request_facts_count_text_parts_and_tool_arguments() {
        let facts = RequestFacts::read(&json!({
            "model": "m",
            "stream": true,
            "stream_options": { "include_usage": true },
            "messages": [
                { "role": "system", "content": "12345678" },
                { "role": "user", "content": [{ "type": "text", "text": "abcd" }, { "type": "image_url", "image_url": { "url": "data:x" } }] },
                { "role": "assistant", "content": null, "tool_calls": [{ "function": { "arguments": "{}" } }] },
            ],
        }));
        assert_eq!(facts.prompt_chars, 14);
        assert_eq!(facts.last_user_text, "abcd");
        assert!(facts.stream && facts.include_usage);
    }
}
