//! [`FakeOllama`]: Ollama's native API served on 127.0.0.1.
//!
//! It follows Ollama's API reference (<https://github.com/ollama/ollama/blob/main/docs/api.md>):
//!
//! - `POST /api/chat` streams unless `stream` is `false` (streaming is Ollama's default), as
//!   `application/x-ndjson`: one `{"model", "created_at", "message": {"role": "assistant",
//!   "content"}, "done": false}` line per delta, thinking in `message.thinking`, tool calls whole
//!   in one line as `message.tool_calls: [{"function": {"index", "name", "arguments": {…}}}]`
//!   without ids, then a `"done": true` line with `done_reason` and the counts and durations
//!   (`prompt_eval_count`, `eval_count`, `total_duration`, …). With `stream: false` it answers
//!   one object with the whole message and the counts.
//! - Scripted tool arguments that are not a JSON object come out as message text: Ollama only
//!   reports a call it could parse from the model's output.
//! - `options.num_predict` caps the answer: the text is cut and `done_reason` is `length`.
//! - Only pulled models answer ([`FakeOllama::MODELS`], or those set with
//!   [`FakeOllama::set_models`]; a name without a tag means `:latest`); others get 404
//!   `model "x" not found, try pulling it first`.
//! - Errors are `{"error": "text"}` with Ollama's statuses and texts: 503 `server busy` when
//!   overloaded, 500 from a failed runner, 400 when the input exceeds the context length, 429
//!   with `Retry-After` and 401 `unauthorized` (as Ollama's hosted models answer; a local Ollama
//!   has no keys, [`FakeOllama::require_key`] checks a bearer token).
//! - `GET /api/tags` lists the pulled models (no pages), checking the key as chat does and
//!   playing replies queued with [`FakeOllama::push_models`]; `GET /api/version` answers the version; unknown
//!   paths get Ollama's plain-text `404 page not found`.
//!
//! Token counts are rough: prompt ≈ characters of the messages and tool arguments / 4 (at least
//! 1), output ≈ characters of the answer / 4.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use crate::script::{
    Answer, DEFAULT_CHUNK_CHARS, Failure, MAX_BODY_BYTES, Play, Script, bearer, cut_stream,
    error_response, frames_body, json_response, output_tokens, pieces, prompt_tokens, stalled,
};

const NDJSON: &str = "application/x-ndjson";
/// A fixed timestamp: clients must not depend on `created_at`.
const CREATED_AT: &str = "2025-05-27T22:54:57.641643Z";
const VERSION: &str = "0.12.6";

/// A fake Ollama server on 127.0.0.1. Dropping it shuts the server down.
#[derive(Debug)]
pub struct FakeOllama {
    addr: SocketAddr,
    script: Arc<Script>,
}

crate::scripted_fake!(FakeOllama);

impl FakeOllama {
    /// The pulled models, as `/api/tags` lists them.
    pub const MODELS: [&'static str; 3] = ["llama3.2:latest", "qwen3:latest", "llava:latest"];

    /// Starts on a free loopback port.
    pub async fn start() -> Self {
        match Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(fake) => fake,
            Err(err) => panic!("FakeOllama could not bind 127.0.0.1:0: {err}"),
        }
    }

    /// Starts on `addr`.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let script = Arc::new(Script::new());
        script.serve(listener, app(Arc::clone(&script)), "FakeOllama");
        Ok(Self { addr, script })
    }

    /// `http://127.0.0.1:<port>`, the value for a provider's `baseUrl`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn app(script: Arc<Script>) -> Router {
    Router::new()
        .route("/api/chat", post(chat))
        .route("/api/tags", get(tags))
        .route("/api/version", get(version))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(script)
}

fn ollama_error(status: u16, message: &str) -> Response {
    error_response(status, &json!({ "error": message }), &[])
}

/// The 401 when a key is required and the request does not present it.
fn reject_unauthorized(script: &Script, headers: &HeaderMap) -> Option<Response> {
    let required = script.required_key()?;
    match bearer(headers) {
        Some(key) if key == required.as_str() => None,
        _ => Some(ollama_error(401, "unauthorized")),
    }
}

/// Ollama's answers to the vendor-neutral failures.
fn failure_response(failure: Failure) -> Response {
    match failure {
        Failure::RateLimited { retry_after_secs } => error_response(
            429,
            &json!({ "error": "you have reached your request limit, please try again later" }),
            &[("retry-after".to_owned(), retry_after_secs.to_string())],
        ),
        Failure::Overloaded => ollama_error(
            503,
            "server busy, please try again.  maximum pending requests exceeded",
        ),
        Failure::ServerError => {
            ollama_error(500, "llama runner process has terminated: exit status 2")
        }
        Failure::ContextTooLong => ollama_error(400, "the input length exceeds the context length"),
        Failure::Unauthorized => ollama_error(401, "unauthorized"),
    }
}

/// The name as Ollama resolves it: no tag means `:latest`.
fn full_name(model: &str) -> String {
    if model.contains(':') {
        model.to_owned()
    } else {
        format!("{model}:latest")
    }
}

async fn chat(
    State(script): State<Arc<Script>>,
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
    if let Some(rejection) = reject_unauthorized(&script, &headers) {
        return rejection;
    }
    let request = match parsed {
        Ok(request @ Value::Object(_)) => request,
        _ => return ollama_error(400, "invalid character 'x' looking for beginning of value"),
    };
    let Some(model) = request["model"].as_str().filter(|m| !m.is_empty()) else {
        return ollama_error(400, "model is required");
    };
    if !pulled(&script).contains(&full_name(model)) {
        return ollama_error(
            404,
            &format!("model \"{model}\" not found, try pulling it first"),
        );
    }
    let facts = RequestFacts::read(&request);
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
        Play::Cut(text) => return cut_after(&facts.model, &text),
        Play::Stall => {
            return stalled(
                &script,
                if facts.stream {
                    NDJSON
                } else {
                    "application/json; charset=utf-8"
                },
            );
        }
        Play::ShutDown => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let rendered = Rendered::of(answer, &facts);
    if facts.stream {
        ndjson_response(frames_body(
            stream_lines(&facts, &rendered).iter().map(line).collect(),
        ))
    } else {
        json_response(StatusCode::OK, &whole_response(&facts, &rendered))
    }
}

/// The pulled models, by full name.
fn pulled(script: &Script) -> Vec<String> {
    script
        .models(&FakeOllama::MODELS)
        .iter()
        .map(|name| full_name(name))
        .collect()
}

async fn tags(State(script): State<Arc<Script>>, uri: Uri, headers: HeaderMap) -> Response {
    script.record(uri.path(), &headers, Value::Null);
    if let Some(rejection) = reject_unauthorized(&script, &headers) {
        return rejection;
    }
    if let Some(failed) = script.listing_failure(failure_response).await {
        return failed;
    }
    let models: Vec<Value> = pulled(&script)
        .iter()
        .map(|name| {
            let family = name.split(':').next().unwrap_or(name.as_str());
            json!({
                "name": name,
                "model": name,
                "modified_at": CREATED_AT,
                "size": 2_019_393_189u64,
                "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": family,
                    "families": [family],
                    "parameter_size": "3.2B",
                    "quantization_level": "Q4_K_M",
                },
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "models": models }))
}

async fn version(State(script): State<Arc<Script>>, uri: Uri, headers: HeaderMap) -> Response {
    script.record(uri.path(), &headers, Value::Null);
    json_response(StatusCode::OK, &json!({ "version": VERSION }))
}

async fn unknown_route(
    State(script): State<Arc<Script>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    script.record(uri.path(), &headers, Value::Null);
    let mut response = Response::new(Body::from("404 page not found"));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// What the reply needs from the request, read once.
#[derive(Debug)]
struct RequestFacts {
    model: String,
    stream: bool,
    num_predict: Option<u64>,
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
                    .map(|c| c["function"]["arguments"].to_string().chars().count())
                    .sum();
                m["content"].as_str().map_or(0, |c| c.chars().count()) + calls
            })
            .sum();
        let last_user_text = messages
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default()
            .to_owned();
        Self {
            model: request["model"].as_str().unwrap_or_default().to_owned(),
            stream: request["stream"].as_bool().unwrap_or(true),
            num_predict: request["options"]["num_predict"]
                .as_u64()
                .filter(|n| *n > 0),
            prompt_chars,
            last_user_text,
        }
    }
}

/// The answer as Ollama would produce it: parsed calls, the text cut at `num_predict`.
#[derive(Debug)]
struct Rendered {
    thinking: String,
    text: String,
    calls: Vec<Value>,
    chunk_chars: usize,
    done_reason: &'static str,
    prompt_eval_count: u64,
    eval_count: u64,
}

impl Rendered {
    fn of(answer: Answer, facts: &RequestFacts) -> Self {
        let output_chars = answer.output_chars();
        let Answer {
            thinking,
            mut text,
            tool_calls,
            chunk_chars,
            ..
        } = answer;
        let mut calls = Vec::new();
        for (index, call) in tool_calls.into_iter().enumerate() {
            match serde_json::from_str::<Map<String, Value>>(&call.arguments) {
                Ok(arguments) => calls.push(json!({
                    "function": { "index": index, "name": call.name, "arguments": arguments },
                })),
                Err(_) => text.push_str(&call.arguments),
            }
        }
        let mut eval_count = output_tokens(output_chars);
        let mut done_reason = "stop";
        if let Some(limit) = facts.num_predict
            && eval_count > limit
        {
            let keep = usize::try_from(limit.saturating_mul(4)).unwrap_or(usize::MAX);
            if let Some((cut, _)) = text.char_indices().nth(keep) {
                text.truncate(cut);
            }
            calls.clear();
            eval_count = limit;
            done_reason = "length";
        }
        Self {
            thinking,
            text,
            calls,
            chunk_chars,
            done_reason,
            prompt_eval_count: prompt_tokens(facts.prompt_chars),
            eval_count,
        }
    }
}

fn message_line(model: &str, message: Value) -> Value {
    json!({ "model": model, "created_at": CREATED_AT, "message": message, "done": false })
}

fn done_line(facts: &RequestFacts, rendered: &Rendered, message: Value) -> Value {
    json!({
        "model": facts.model,
        "created_at": CREATED_AT,
        "message": message,
        "done": true,
        "done_reason": rendered.done_reason,
        "total_duration": 4_883_583_458u64,
        "load_duration": 1_334_875,
        "prompt_eval_count": rendered.prompt_eval_count,
        "prompt_eval_duration": 342_546_000,
        "eval_count": rendered.eval_count,
        "eval_duration": 4_535_599_000u64,
    })
}

fn stream_lines(facts: &RequestFacts, rendered: &Rendered) -> Vec<Value> {
    let mut lines = Vec::with_capacity(8);
    for piece in pieces(&rendered.thinking, rendered.chunk_chars) {
        lines.push(message_line(
            &facts.model,
            json!({ "role": "assistant", "content": "", "thinking": piece }),
        ));
    }
    for piece in pieces(&rendered.text, rendered.chunk_chars) {
        lines.push(message_line(
            &facts.model,
            json!({ "role": "assistant", "content": piece }),
        ));
    }
    if !rendered.calls.is_empty() {
        lines.push(message_line(
            &facts.model,
            json!({ "role": "assistant", "content": "", "tool_calls": rendered.calls }),
        ));
    }
    lines.push(done_line(
        facts,
        rendered,
        json!({ "role": "assistant", "content": "" }),
    ));
    lines
}

fn whole_response(facts: &RequestFacts, rendered: &Rendered) -> Value {
    let mut message = json!({ "role": "assistant", "content": rendered.text });
    if !rendered.thinking.is_empty() {
        message["thinking"] = json!(rendered.thinking);
    }
    if !rendered.calls.is_empty() {
        message["tool_calls"] = json!(rendered.calls);
    }
    done_line(facts, rendered, message)
}

fn line(value: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn ndjson_response(body: Body) -> Response {
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    response
}

/// Streams `text` in deltas, then drops the connection before the `done` line.
fn cut_after(model: &str, text: &str) -> Response {
    let lines = pieces(text, DEFAULT_CHUNK_CHARS)
        .map(|piece| {
            line(&message_line(
                model,
                json!({ "role": "assistant", "content": piece }),
            ))
        })
        .collect();
    ndjson_response(cut_stream(lines))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FakeToolCall, Reply};

    fn facts(num_predict: Option<u64>) -> RequestFacts {
        RequestFacts {
            model: "qwen3".to_owned(),
            stream: true,
            num_predict,
            prompt_chars: 40,
            last_user_text: String::new(),
        }
    }

    #[test]
    fn unparseable_arguments_become_text_and_num_predict_cuts() {
        let answer = Answer {
            text: "a".repeat(40),
            tool_calls: vec![
                FakeToolCall::new("ignored", "f", "{\"x\":1}"),
                FakeToolCall::new("ignored", "g", "{oops"),
            ],
            chunk_chars: 0,
            ..Answer::default()
        };
        let rendered = Rendered::of(answer.clone(), &facts(None));
        assert_eq!(rendered.calls.len(), 1);
        assert!(rendered.text.ends_with("{oops"));
        assert_eq!(
            rendered.calls[0]["function"]["arguments"],
            json!({ "x": 1 })
        );
        assert!(rendered.calls[0].get("id").is_none());
        assert_eq!(rendered.done_reason, "stop");

        let rendered = Rendered::of(answer, &facts(Some(2)));
        assert_eq!(rendered.text, "aaaaaaaa");
        assert!(rendered.calls.is_empty());
        assert_eq!((rendered.done_reason, rendered.eval_count), ("length", 2));
    }

    async fn chat(fake: &FakeOllama, body: Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/api/chat", fake.base_url()))
            .json(&body)
            .send()
            .await
            .expect("the fake answers")
    }

    #[tokio::test]
    async fn chat_streams_ndjson_by_default_and_answers_one_object_when_asked() {
        let fake = FakeOllama::start().await;
        fake.push(Reply::text_chunked("abcdef", 3));
        let request =
            json!({ "model": "llama3.2", "messages": [{ "role": "user", "content": "hi" }] });
        let response = chat(&fake, request.clone()).await;
        assert_eq!(response.headers()["content-type"], NDJSON);
        let text = response.text().await.unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["message"]["content"], "abc");
        assert_eq!(lines[0]["done"], false);
        assert_eq!(lines[2]["done"], true);
        assert_eq!(lines[2]["done_reason"], "stop");
        assert_eq!(lines[2]["eval_count"], 1);

        let mut request = request;
        request["stream"] = json!(false);
        fake.push(Reply::tool_calls([FakeToolCall::new(
            "x",
            "f",
            "{\"a\":1}",
        )]));
        let body: Value = chat(&fake, request).await.json().await.unwrap();
        assert_eq!(body["done"], true);
        assert_eq!(
            body["message"]["tool_calls"],
            json!([{ "function": { "index": 0, "name": "f", "arguments": { "a": 1 } } }])
        );
    }

    #[tokio::test]
    async fn only_pulled_models_answer_and_tags_lists_them() {
        let fake = FakeOllama::start().await;
        let response = chat(&fake, json!({ "model": "phi4", "messages": [] })).await;
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "error": "model \"phi4\" not found, try pulling it first" })
        );

        let client = reqwest::Client::new();
        let tags: Value = client
            .get(format!("{}/api/tags", fake.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = tags["models"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["name"].as_str())
            .collect();
        assert_eq!(names, FakeOllama::MODELS);
        let missing = client
            .get(format!("{}/v1/whatever", fake.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        assert_eq!(missing.text().await.unwrap(), "404 page not found");
    }

    #[test]
    fn names_without_a_tag_mean_latest() {
        assert_eq!(full_name("qwen3"), "qwen3:latest");
        assert_eq!(full_name("qwen3:8b"), "qwen3:8b");
    }

    #[test]
    fn request_facts_default_to_streaming() {
        let facts = RequestFacts::read(&json!({
            "model": "llava",
            "messages": [
                { "role": "user", "content": "abcd", "images": ["xxxx"] },
                { "role": "assistant", "content": "", "tool_calls": [{ "function": { "name": "f", "arguments": {} } }] },
            ],
        }));
        assert!(facts.stream);
        assert_eq!(facts.prompt_chars, 6);
        assert_eq!(facts.last_user_text, "abcd");
    }
}
