//! The scripting every fake shares: what to answer ([`Reply`]), what arrived
//! ([`RecordedRequest`]), and the machinery in between ([`Script`]).
//!
//! A fake embeds one [`Script`] (behind an `Arc`, shared with its axum handlers) and keeps only
//! its vendor's wire format to itself. A handler does the same steps in every fake:
//!
//! 1. [`Script::record`] the request, then check [`Script::required_key`] against the vendor's
//!    auth header;
//! 2. [`Script::next_reply`] and [`Script::play`] it, which waits out [`Reply::Delayed`] and turns
//!    [`Reply::Echo`] into text, leaving a [`Play`]: an [`Answer`] to render in the vendor's
//!    shape, a raw error, a [`Failure`] to render in the vendor's error shape, a cut stream, or
//!    a stall;
//! 3. answer with the helpers below ([`sse_response`], [`json_response`], [`error_response`],
//!    [`cut_stream`], [`stalled`]), chunking text with [`pieces`] and estimating tokens with
//!    [`prompt_tokens`] and [`output_tokens`].
//!
//! Model-list routes check the key the same way, then play the next reply queued with
//! [`Script::push_models`] (none: the list) through [`Script::listing_failure`], and list
//! [`Script::models`], paged by [`Script::models_page_size`] where the vendor pages. Listing has
//! its own queue so that scripting a chat never changes what a listing answers, and back.
//!
//! [`Failure`]s are vendor-neutral on purpose: a test can push [`Reply::rate_limited`] to any fake
//! and each answers with its own status, body and headers for that condition.
//!
//! [`scripted_fake!`](crate::scripted_fake) gives a fake struct with fields `addr: SocketAddr`
//! and `script: Arc<Script>` the public scripting methods (`push`, `requests`, ...) and a `Drop`
//! that shuts its server down, so every fake offers the same API.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::{StreamExt, stream};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Requests kept for [`Script::requests`]; older ones are forgotten so a long benchmark run does
/// not grow without bound. [`Script::request_count`] still counts every request.
const MAX_RECORDED: usize = 4096;
/// Characters per delta for [`Reply::Echo`], [`Reply::Thinking`] and [`Reply::CutAfter`].
pub const DEFAULT_CHUNK_CHARS: usize = 16;
/// Characters per tool-argument fragment, small so clients must reassemble.
pub const ARGUMENT_FRAGMENT_CHARS: usize = 5;
/// Largest request body a fake accepts; images arrive inline as base64.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// One tool call the fake model makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model writes them: usually a JSON object, but sent verbatim where
    /// the wire format carries text, so a test can script invalid JSON.
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

/// A vendor-neutral error condition; each fake answers it in its vendor's status, body and
/// headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request rate is exhausted; the answer says to retry after this many seconds.
    RateLimited { retry_after_secs: u64 },
    /// The service is temporarily overloaded (Anthropic's 529, a 503 elsewhere).
    Overloaded,
    /// An internal server error (500).
    ServerError,
    /// The prompt is longer than the model's context window.
    ContextTooLong,
    /// The API key is wrong.
    Unauthorized,
}

/// How the fake answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Assistant text `"echo: <text of the last user message>"`.
    Echo,
    /// Assistant text, streamed in deltas of `chunk_size` characters (0: one delta).
    Text { text: String, chunk_size: usize },
    /// Tool calls, arguments streamed in small fragments where the API streams them.
    ToolCalls(Vec<FakeToolCall>),
    /// Reasoning in the API's thinking shape, then the answer text.
    Thinking { thinking: String, text: String },
    /// An HTTP error with exactly this status, JSON body and extra headers.
    Error {
        status: u16,
        body: Value,
        headers: Vec<(String, String)>,
    },
    /// An error condition, answered in the fake's vendor shape.
    Fail(Failure),
    /// Streams some text deltas, then drops the connection before the stream's proper end.
    CutAfter { text: String },
    /// Waits this long before sending anything, then answers with the inner reply.
    Delayed(Duration, Box<Reply>),
    /// Sends the response headers, then nothing until the server shuts down.
    Stall,
    /// Assistant text in deltas of `chunk_size` characters, one every `every` (the fakes that
    /// stream frame by frame honour the pace; others send it at once).
    Paced {
        text: String,
        chunk_size: usize,
        every: Duration,
    },
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

    /// Text streamed slowly: `chunk_size` characters every `every`.
    pub fn paced(text: impl Into<String>, chunk_size: usize, every: Duration) -> Self {
        Reply::Paced {
            text: text.into(),
            chunk_size,
            every,
        }
    }

    pub fn delayed(delay: Duration, reply: Reply) -> Self {
        Reply::Delayed(delay, Box::new(reply))
    }

    /// The vendor's 429 for an exhausted request rate, with `retry-after` in seconds.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Reply::Fail(Failure::RateLimited { retry_after_secs })
    }

    /// The vendor's "overloaded, try later" answer.
    pub fn overloaded() -> Self {
        Reply::Fail(Failure::Overloaded)
    }

    /// The vendor's 500.
    pub fn server_error() -> Self {
        Reply::Fail(Failure::ServerError)
    }

    /// The vendor's 400 for a prompt longer than the model's context window.
    pub fn context_too_long() -> Self {
        Reply::Fail(Failure::ContextTooLong)
    }

    /// The vendor's 401 for a wrong API key.
    pub fn unauthorized() -> Self {
        Reply::Fail(Failure::Unauthorized)
    }
}

/// One request a fake received.
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

/// The model's answer for the success replies, ready to render in a vendor's shape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub thinking: String,
    pub text: String,
    pub tool_calls: Vec<FakeToolCall>,
    /// Characters per streamed text or thinking delta (0: one delta).
    pub chunk_chars: usize,
    /// Wait between streamed frames (zero: all at once), for tests of streaming clients.
    pub pace: Duration,
}

impl Answer {
    /// Everything the model "wrote": thinking, text and tool arguments.
    pub fn output_chars(&self) -> usize {
        self.thinking.chars().count()
            + self.text.chars().count()
            + self
                .tool_calls
                .iter()
                .map(|c| c.arguments.chars().count())
                .sum::<usize>()
    }

    /// Cuts the answer to about `max_tokens` of output (thinking first, then text; tool calls
    /// are dropped), as a model stopping at its output limit would; true if anything was cut.
    pub fn cut_to_tokens(&mut self, max_tokens: u64) -> bool {
        if output_tokens(self.output_chars()) <= max_tokens {
            return false;
        }
        let keep = usize::try_from(max_tokens.saturating_mul(4)).unwrap_or(usize::MAX);
        let thinking_chars = self.thinking.chars().count().min(keep);
        self.thinking = self.thinking.chars().take(thinking_chars).collect();
        self.text = self.text.chars().take(keep - thinking_chars).collect();
        self.tool_calls.clear();
        true
    }
}

/// What a handler does with a reply once delays are over.
#[derive(Debug, Clone, PartialEq)]
pub enum Play {
    Answer(Answer),
    Error {
        status: u16,
        body: Value,
        headers: Vec<(String, String)>,
    },
    Fail(Failure),
    /// Stream this text in deltas, then drop the connection.
    Cut(String),
    Stall,
    /// The server shut down while the reply was delayed.
    ShutDown,
}

/// The script, request log and lifecycle of one fake server.
#[derive(Debug)]
pub struct Script {
    state: Mutex<State>,
    log: Mutex<Log>,
    arrived: Notify,
    shutdown: CancellationToken,
    next_id: AtomicU64,
}

#[derive(Debug)]
struct State {
    queue: VecDeque<Reply>,
    default: Reply,
    cached_tokens: u64,
    cache_write_tokens: u64,
    required_key: Option<String>,
    models: Option<Vec<String>>,
    models_page_size: Option<usize>,
    models_queue: VecDeque<Reply>,
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

impl Default for Script {
    fn default() -> Self {
        Self::new()
    }
}

impl Script {
    /// An empty queue answering [`Reply::Echo`] by default.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                default: Reply::Echo,
                cached_tokens: 0,
                cache_write_tokens: 0,
                required_key: None,
                models: None,
                models_page_size: None,
                models_queue: VecDeque::new(),
            }),
            log: Mutex::new(Log::default()),
            arrived: Notify::new(),
            shutdown: CancellationToken::new(),
            next_id: AtomicU64::new(1),
        }
    }

    /// Serves `app` on `listener` until [`Script::shut_down`]; `name` labels the warning logged
    /// if the server stops with an error.
    pub fn serve(&self, listener: TcpListener, app: Router, name: &'static str) {
        let server = axum::serve(listener, app)
            .with_graceful_shutdown(self.shutdown.clone().cancelled_owned());
        tokio::spawn(async move {
            if let Err(err) = server.await {
                tracing::warn!(%err, fake = name, "fake server stopped with an error");
            }
        });
    }

    /// Stops the server; stalled and delayed replies end.
    pub fn shut_down(&self) {
        self.shutdown.cancel();
    }

    /// Cancelled when the server shuts down.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Queues a reply for the next request not answered by an earlier queued reply.
    pub fn push(&self, reply: Reply) {
        lock(&self.state).queue.push_back(reply);
    }

    /// The reply used when the queue is empty (initially [`Reply::Echo`]).
    pub fn set_default(&self, reply: Reply) {
        lock(&self.state).default = reply;
    }

    /// The next queued reply, or the default.
    pub fn next_reply(&self) -> Reply {
        let mut state = lock(&self.state);
        match state.queue.pop_front() {
            Some(reply) => reply,
            None => state.default.clone(),
        }
    }

    /// Prompt tokens to report as read from the prompt cache.
    pub fn set_cached_tokens(&self, n: u64) {
        lock(&self.state).cached_tokens = n;
    }

    pub fn cached_tokens(&self) -> u64 {
        lock(&self.state).cached_tokens
    }

    /// Prompt tokens to report as written to the prompt cache, where the API reports that.
    pub fn set_cache_write_tokens(&self, n: u64) {
        lock(&self.state).cache_write_tokens = n;
    }

    pub fn cache_write_tokens(&self) -> u64 {
        lock(&self.state).cache_write_tokens
    }

    /// Requests must present this key (in the vendor's auth header) or get the vendor's 401.
    pub fn require_key(&self, key: &str) {
        lock(&self.state).required_key = Some(key.to_owned());
    }

    pub fn required_key(&self) -> Option<String> {
        lock(&self.state).required_key.clone()
    }

    /// The model ids the model-list route lists (and, where the vendor checks, the models a
    /// call may name), instead of the fake's own.
    pub fn set_models(&self, ids: Vec<String>) {
        lock(&self.state).models = Some(ids);
    }

    /// The ids set with [`Script::set_models`], else `defaults`.
    pub fn models(&self, defaults: &[&str]) -> Vec<String> {
        lock(&self.state)
            .models
            .clone()
            .unwrap_or_else(|| defaults.iter().map(|&id| id.to_owned()).collect())
    }

    /// The most models one page holds, for vendors that page their list (a smaller page asked
    /// for by the request still wins).
    pub fn set_models_page_size(&self, n: usize) {
        lock(&self.state).models_page_size = Some(n.max(1));
    }

    pub fn models_page_size(&self) -> Option<usize> {
        lock(&self.state).models_page_size
    }

    /// Queues a reply for the next model-list request; with none queued the list is answered.
    /// A success reply ([`Reply::Echo`], [`Reply::text`], ...) answers the list too.
    pub fn push_models(&self, reply: Reply) {
        lock(&self.state).models_queue.push_back(reply);
    }

    /// Plays the next reply queued with [`Script::push_models`]: the response to send instead
    /// of the list (errors and [`Failure`]s, which `failure` renders in the vendor's shape, a
    /// body cut mid-document, a stall), or `None` to answer the list.
    pub async fn listing_failure(&self, failure: fn(Failure) -> Response) -> Option<Response> {
        let reply = lock(&self.state).models_queue.pop_front()?;
        match self.play(reply, "").await {
            Play::Answer(_) => None,
            Play::Error {
                status,
                body,
                headers,
            } => Some(error_response(status, &body, &headers)),
            Play::Fail(kind) => Some(failure(kind)),
            Play::Cut(_) => {
                let mut response = Response::new(cut_stream(vec![Bytes::from_static(
                    b"{\"data\": [{\"id\": ",
                )]));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Some(response)
            }
            Play::Stall => Some(stalled(self, "application/json")),
            Play::ShutDown => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                Some(response)
            }
        }
    }

    /// A number unique within this fake, for response and message ids.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Logs a request and wakes [`Script::wait_for_requests`].
    pub fn record(&self, path: &str, headers: &HeaderMap, body: Value) {
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

    /// The recorded requests, oldest first (at most the last 4096).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.log).recent.iter().cloned().collect()
    }

    /// How many requests arrived since the start.
    pub fn request_count(&self) -> usize {
        lock(&self.log).count
    }

    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.log).recent.back().cloned()
    }

    /// Waits until at least `n` requests arrived; false if `timeout` passed first.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
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

    /// Waits out any [`Reply::Delayed`] (ending early on shutdown) and turns the reply into what
    /// the handler must send; [`Reply::Echo`] answers `"echo: {last_user_text}"`.
    pub async fn play(&self, mut reply: Reply, last_user_text: &str) -> Play {
        loop {
            return match reply {
                Reply::Delayed(delay, inner) => {
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {
                            reply = *inner;
                            continue;
                        }
                        () = self.shutdown.cancelled() => Play::ShutDown,
                    }
                }
                Reply::Error {
                    status,
                    body,
                    headers,
                } => Play::Error {
                    status,
                    body,
                    headers,
                },
                Reply::Fail(failure) => Play::Fail(failure),
                Reply::Stall => Play::Stall,
                Reply::CutAfter { text } => Play::Cut(text),
                Reply::Echo => Play::Answer(Answer {
                    text: format!("echo: {last_user_text}"),
                    chunk_chars: DEFAULT_CHUNK_CHARS,
                    ..Answer::default()
                }),
                Reply::Text { text, chunk_size } => Play::Answer(Answer {
                    text,
                    chunk_chars: chunk_size,
                    ..Answer::default()
                }),
                Reply::Paced {
                    text,
                    chunk_size,
                    every,
                } => Play::Answer(Answer {
                    text,
                    chunk_chars: chunk_size,
                    pace: every,
                    ..Answer::default()
                }),
                Reply::Thinking { thinking, text } => Play::Answer(Answer {
                    thinking,
                    text,
                    chunk_chars: DEFAULT_CHUNK_CHARS,
                    ..Answer::default()
                }),
                Reply::ToolCalls(tool_calls) => Play::Answer(Answer {
                    tool_calls,
                    ..Answer::default()
                }),
            };
        }
    }
}

/// Gives a fake struct with fields `addr: SocketAddr` and `script: Arc<Script>` the scripting
/// methods every fake offers, and a `Drop` that shuts its server down.
#[macro_export]
macro_rules! scripted_fake {
    ($fake:ident) => {
        impl $fake {
            pub fn addr(&self) -> ::std::net::SocketAddr {
                self.addr
            }

            /// Queues a reply for the next request not answered by an earlier queued reply.
            pub fn push(&self, reply: $crate::Reply) {
                self.script.push(reply);
            }

            /// The reply used when the queue is empty (initially [`Reply::Echo`](crate::Reply::Echo)).
            pub fn set_default(&self, reply: $crate::Reply) {
                self.script.set_default(reply);
            }

            /// Answers the vendor's 401 to requests that do not present `key` the vendor's way.
            pub fn require_key(&self, key: &str) {
                self.script.require_key(key);
            }

            /// Lists these model ids instead of the fake's own.
            pub fn set_models(&self, ids: ::std::vec::Vec<::std::string::String>) {
                self.script.set_models(ids);
            }

            /// The most models one page of the list holds, where the vendor pages it.
            pub fn set_models_page_size(&self, n: usize) {
                self.script.set_models_page_size(n);
            }

            /// Queues a reply for the next model-list request (errors and failures answer in
            /// the vendor's shape; success replies answer the list).
            pub fn push_models(&self, reply: $crate::Reply) {
                self.script.push_models(reply);
            }

            /// The recorded requests, oldest first (at most the last 4096).
            pub fn requests(&self) -> ::std::vec::Vec<$crate::RecordedRequest> {
                self.script.requests()
            }

            /// How many requests arrived since the start.
            pub fn request_count(&self) -> usize {
                self.script.request_count()
            }

            pub fn last_request(&self) -> ::std::option::Option<$crate::RecordedRequest> {
                self.script.last_request()
            }

            /// Waits until at least `n` requests arrived; false if `timeout` passed first.
            pub async fn wait_for_requests(
                &self,
                n: usize,
                timeout: ::std::time::Duration,
            ) -> bool {
                self.script.wait_for_requests(n, timeout).await
            }
        }

        impl ::std::ops::Drop for $fake {
            fn drop(&mut self) {
                self.script.shut_down();
            }
        }
    };
}

/// A `text/event-stream` response with this body.
pub fn sse_response(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// An `application/json` response.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A JSON error response with extra headers (invalid header names or values are skipped).
pub fn error_response(status: u16, body: &Value, headers: &[(String, String)]) -> Response {
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

/// A body that sends `frames`, then fails so the server drops the connection mid-response.
pub fn cut_stream(frames: Vec<Bytes>) -> Body {
    let cut = stream::once(async {
        // A pending body lets the server flush the frames before the connection is dropped.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fake server: scripted cut",
        ))
    });
    Body::from_stream(stream::iter(frames.into_iter().map(Ok)).chain(cut))
}

/// A body that sends `frames` and ends.
pub fn frames_body(frames: Vec<Bytes>) -> Body {
    Body::from_stream(stream::iter(frames.into_iter().map(Ok::<_, Infallible>)))
}

/// A body that sends `frames` one every `pace`, and ends.
pub fn paced_body(frames: Vec<Bytes>, pace: Duration) -> Body {
    if pace.is_zero() {
        return frames_body(frames);
    }
    Body::from_stream(stream::iter(frames).then(move |frame| async move {
        tokio::time::sleep(pace).await;
        Ok::<_, Infallible>(frame)
    }))
}

/// Headers now, body never: the response stays open until the server shuts down.
/// `content_type` is the one the real API would have sent.
pub fn stalled(script: &Script, content_type: &'static str) -> Response {
    let body = stream::pending::<Result<Bytes, Infallible>>()
        .take_until(script.shutdown_token().clone().cancelled_owned());
    let mut response = Response::new(Body::from_stream(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The `Authorization: Bearer` token, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// `data: <json>\n\n`.
pub fn sse_data(value: &Value) -> Bytes {
    let mut frame = Vec::with_capacity(320);
    frame.extend_from_slice(b"data: ");
    frame.extend_from_slice(&serde_json::to_vec(value).unwrap_or_default());
    frame.extend_from_slice(b"\n\n");
    Bytes::from(frame)
}

/// `event: <name>\ndata: <json>\n\n`, for APIs that name their events.
pub fn sse_event(name: &str, value: &Value) -> Bytes {
    let mut frame = Vec::with_capacity(320);
    frame.extend_from_slice(b"event: ");
    frame.extend_from_slice(name.as_bytes());
    frame.extend_from_slice(b"\ndata: ");
    frame.extend_from_slice(&serde_json::to_vec(value).unwrap_or_default());
    frame.extend_from_slice(b"\n\n");
    Bytes::from(frame)
}

/// `text` in pieces of `size` characters (one piece when `size` is 0); none for empty text.
pub fn pieces(text: &str, size: usize) -> impl Iterator<Item = &str> {
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

/// A display name from a model id, as vendors write them: `claude-sonnet-4-5` is
/// `Claude Sonnet 4.5`, `gemini-2.5-flash` `Gemini 2.5 Flash`.
pub fn display_name(id: &str) -> String {
    let mut name = String::with_capacity(id.len());
    let mut previous_numeric = false;
    for word in id.split(['-', '_']).filter(|w| !w.is_empty()) {
        let numeric = word.chars().all(|c| c.is_ascii_digit());
        if !name.is_empty() {
            name.push(if numeric && previous_numeric {
                '.'
            } else {
                ' '
            });
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
        previous_numeric = numeric;
    }
    name
}

/// Rough prompt tokens for `chars` characters of prompt: a quarter, at least 1.
pub fn prompt_tokens(chars: usize) -> u64 {
    (chars / 4).max(1) as u64
}

/// Rough output tokens for `chars` characters of output: a quarter.
pub fn output_tokens(chars: usize) -> u64 {
    (chars / 4) as u64
}

/// A message `content` as most APIs shape it: a string, or an array of parts whose `text`
/// fields count.
pub fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

pub fn unix_now() -> u64 {
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
    fn display_names_join_version_numbers() {
        assert_eq!(display_name("claude-sonnet-4-5"), "Claude Sonnet 4.5");
        assert_eq!(display_name("gemini-2.5-flash"), "Gemini 2.5 Flash");
        assert_eq!(display_name("gpt-4o_mini"), "Gpt 4o Mini");
    }

    #[tokio::test]
    async fn listing_replies_have_their_own_queue() {
        let script = Script::new();
        script.push(Reply::server_error());
        assert!(
            script
                .listing_failure(|_| Response::new(Body::empty()))
                .await
                .is_none()
        );
        script.push_models(Reply::Echo);
        script.push_models(Reply::unauthorized());
        assert!(
            script
                .listing_failure(|_| Response::new(Body::empty()))
                .await
                .is_none()
        );
        let failed = script
            .listing_failure(|kind| {
                assert_eq!(kind, Failure::Unauthorized);
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::UNAUTHORIZED;
                response
            })
            .await;
        assert_eq!(failed.map(|r| r.status()), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(script.next_reply(), Reply::server_error());
        assert_eq!(script.models(&["a"]), ["a"]);
        script.set_models(vec!["b".to_owned()]);
        assert_eq!(script.models(&["a"]), ["b"]);
    }

    #[test]
    fn long_answers_are_cut_to_the_token_limit() {
        let mut answer = Answer {
            thinking: "t".repeat(6),
            text: "x".repeat(100),
            tool_calls: vec![FakeToolCall::new("c", "n", "{}")],
            chunk_chars: 0,
            pace: Duration::ZERO,
        };
        assert!(!answer.clone().cut_to_tokens(27));
        assert!(answer.cut_to_tokens(5));
        assert_eq!((answer.thinking.len(), answer.text.len()), (6, 14));
        assert!(answer.tool_calls.is_empty());
    }

    #[tokio::test]
    async fn the_queue_comes_before_the_default_and_delays_resolve() {
        let script = Script::new();
        script.set_default(Reply::text("later"));
        script.push(Reply::delayed(
            Duration::from_millis(1),
            Reply::rate_limited(3),
        ));
        assert_eq!(
            script.play(script.next_reply(), "hi").await,
            Play::Fail(Failure::RateLimited {
                retry_after_secs: 3
            })
        );
        let Play::Answer(answer) = script.play(script.next_reply(), "hi").await else {
            panic!("the default is text");
        };
        assert_eq!(answer.text, "later");
        script.set_default(Reply::Echo);
        let Play::Answer(answer) = script.play(script.next_reply(), "hi").await else {
            panic!("echo is text");
        };
        assert_eq!(answer.text, "echo: hi");
    }

    #[tokio::test]
    async fn a_delay_ends_on_shutdown() {
        let script = Script::new();
        script.shut_down();
        let play = script
            .play(Reply::delayed(Duration::from_secs(60), Reply::Echo), "")
            .await;
        assert_eq!(play, Play::ShutDown);
    }

    #[tokio::test]
    async fn waiting_for_requests_sees_recorded_ones() {
        let script = Script::new();
        assert!(!script.wait_for_requests(1, Duration::from_millis(10)).await);
        script.record("/x", &HeaderMap::new(), Value::Null);
        assert!(script.wait_for_requests(1, Duration::from_millis(10)).await);
        assert_eq!(script.last_request().map(|r| r.path), Some("/x".to_owned()));
    }
}
