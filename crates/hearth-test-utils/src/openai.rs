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
//!   and the key masked, as OpenAI masks it.
//! - `GET /v1/models` answers `{"object": "list", "data": [{"id", "object": "model", "created",
//!   "owned_by"}]}`.
//!
//! Token counts are rough: prompt ≈ characters of the request's messages / 4 (at least 1),
//! completion ≈ characters of the answer / 4.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Requests kept for [`FakeOpenAi::requests`]; older ones are forgotten so a long benchmark run
/// does not grow without bound. [`FakeOpenAi::request_count`] still counts every request.
const MAX_RECORDED: usize = 4096;
/// Characters per delta for [`Reply::Echo`], [`Reply::Thinking`] and [`Reply::CutAfter`].
const DEFAULT_CHUNK_CHARS: usize = 16;
/// Characters per `function.arguments` fragment, small so clients must reassemble.
const ARGUMENT_FRAGMENT_CHARS: usize = 5;
/// Largest request body accepted; images arrive inline as base64.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
const SYSTEM_FINGERPRINT: &str = "fp_hearth_fake";
const MODELS: [&str; 3] = ["gpt-4o", "gpt-4o-mini", "o3-mini"];

/// One tool call the fake model makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model writes them: usually a JSON object, but sent verbatim, so a
    /// test can script invalid JSON.
    pub arguments: String,
}

impl FakeToolCall {
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }
}

/// How the fake answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Assistant text `"echo: <text of the last user message>"`.
    Echo,
    /// Assistant text, streamed in deltas of `chunk_size` characters (0: one delta).
    Text { text: String, chunk_size: usize },
    /// Tool calls, arguments streamed in small fragments; `finish_reason` is `tool_calls`.
    ToolCalls(Vec<FakeToolCall>),
    /// Reasoning in `reasoning_content`, then the answer text.
    Thinking { thinking: String, text: String },
    /// An HTTP error with this status, JSON body and extra headers.
    Error {
        status: u16,
        body: Value,
        headers: Vec<(String, String)>,
    },
    /// Streams some text deltas, then drops the connection without a `finish_reason` or `[DONE]`.
    CutAfter { text: String },
    /// Waits this long before sending anything, then answers with the inner reply.
    Delayed(Duration, Box<Reply>),
    /// Sends the response headers, then nothing until the server shuts down.
    Stall,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Reply::Text {
            text: text.into(),
            chunk_size: 4,
        }
    }

    pub fn text_chunked(text: impl Into<String>, chunk_size: usize) -> Self {
        Reply::Text {
            text: text.into(),
            chunk_size,
        }
    }

    pub fn tool_calls(calls: impl IntoIterator<Item = FakeToolCall>) -> Self {
        Reply::ToolCalls(calls.into_iter().collect())
    }

    pub fn thinking(thinking: impl Into<String>, text: impl Into<String>) -> Self {
        Reply::Thinking {
            thinking: thinking.into(),
            text: text.into(),
        }
    }

    pub fn error(status: u16, body: Value) -> Self {
        Reply::Error {
            status,
            body,
            headers: Vec::new(),
        }
    }

    pub fn cut_after(text: impl Into<String>) -> Self {
        Reply::CutAfter { text: text.into() }
    }

    pub fn delayed(delay: Duration, reply: Reply) -> Self {
        Reply::Delayed(delay, Box::new(reply))
    }

    /// OpenAI's 429 for an exhausted request rate, with `Retry-After` in seconds.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Reply::Error {
            status: 429,
            body: error_body(
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
            headers: vec![
                ("retry-after".to_owned(), retry_after_secs.to_string()),
                ("x-ratelimit-limit-requests".to_owned(), "3".to_owned()),
                ("x-ratelimit-remaining-requests".to_owned(), "0".to_owned()),
            ],
        }
    }

    /// OpenAI's 500.
    pub fn server_error() -> Self {
        Reply::error(
            500,
            error_body(
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
                None,
            ),
        )
    }

    /// OpenAI's 400 for a prompt longer than the model's context window.
    pub fn context_too_long() -> Self {
        Reply::error(
            400,
            error_body(
                "This model's maximum context length is 128000 tokens. However, your messages \
                 resulted in 131072 tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                Some("messages"),
                Some("context_length_exceeded"),
            ),
        )
    }

    /// OpenAI's 401 for a wrong API key.
    pub fn unauthorized() -> Self {
        Reply::error(401, invalid_key_body("sk-fake-0000000000000000"))
    }
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub path: String,
    /// Header names are lowercase.
    pub headers: Vec<(String, String)>,
    /// The JSON body; `null` when there was none or it was not JSON.
    pub body: Value,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A fake OpenAI server on 127.0.0.1. Dropping it shuts the server down.
#[derive(Debug)]
pub struct FakeOpenAi {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    script: Mutex<Script>,
    log: Mutex<Log>,
    arrived: Notify,
    shutdown: CancellationToken,
    next_id: AtomicU64,
}

#[derive(Debug)]
struct Script {
    queue: VecDeque<Reply>,
    default: Reply,
    cached_tokens: u64,
    required_key: Option<String>,
}

#[derive(Debug, Default)]
struct Log {
    recent: VecDeque<RecordedRequest>,
    count: usize,
}

/// A test that panicked while holding a lock must not wedge the fake for the others.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

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
        let shared = Arc::new(Shared {
            script: Mutex::new(Script {
                queue: VecDeque::new(),
                default: Reply::Echo,
                cached_tokens: 0,
                required_key: None,
            }),
            log: Mutex::new(Log::default()),
            arrived: Notify::new(),
            shutdown: CancellationToken::new(),
            next_id: AtomicU64::new(1),
        });
        let server = axum::serve(listener, app(Arc::clone(&shared)))
            .with_graceful_shutdown(shared.shutdown.clone().cancelled_owned());
        tokio::spawn(async move {
            if let Err(err) = server.await {
                tracing::warn!(%err, "FakeOpenAi stopped with an error");
            }
        });
        Ok(Self { addr, shared })
    }

    /// `http://127.0.0.1:<port>/v1`, the value for a provider's `baseUrl`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues a reply for the next request not answered by an earlier queued reply.
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.script).queue.push_back(reply);
    }

    /// The reply used when the queue is empty (initially [`Reply::Echo`]).
    pub fn set_default(&self, reply: Reply) {
        lock(&self.shared.script).default = reply;
    }

    /// Reports `n` as `usage.prompt_tokens_details.cached_tokens` from now on.
    pub fn set_cached_tokens(&self, n: u64) {
        lock(&self.shared.script).cached_tokens = n;
    }

    /// Answers 401 to requests without `Authorization: Bearer <key>`.
    pub fn require_key(&self, key: &str) {
        lock(&self.shared.script).required_key = Some(key.to_owned());
    }

    /// The recorded requests, oldest first (at most the last 4096).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).recent.iter().cloned().collect()
    }

    /// How many requests arrived since the start.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.log).count
    }

    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.shared.log).recent.back().cloned()
    }

    /// Waits until at least `n` requests arrived; false if `timeout` passed first.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a request landing in between still wakes us.
            notified.as_mut().enable();
            if self.request_count() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.request_count() >= n;
            }
        }
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl Shared {
    fn record(&self, path: &str, headers: &HeaderMap, body: Value) {
        let headers = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        {
            let mut log = lock(&self.log);
            if log.recent.len() == MAX_RECORDED {
                log.recent.pop_front();
            }
            log.recent.push_back(RecordedRequest {
                path: path.to_owned(),
                headers,
                body,
            });
            log.count += 1;
        }
        self.arrived.notify_waiters();
    }

    /// The 401 response when a key is required and the request does not present it.
    fn reject_unauthorized(&self, headers: &HeaderMap) -> Option<Response> {
        let script = lock(&self.script);
        let required = script.required_key.as_deref()?;
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let body = match presented {
            Some(key) if key == required => return None,
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

    fn next_reply(&self) -> (Reply, u64) {
        let mut script = lock(&self.script);
        let reply = match script.queue.pop_front() {
            Some(reply) => reply,
            None => script.default.clone(),
        };
        (reply, script.cached_tokens)
    }
}

fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(list_models))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        shared.record(uri.path(), &headers, Value::Null);
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
    shared.record(uri.path(), &headers, request);
    if let Some(rejection) = shared.reject_unauthorized(&headers) {
        return rejection;
    }
    let (reply, cached_tokens) = shared.next_reply();
    let envelope = Envelope {
        id: format!(
            "chatcmpl-fake{:08}",
            shared.next_id.fetch_add(1, Ordering::Relaxed)
        ),
        created: unix_now(),
        model: facts.model.clone(),
        include_usage: facts.include_usage,
    };
    answer(&shared, reply, &facts, &envelope, cached_tokens).await
}

async fn list_models(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    shared.record(uri.path(), &headers, Value::Null);
    if let Some(rejection) = shared.reject_unauthorized(&headers) {
        return rejection;
    }
    let data: Vec<Value> = MODELS
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": 1_715_367_049, "owned_by": "system" }))
        .collect();
    json_response(StatusCode::OK, &json!({ "object": "list", "data": data }))
}

async fn unknown_route(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    shared.record(uri.path(), &headers, Value::Null);
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

/// A message `content`: a string, or an array of parts whose `text` parts count.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

/// The model's answer for the success replies.
#[derive(Debug, Default)]
struct Answer {
    thinking: String,
    text: String,
    tool_calls: Vec<FakeToolCall>,
    chunk_chars: usize,
}

impl Answer {
    fn finish_reason(&self) -> &'static str {
        if self.tool_calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        }
    }

    fn usage(&self, facts: &RequestFacts, cached_tokens: u64) -> Value {
        let prompt = (facts.prompt_chars / 4).max(1) as u64;
        let reasoning = (self.thinking.chars().count() / 4) as u64;
        let answer_chars = self.thinking.chars().count()
            + self.text.chars().count()
            + self
                .tool_calls
                .iter()
                .map(|c| c.arguments.chars().count())
                .sum::<usize>();
        let completion = (answer_chars / 4) as u64;
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
        sse_frame(&chunk)
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
        sse_frame(&chunk)
    }
}

async fn answer(
    shared: &Shared,
    mut reply: Reply,
    facts: &RequestFacts,
    envelope: &Envelope,
    cached_tokens: u64,
) -> Response {
    let answer = loop {
        match reply {
            Reply::Delayed(delay, inner) => {
                tokio::select! {
                    () = tokio::time::sleep(delay) => reply = *inner,
                    () = shared.shutdown.cancelled() => {
                        return StatusCode::SERVICE_UNAVAILABLE.into_response();
                    }
                }
            }
            Reply::Error {
                status,
                body,
                headers,
            } => return error_response(status, &body, &headers),
            Reply::Stall => return stalled(shared, facts.stream),
            Reply::CutAfter { text } => return cut_after(envelope, &text),
            Reply::Echo => {
                break Answer {
                    text: format!("echo: {}", facts.last_user_text),
                    chunk_chars: DEFAULT_CHUNK_CHARS,
                    ..Answer::default()
                };
            }
            Reply::Text { text, chunk_size } => {
                break Answer {
                    text,
                    chunk_chars: chunk_size,
                    ..Answer::default()
                };
            }
            Reply::Thinking { thinking, text } => {
                break Answer {
                    thinking,
                    text,
                    chunk_chars: DEFAULT_CHUNK_CHARS,
                    ..Answer::default()
                };
            }
            Reply::ToolCalls(tool_calls) => {
                break Answer {
                    tool_calls,
                    ..Answer::default()
                };
            }
        }
    };
    let usage = answer.usage(facts, cached_tokens);
    if facts.stream {
        let frames = stream_frames(envelope, &answer, usage);
        sse_response(Body::from_stream(stream::iter(
            frames.into_iter().map(Ok::<_, Infallible>),
        )))
    } else {
        json_response(StatusCode::OK, &completion_object(envelope, &answer, usage))
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
    frames.push(envelope.chunk(json!({}), Some(answer.finish_reason())));
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
            "finish_reason": answer.finish_reason(),
        }],
        "usage": null,
    });
    completion["choices"][0]["message"] = message;
    completion["usage"] = usage;
    completion
}

/// Streams the opening chunk and `text` in deltas, then fails the body so the server drops the
/// connection mid-response (no terminating chunk, no `[DONE]`).
fn cut_after(envelope: &Envelope, text: &str) -> Response {
    let mut frames = vec![envelope.chunk(
        json!({ "role": "assistant", "content": "", "refusal": null }),
        None,
    )];
    frames.extend(
        pieces(text, DEFAULT_CHUNK_CHARS)
            .map(|piece| envelope.chunk(json!({ "content": piece }), None)),
    );
    let cut = stream::once(async {
        // A pending body lets the server flush the deltas before the connection is dropped.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "FakeOpenAi: scripted cut",
        ))
    });
    sse_response(Body::from_stream(
        stream::iter(frames.into_iter().map(Ok)).chain(cut),
    ))
}

/// Headers now, body never: the stream stays open until the server shuts down.
fn stalled(shared: &Shared, streaming: bool) -> Response {
    let body = stream::pending::<Result<Bytes, Infallible>>()
        .take_until(shared.shutdown.clone().cancelled_owned());
    if streaming {
        sse_response(Body::from_stream(body))
    } else {
        let mut response = Response::new(Body::from_stream(body));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

fn sse_response(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn error_response(status: u16, body: &Value, headers: &[(String, String)]) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, body);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// OpenAI's error body shape.
fn error_body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Value {
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

fn sse_frame(value: &Value) -> Bytes {
    let mut frame = Vec::with_capacity(320);
    frame.extend_from_slice(b"data: ");
    frame.extend_from_slice(&serde_json::to_vec(value).unwrap_or_default());
    frame.extend_from_slice(b"\n\n");
    Bytes::from(frame)
}

/// `text` in pieces of `size` characters (one piece when `size` is 0); none for empty text.
fn pieces(text: &str, size: usize) -> impl Iterator<Item = &str> {
    let size = if size == 0 { usize::MAX } else { size };
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest.char_indices().nth(size).map_or(rest.len(), |(i, _)| i);
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_on_char_boundaries() {
        assert_eq!(
            pieces("héllo wörld", 4).collect::<Vec<_>>(),
            ["héll", "o wö", "rld"]
        );
        assert_eq!(pieces("abc", 0).collect::<Vec<_>>(), ["abc"]);
        assert_eq!(pieces("", 3).count(), 0);
    }

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
