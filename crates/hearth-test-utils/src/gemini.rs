//! [`FakeGemini`]: the Gemini API (Google AI for Developers) served on 127.0.0.1.
//!
//! It follows the Gemini API reference (<https://ai.google.dev/api/generate-content>):
//!
//! - `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` answers `text/event-stream` of
//!   `GenerateContentResponse` objects, `data:` lines only and no end marker. Thought summaries
//!   stream as `{"text", "thought": true}` parts, then the answer as `text` parts; function
//!   calls arrive whole, all of one turn in one chunk, as `functionCall {name, args}` without
//!   ids. The last chunk carries `finishReason` (`STOP`, or `MALFORMED_FUNCTION_CALL` when a
//!   scripted call's arguments are not a JSON object) and the full `usageMetadata`; earlier
//!   chunks carry only the prompt's counts, as Gemini does. Every chunk has `modelVersion` and
//!   `responseId`.
//! - Thought signatures: the first `functionCall` of a turn carries a `thoughtSignature` (as
//!   Gemini 3 always does), and a turn with thoughts but no calls ends with an empty text part
//!   carrying one.
//! - Without `alt=sse`, `streamGenerateContent` answers the same objects as one JSON array;
//!   `POST …:generateContent` answers one object with all parts.
//! - Requests are checked as Gemini checks them: an unknown top-level field, or a schema keyword
//!   outside the OpenAPI subset in a function declaration's `parameters` (`additionalProperties`,
//!   `$schema`, …), gets 400 `INVALID_ARGUMENT` `Invalid JSON payload received. Unknown name …`;
//!   a role other than `user` or `model` gets 400 too.
//! - Keys: with [`FakeGemini::require_key`], the key must come in `x-goog-api-key` (or the `key`
//!   query parameter). A missing key gets 403 `PERMISSION_DENIED`; a wrong one gets Gemini's 400
//!   `INVALID_ARGUMENT` "API key not valid" with an `ErrorInfo` of reason `API_KEY_INVALID`.
//! - Errors use `{"error": {"code", "message", "status", "details"}}`; a rate limit is 429
//!   `RESOURCE_EXHAUSTED` with a `google.rpc.RetryInfo` `retryDelay` (no `Retry-After` header),
//!   overload is 503 `UNAVAILABLE`, a long prompt is 400 `INVALID_ARGUMENT` "The input token
//!   count … exceeds the maximum number of tokens allowed".
//! - `GET /v1beta/models` lists models (`{"models": [{"name": "models/…", "displayName",
//!   "inputTokenLimit", "supportedGenerationMethods", …}], "nextPageToken"}`): the Gemini models
//!   (or those set with [`FakeGemini::set_models`]), then [`EMBEDDING_MODEL`], which supports
//!   only `embedContent`, as the real list mixes in embedding models. Pages hold `pageSize`
//!   models (default 50, at most 1000, or fewer with [`FakeGemini::set_models_page_size`]) and
//!   the next is asked for with `pageToken`; an unknown token gets 400 `INVALID_ARGUMENT`. Keys
//!   are checked as for a call, and replies queued with [`FakeGemini::push_models`] are played.
//!   `GET /v1beta/models/{model}` answers one.
//!
//! Token counts are rough: prompt ≈ characters of the request's text, arguments and results / 4
//! (at least 1, and at least the cached count), output ≈ characters of the answer / 4.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use crate::script::{
    Answer, DEFAULT_CHUNK_CHARS, Failure, MAX_BODY_BYTES, Play, Script, cut_stream, display_name,
    error_response, frames_body, json_response, output_tokens, pieces, prompt_tokens, sse_data,
    sse_response, stalled,
};

const API_KEY_HEADER: &str = "x-goog-api-key";
const MODELS: [&str; 3] = ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash"];
/// The model the list always ends with, which a chat cannot use.
pub const EMBEDDING_MODEL: &str = "text-embedding-004";
/// Gemini's page size when the request names none, and the largest it takes.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;
/// Top-level fields of `GenerateContentRequest`, in both spellings the JSON mapping accepts.
const REQUEST_FIELDS: [&str; 14] = [
    "model",
    "contents",
    "systemInstruction",
    "system_instruction",
    "tools",
    "toolConfig",
    "tool_config",
    "safetySettings",
    "safety_settings",
    "generationConfig",
    "generation_config",
    "cachedContent",
    "cached_content",
    "labels",
];
/// Fields of the API's `Schema` object.
const SCHEMA_FIELDS: [&str; 22] = [
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// A fake Gemini API on 127.0.0.1. Dropping it shuts the server down.
#[derive(Debug)]
pub struct FakeGemini {
    addr: SocketAddr,
    script: Arc<Script>,
}

crate::scripted_fake!(FakeGemini);

impl FakeGemini {
    /// Starts on a free loopback port.
    pub async fn start() -> Self {
        match Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(fake) => fake,
            Err(err) => panic!("FakeGemini could not bind 127.0.0.1:0: {err}"),
        }
    }

    /// Starts on `addr`.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let script = Arc::new(Script::new());
        script.serve(listener, app(Arc::clone(&script)), "FakeGemini");
        Ok(Self { addr, script })
    }

    /// `http://127.0.0.1:<port>/v1beta`, the value for a provider's `baseUrl`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1beta", self.addr)
    }

    /// Reports `n` as `usageMetadata.cachedContentTokenCount` from now on.
    pub fn set_cached_tokens(&self, n: u64) {
        self.script.set_cached_tokens(n);
    }
}

fn app(script: Arc<Script>) -> Router {
    Router::new()
        .route("/v1beta/models", get(list_models))
        .route("/v1beta/models/{call}", post(generate).get(get_model))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(script)
}

/// Google's error body.
fn error_body(code: u16, status: &str, message: &str, details: Value) -> Value {
    let mut error = json!({ "code": code, "message": message, "status": status });
    if details.as_array().is_some_and(|d| !d.is_empty()) {
        error["details"] = details;
    }
    json!({ "error": error })
}

fn google_error(code: u16, status: &str, message: &str) -> Response {
    error_response(code, &error_body(code, status, message, json!([])), &[])
}

/// The 400/403 when a key is required and the request does not present it.
fn reject_unauthorized(
    script: &Script,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<Response> {
    let required = script.required_key()?;
    let presented = headers
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(query.get("key").map(String::as_str));
    match presented {
        Some(key) if key == required.as_str() => None,
        Some(_) => Some(invalid_key()),
        None => Some(google_error(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). \
             Please use API Key or other form of API consumer identity to call this API.",
        )),
    }
}

/// Gemini's answer to a wrong key: 400, not 401.
fn invalid_key() -> Response {
    error_response(
        400,
        &error_body(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            json!([
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": { "service": "generativelanguage.googleapis.com" },
                },
                {
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                    "locale": "en-US",
                    "message": "API key not valid. Please pass a valid API key.",
                },
            ]),
        ),
        &[],
    )
}

/// Gemini's answers to the vendor-neutral failures.
fn failure_response(failure: Failure) -> Response {
    match failure {
        Failure::RateLimited { retry_after_secs } => error_response(
            429,
            &error_body(
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details. \
                 For more information on this error, head to: \
                 https://ai.google.dev/gemini-api/docs/rate-limits.",
                json!([
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{
                            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                            "quotaValue": "10",
                        }],
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.Help",
                        "links": [{
                            "description": "Learn more about Gemini API quotas",
                            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                        }],
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": format!("{retry_after_secs}s"),
                    },
                ]),
            ),
            &[],
        ),
        Failure::Overloaded => google_error(
            503,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        Failure::ServerError => google_error(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in \
             https://developers.generativeai.google/guide/troubleshooting",
        ),
        Failure::ContextTooLong => google_error(
            400,
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed \
             (1048576).",
        ),
        Failure::Unauthorized => invalid_key(),
    }
}

/// What the path's `{model}:{method}` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Generate,
    Stream,
}

async fn generate(
    State(script): State<Arc<Script>>,
    Path(call): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body);
    script.record(
        uri.path(),
        &headers,
        parsed.as_ref().cloned().unwrap_or(Value::Null),
    );
    if let Some(rejection) = reject_unauthorized(&script, &headers, &query) {
        return rejection;
    }
    let (model, method) = match call.split_once(':') {
        Some((model, "generateContent")) => (model, Method::Generate),
        Some((model, "streamGenerateContent")) => (model, Method::Stream),
        _ => return not_found(uri.path()),
    };
    let request = match parsed {
        Ok(request @ Value::Object(_)) => request,
        _ => {
            return google_error(
                400,
                "INVALID_ARGUMENT",
                "Invalid JSON payload received. Unexpected token.",
            );
        }
    };
    if let Err(message) = validate(&request) {
        return google_error(400, "INVALID_ARGUMENT", &message);
    }
    let facts = RequestFacts::read(&request);
    let envelope = Envelope {
        response_id: format!("fake-gemini-{:08}", script.next_id()),
        model: model.to_owned(),
    };
    let sse = query.get("alt").is_some_and(|alt| alt == "sse");
    let answer = match script
        .play(script.next_reply(), &facts.last_user_text)
        .await
    {
        Play::Answer(answer) => answer,
        Play::Error {
            status,
            body,
            headers,
        } => return error_response(status, &body, &headers),
        Play::Fail(failure) => return failure_response(failure),
        Play::Cut(text) => return cut_after(&envelope, &text),
        Play::Stall => {
            let content_type = if sse && method == Method::Stream {
                "text/event-stream"
            } else {
                "application/json; charset=UTF-8"
            };
            return stalled(&script, content_type);
        }
        Play::ShutDown => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let usage = Usage::of(&answer, &facts, script.cached_tokens());
    match method {
        Method::Generate => {
            json_response(StatusCode::OK, &whole_response(&envelope, &answer, &usage))
        }
        Method::Stream if sse => {
            let chunks = stream_chunks(&envelope, &answer, &usage);
            sse_response(frames_body(chunks.iter().map(sse_data).collect()))
        }
        Method::Stream => json_response(
            StatusCode::OK,
            &Value::Array(stream_chunks(&envelope, &answer, &usage)),
        ),
    }
}

/// The checks Gemini makes that a client can get wrong.
fn validate(request: &Value) -> Result<(), String> {
    let unknown = |name: &str, at: &str| {
        let at = if at.is_empty() {
            String::new()
        } else {
            format!(" at '{at}'")
        };
        format!("Invalid JSON payload received. Unknown name \"{name}\"{at}: Cannot find field.")
    };
    if let Some(object) = request.as_object()
        && let Some(name) = object
            .keys()
            .find(|k| !REQUEST_FIELDS.contains(&k.as_str()))
    {
        return Err(unknown(name, ""));
    }
    let contents = request["contents"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if contents.is_empty() {
        return Err("* GenerateContentRequest.contents: contents is not specified\n".to_owned());
    }
    for (i, content) in contents.iter().enumerate() {
        let role = content["role"].as_str().unwrap_or("user");
        if role != "user" && role != "model" {
            return Err(format!(
                "Please use a valid role: user, model. (contents[{i}].role is \"{role}\")"
            ));
        }
    }
    for (t, tool) in request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (f, function) in tool["functionDeclarations"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("tools[{t}].function_declarations[{f}].parameters");
            if let Some((name, path)) = unknown_schema_field(&function["parameters"], &at) {
                return Err(unknown(&name, &path));
            }
        }
    }
    Ok(())
}

/// The first key outside the `Schema` object, and where it is.
fn unknown_schema_field(schema: &Value, at: &str) -> Option<(String, String)> {
    let object = schema.as_object()?;
    if let Some(name) = object.keys().find(|k| !SCHEMA_FIELDS.contains(&k.as_str())) {
        return Some((name.clone(), at.to_owned()));
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            let found = unknown_schema_field(property, &format!("{at}.properties[{name}].value"));
            if found.is_some() {
                return found;
            }
        }
    }
    if let Some(found) = object
        .get("items")
        .and_then(|items| unknown_schema_field(items, &format!("{at}.items")))
    {
        return Some(found);
    }
    object
        .get("anyOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .find_map(|(i, branch)| unknown_schema_field(branch, &format!("{at}.any_of[{i}]")))
}

async fn list_models(
    State(script): State<Arc<Script>>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    script.record(uri.path(), &headers, Value::Null);
    if let Some(rejection) = reject_unauthorized(&script, &headers, &query) {
        return rejection;
    }
    if let Some(failed) = script.listing_failure(failure_response).await {
        return failed;
    }
    let all = listed(&script);
    let size = query
        .get("pageSize")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .min(MAX_PAGE_SIZE)
        .min(script.models_page_size().unwrap_or(MAX_PAGE_SIZE));
    let start = match query.get("pageToken").map(String::as_str) {
        None | Some("") => 0,
        Some(token) => match token
            .strip_prefix("fake-page-")
            .and_then(|n| n.parse().ok())
        {
            Some(start) if start < all.len() => start,
            _ => return google_error(400, "INVALID_ARGUMENT", "Invalid page token."),
        },
    };
    let end = (start + size).min(all.len());
    let models: Vec<Value> = all[start..end].iter().map(|id| model_object(id)).collect();
    let mut page = json!({ "models": models });
    if end < all.len() {
        page["nextPageToken"] = json!(format!("fake-page-{end}"));
    }
    json_response(StatusCode::OK, &page)
}

/// Every listed model id: the chat models, then the embedding model.
fn listed(script: &Script) -> Vec<String> {
    let mut ids = script.models(&MODELS);
    ids.push(EMBEDDING_MODEL.to_owned());
    ids
}

async fn get_model(
    State(script): State<Arc<Script>>,
    Path(model): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    script.record(uri.path(), &headers, Value::Null);
    if let Some(rejection) = reject_unauthorized(&script, &headers, &query) {
        return rejection;
    }
    match listed(&script).into_iter().find(|id| *id == model) {
        Some(id) => json_response(StatusCode::OK, &model_object(&id)),
        None => google_error(
            404,
            "NOT_FOUND",
            &format!("models/{model} is not found for API version v1beta"),
        ),
    }
}

fn model_object(id: &str) -> Value {
    let name = display_name(id);
    if id == EMBEDDING_MODEL {
        return json!({
            "name": format!("models/{id}"),
            "version": "004",
            "displayName": name,
            "description": "Obtain a distributed representation of a text.",
            "inputTokenLimit": 2048,
            "outputTokenLimit": 1,
            "supportedGenerationMethods": ["embedContent"],
        });
    }
    json!({
        "name": format!("models/{id}"),
        "version": "001",
        "displayName": name,
        "description": format!("{name}, as served by FakeGemini"),
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": ["generateContent", "countTokens", "streamGenerateContent"],
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2.0,
        "thinking": id.starts_with("gemini-2.5"),
    })
}

fn not_found(path: &str) -> Response {
    google_error(
        404,
        "NOT_FOUND",
        &format!("The requested URL {path} was not found on this server."),
    )
}

async fn unknown_route(
    State(script): State<Arc<Script>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    script.record(uri.path(), &headers, Value::Null);
    not_found(uri.path())
}

/// What the reply needs from the request, read once.
#[derive(Debug)]
struct RequestFacts {
    prompt_chars: usize,
    last_user_text: String,
}

impl RequestFacts {
    fn read(request: &Value) -> Self {
        let contents = request["contents"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let system = request
            .get("systemInstruction")
            .or_else(|| request.get("system_instruction"));
        let part_chars = |part: &Value| {
            part["text"].as_str().map_or(0, |t| t.chars().count())
                + ["functionCall", "functionResponse"]
                    .iter()
                    .filter(|k| part.get(**k).is_some())
                    .map(|k| part[*k].to_string().chars().count())
                    .sum::<usize>()
        };
        let prompt_chars = contents
            .iter()
            .chain(system)
            .flat_map(|c| c["parts"].as_array().map(Vec::as_slice).unwrap_or_default())
            .map(part_chars)
            .sum();
        let last_user_text = contents
            .iter()
            .rev()
            .filter(|c| c["role"] == "user" || c.get("role").is_none())
            .map(|c| {
                c["parts"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<String>()
            })
            .find(|text| !text.is_empty())
            .unwrap_or_default();
        Self {
            prompt_chars,
            last_user_text,
        }
    }
}

/// `usageMetadata` for one answer.
#[derive(Debug)]
struct Usage {
    prompt: u64,
    cached: u64,
    candidates: u64,
    thoughts: u64,
}

impl Usage {
    fn of(answer: &Answer, facts: &RequestFacts, cached: u64) -> Self {
        let thought_chars = answer.thinking.chars().count();
        Self {
            prompt: prompt_tokens(facts.prompt_chars).max(cached),
            cached,
            candidates: output_tokens(answer.output_chars() - thought_chars),
            thoughts: output_tokens(thought_chars),
        }
    }

    /// The counts a chunk before the last carries: the prompt's only.
    fn prompt_only(&self) -> Value {
        json!({
            "promptTokenCount": self.prompt,
            "totalTokenCount": self.prompt,
            "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": self.prompt }],
        })
    }

    fn full(&self) -> Value {
        let mut usage = json!({
            "promptTokenCount": self.prompt,
            "candidatesTokenCount": self.candidates,
            "totalTokenCount": self.prompt + self.candidates + self.thoughts,
            "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": self.prompt }],
        });
        // Gemini leaves out counts that are zero.
        if self.cached > 0 {
            usage["cachedContentTokenCount"] = json!(self.cached);
        }
        if self.thoughts > 0 {
            usage["thoughtsTokenCount"] = json!(self.thoughts);
        }
        usage
    }
}

/// The fields every response object of one answer shares.
#[derive(Debug)]
struct Envelope {
    response_id: String,
    model: String,
}

impl Envelope {
    fn chunk(&self, parts: Vec<Value>, finish_reason: Option<&str>, usage: Value) -> Value {
        let mut candidate = json!({ "content": { "parts": parts, "role": "model" }, "index": 0 });
        if let Some(reason) = finish_reason {
            candidate["finishReason"] = json!(reason);
        }
        json!({
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": self.model,
            "responseId": self.response_id,
        })
    }

    /// A signature as opaque as Gemini's, one per answer.
    fn signature(&self) -> String {
        format!("c2ln{}", self.response_id.replace('-', ""))
    }
}

/// The calls as `functionCall` parts, the first signed; `None` if an argument string is not a
/// JSON object, which Gemini reports as `MALFORMED_FUNCTION_CALL`.
fn call_parts(envelope: &Envelope, answer: &Answer) -> Option<Vec<Value>> {
    answer
        .tool_calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            let args: Map<String, Value> = serde_json::from_str(&call.arguments).ok()?;
            let mut part = json!({ "functionCall": { "name": call.name, "args": args } });
            if i == 0 {
                part["thoughtSignature"] = json!(envelope.signature());
            }
            Some(part)
        })
        .collect()
}

fn stream_chunks(envelope: &Envelope, answer: &Answer, usage: &Usage) -> Vec<Value> {
    let mut chunks: Vec<Value> = Vec::with_capacity(8);
    for piece in pieces(&answer.thinking, answer.chunk_chars) {
        chunks.push(envelope.chunk(
            vec![json!({ "text": piece, "thought": true })],
            None,
            usage.prompt_only(),
        ));
    }
    for piece in pieces(&answer.text, answer.chunk_chars) {
        chunks.push(envelope.chunk(vec![json!({ "text": piece })], None, usage.prompt_only()));
    }
    let (last_parts, finish_reason) = if answer.tool_calls.is_empty() {
        let signature = (!answer.thinking.is_empty()).then(|| envelope.signature());
        let part = match signature {
            Some(signature) => json!({ "text": "", "thoughtSignature": signature }),
            None => json!({ "text": "" }),
        };
        (vec![part], "STOP")
    } else {
        match call_parts(envelope, answer) {
            Some(parts) => (parts, "STOP"),
            None => (Vec::new(), "MALFORMED_FUNCTION_CALL"),
        }
    };
    chunks.push(envelope.chunk(last_parts, Some(finish_reason), usage.full()));
    chunks
}

fn whole_response(envelope: &Envelope, answer: &Answer, usage: &Usage) -> Value {
    let mut parts = Vec::new();
    if !answer.thinking.is_empty() {
        parts.push(json!({ "text": answer.thinking, "thought": true }));
    }
    let calls = call_parts(envelope, answer);
    if !answer.text.is_empty() {
        let mut part = json!({ "text": answer.text });
        if !answer.thinking.is_empty() && answer.tool_calls.is_empty() {
            part["thoughtSignature"] = json!(envelope.signature());
        }
        parts.push(part);
    }
    let finish_reason = match calls {
        Some(calls) => {
            parts.extend(calls);
            "STOP"
        }
        None => "MALFORMED_FUNCTION_CALL",
    };
    envelope.chunk(parts, Some(finish_reason), usage.full())
}

/// Streams `text` in deltas, then drops the connection before the chunk with the finish reason.
fn cut_after(envelope: &Envelope, text: &str) -> Response {
    let usage = json!({ "promptTokenCount": 1, "totalTokenCount": 1 });
    let frames = pieces(text, DEFAULT_CHUNK_CHARS)
        .map(|piece| sse_data(&envelope.chunk(vec![json!({ "text": piece })], None, usage.clone())))
        .collect();
    sse_response(cut_stream(frames))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FakeToolCall, Reply};

    fn envelope() -> Envelope {
        Envelope {
            response_id: "r".to_owned(),
            model: "gemini-2.5-flash".to_owned(),
        }
    }

    #[test]
    fn unknown_fields_are_refused_where_gemini_refuses_them() {
        let ok = json!({
            "contents": [{ "role": "user", "parts": [{ "text": "hi" }] }],
            "tools": [{ "functionDeclarations": [{ "name": "f", "parameters": {
                "type": "object", "properties": { "a": { "type": "array", "items": { "type": "string" } } },
            } }] }],
        });
        assert_eq!(validate(&ok), Ok(()));
        let mut bad = ok.clone();
        bad["tools"][0]["functionDeclarations"][0]["parameters"]["properties"]["a"]["items"]["additionalProperties"] =
            json!(false);
        assert_eq!(
            validate(&bad),
            Err(
                "Invalid JSON payload received. Unknown name \"additionalProperties\" at \
                 'tools[0].function_declarations[0].parameters.properties[a].value.items': \
                 Cannot find field."
                    .to_owned()
            )
        );
        let mut bad = ok.clone();
        bad["stream"] = json!(true);
        assert!(validate(&bad).is_err_and(|m| m.contains("\"stream\"")));
        let mut bad = ok;
        bad["contents"][0]["role"] = json!("assistant");
        assert!(validate(&bad).is_err_and(|m| m.contains("valid role")));
        assert!(validate(&json!({ "contents": [] })).is_err());
    }

    #[test]
    fn malformed_scripted_arguments_are_a_malformed_call() {
        let answer = Answer {
            tool_calls: vec![FakeToolCall::new("x", "f", "{not json")],
            ..Answer::default()
        };
        let facts = RequestFacts {
            prompt_chars: 8,
            last_user_text: String::new(),
        };
        let usage = Usage::of(&answer, &facts, 0);
        let chunks = stream_chunks(&envelope(), &answer, &usage);
        assert_eq!(chunks.len(), 1);
        assert_eq!(
            chunks[0]["candidates"][0]["finishReason"],
            "MALFORMED_FUNCTION_CALL"
        );
    }

    async fn post(
        fake: &FakeGemini,
        path: &str,
        key: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(format!("{}/{path}", fake.base_url()))
            .json(&body);
        if let Some(key) = key {
            request = request.header(API_KEY_HEADER, key);
        }
        request.send().await.expect("the fake answers")
    }

    fn hi() -> Value {
        json!({ "contents": [{ "role": "user", "parts": [{ "text": "hi there" }] }] })
    }

    #[tokio::test]
    async fn generate_content_answers_one_object_and_streaming_without_sse_an_array() {
        let fake = FakeGemini::start().await;
        fake.push(Reply::thinking("mull", "Fine."));
        let response = post(&fake, "models/gemini-2.5-pro:generateContent", None, hi()).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["candidates"][0]["content"]["parts"],
            json!([
                { "text": "mull", "thought": true },
                { "text": "Fine.", "thoughtSignature": "c2lnfakegemini00000001" },
            ])
        );
        assert_eq!(body["candidates"][0]["finishReason"], "STOP");
        assert_eq!(body["usageMetadata"]["thoughtsTokenCount"], 1);
        assert_eq!(body["modelVersion"], "gemini-2.5-pro");

        fake.push(Reply::text_chunked("abcdef", 3));
        let response = post(
            &fake,
            "models/gemini-2.5-pro:streamGenerateContent",
            None,
            hi(),
        )
        .await;
        let chunks: Vec<Value> = response.json().await.unwrap();
        let text: String = chunks
            .iter()
            .filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str())
            .collect();
        assert_eq!(text, "abcdef");
        assert_eq!(chunks.len(), 3);
        assert!(
            chunks[..2]
                .iter()
                .all(|c| c["usageMetadata"].get("candidatesTokenCount").is_none())
        );
        assert_eq!(chunks[2]["candidates"][0]["finishReason"], "STOP");
    }

    #[tokio::test]
    async fn sse_streams_data_events_and_keys_are_checked_like_gemini() {
        let fake = FakeGemini::start().await;
        fake.require_key("AIza-right");
        let path = "models/gemini-2.0-flash:streamGenerateContent?alt=sse";
        let missing = post(&fake, path, None, hi()).await;
        assert_eq!(missing.status(), 403);
        let wrong = post(&fake, path, Some("AIza-wrong"), hi()).await;
        assert_eq!(wrong.status(), 400);
        let body: Value = wrong.json().await.unwrap();
        assert_eq!(body["error"]["details"][0]["reason"], "API_KEY_INVALID");
        let by_query = post(&fake, &format!("{path}&key=AIza-right"), None, hi()).await;
        assert_eq!(by_query.status(), 200);

        let response = post(&fake, path, Some("AIza-right"), hi()).await;
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream; charset=utf-8"
        );
        let text = response.text().await.unwrap();
        let events: Vec<Value> = text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
            .collect();
        let echoed: String = events
            .iter()
            .filter_map(|e| e["candidates"][0]["content"]["parts"][0]["text"].as_str())
            .collect();
        assert_eq!(echoed, "echo: hi there");
        assert_eq!(fake.request_count(), 4);
    }

    #[tokio::test]
    async fn models_are_listed_and_found() {
        let fake = FakeGemini::start().await;
        let client = reqwest::Client::new();
        let list: Value = client
            .get(format!("{}/models", fake.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["models"][0]["name"], "models/gemini-2.5-flash");
        let one = client
            .get(format!("{}/models/gemini-2.0-flash", fake.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(one.status(), 200);
        let none = client
            .get(format!("{}/models/gemini-9", fake.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(none.status(), 404);
        let body: Value = none.json().await.unwrap();
        assert_eq!(body["error"]["status"], "NOT_FOUND");
    }

    #[test]
    fn request_facts_count_text_calls_and_results() {
        let facts = RequestFacts::read(&json!({
            "systemInstruction": { "parts": [{ "text": "1234" }] },
            "contents": [
                { "role": "user", "parts": [{ "text": "abcd" }, { "inlineData": { "mimeType": "image/png", "data": "xxxx" } }] },
                { "role": "model", "parts": [{ "functionCall": { "name": "f", "args": {} } }] },
                { "role": "user", "parts": [{ "functionResponse": { "name": "f", "response": {} } }] },
            ],
        }));
        let call = json!({ "name": "f", "args": {} }).to_string().len();
        let result = json!({ "name": "f", "response": {} }).to_string().len();
        assert_eq!(facts.prompt_chars, 8 + call + result);
        assert_eq!(facts.last_user_text, "abcd");
    }
}
