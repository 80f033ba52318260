//! The `openai-completions` provider against `FakeOpenAi`.

use std::sync::Arc;
use std::time::Duration;

use hearth_config::ApiKind;
use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason, Usage};
use hearth_providers::{
    ModelRequest, Provider, ProviderError, ProviderSettings, RemoteModel, TimeoutPhase, Timeouts,
    ToolSpec, build, http_client,
};
use hearth_test_utils::{FakeOpenAi, FakeToolCall, RecordedRequest, Reply};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::conformance::{self, Api, call_error, conformance, drain, text_deltas};

const KEY: &str = "sk-test-4f9a2c7e1b";

struct OpenAiCompletions;

impl Api for OpenAiCompletions {
    type Fake = FakeOpenAi;
    const KIND: ApiKind = ApiKind::OpenaiCompletions;
    const ID: &'static str = "fake";
    const KEY: &'static str = KEY;
    const OTHER_KEY: &'static str = "sk-the-right-one";
    const MODEL: &'static str = "gpt-4o-mini";
    const IMAGE_MODEL: &'static str = "gpt-4o";
    const RESPONSE_ID_PREFIX: Option<&'static str> = Some("chatcmpl-");
    const RATE_LIMIT_MESSAGE: Option<&'static str> = Some("Rate limit reached");
    const LISTED: &'static [&'static str] = &["gpt-4o", "gpt-4o-mini", "o3-mini"];

    fn settings(base_url: String, timeouts: Timeouts) -> ProviderSettings {
        ProviderSettings {
            id: "fake".to_owned(),
            api: ApiKind::OpenaiCompletions,
            base_url,
            api_key: Some(KEY.to_owned()),
            headers: vec![("X-Title".to_owned(), "hearth-tests".to_owned())],
            timeouts,
            auth_header: false,
        }
    }

    fn check_streamed_text_request(request: &RecordedRequest) {
        assert_eq!(request.path, "/v1/chat/completions");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(request.header("x-title"), Some("hearth-tests"));
        assert!(
            request
                .header("user-agent")
                .is_some_and(|ua| ua.starts_with("hearth/"))
        );
        assert_eq!(request.body["stream"], true);
        assert_eq!(
            request.body["stream_options"],
            json!({ "include_usage": true })
        );
    }

    fn usage_scenario(fake: &FakeOpenAi) -> (Reply, Usage) {
        fake.set_cached_tokens(4);
        let usage = Usage {
            input: 6,
            output: 3,
            cache_read: 4,
            cache_write: 0,
            cost: None,
        };
        (Reply::text("twelve chars"), usage)
    }

    fn check_image_request(body: &Value) {
        assert_eq!(
            body["messages"][0],
            json!({
                "role": "user",
                "content": [
                    { "type": "text", "text": "What is in this picture?" },
                    { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==" } },
                ],
            })
        );
    }

    fn check_thinking_signature(_thought: &str, signature: Option<&str>) {
        assert_eq!(signature, None);
    }

    fn check_listing(models: &[RemoteModel], request: &RecordedRequest) {
        assert_eq!(request.path, "/v1/models");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(request.header("x-title"), Some("hearth-tests"));
        assert_eq!(request.header("accept"), Some("application/json"));
        assert_eq!(request.header("content-type"), None);
        assert!(
            models
                .iter()
                .all(|m| m.name.is_none() && m.context_window.is_none())
        );
    }

    fn check_wrong_key(err: &ProviderError, _request: &RecordedRequest) {
        let ProviderError::Auth { status, message } = err else {
            panic!("not auth: {err:?}")
        };
        assert_eq!(*status, 401);
        assert!(
            message.starts_with("Incorrect API key provided"),
            "{message}"
        );
    }
}

conformance!(OpenAiCompletions:
    streamed_text_arrives_as_ordered_deltas,
    usage_is_counted_as_the_api_reports_it,
    the_default_reply_echoes_the_last_user_message,
    parallel_tool_calls_are_assembled_from_fragments,
    thinking_streams_before_the_answer,
    images_are_sent_in_the_api_shape,
    a_wrong_key_is_an_auth_error_that_does_not_show_the_key,
    rate_limits_carry_retry_after,
    overloaded_is_retryable_overload,
    server_errors_are_retryable,
    context_too_long_is_not_retryable,
    a_connection_cut_mid_stream_is_a_broken_stream_after_output,
    cancelling_mid_stream_ends_it_promptly,
    cancelling_before_the_answer_starts_ends_the_call_promptly,
    a_silent_provider_hits_the_first_byte_timeout,
    an_unreachable_provider_is_a_retryable_network_error,
    a_base_url_that_is_not_a_url_is_a_config_error,
    build_returns_the_provider_without_secrets_in_debug,
    models_are_listed_sorted_and_deduplicated,
    a_wrong_key_fails_the_listing_as_an_auth_error,
    listing_failures_are_classified_like_calls,
    a_silent_listing_times_out_and_a_cancelled_one_ends_promptly,
    an_unreachable_provider_fails_the_listing_as_a_network_error,
);

fn settings(base_url: String, timeouts: Timeouts) -> ProviderSettings {
    OpenAiCompletions::settings(base_url, timeouts)
}

fn provider(fake: &FakeOpenAi) -> Arc<dyn Provider> {
    conformance::provider::<OpenAiCompletions>(fake)
}

fn ask(text: &str) -> ModelRequest {
    conformance::ask::<OpenAiCompletions>(text)
}

#[tokio::test]
async fn invalid_tool_arguments_are_kept_as_a_string() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::tool_calls([FakeToolCall::new(
        "call_1",
        "read",
        r#"{"path": "a.txt""#,
    )]));
    let done = provider(&fake)
        .complete(ask("read it"), CancellationToken::new())
        .await
        .unwrap();
    let (_, _, arguments) = done.message.tool_calls().next().unwrap();
    assert_eq!(arguments, &json!(r#"{"path": "a.txt""#));
    assert_eq!(done.stop_reason, StopReason::ToolUse);
}

#[tokio::test]
async fn a_key_echoed_in_an_error_body_is_scrubbed() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::error(
        401,
        json!({ "error": { "message": format!("key {KEY} is revoked"), "type": "invalid_request_error", "param": null, "code": "invalid_api_key" } }),
    ));
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert_eq!(
        err,
        ProviderError::Auth {
            status: 401,
            message: "key [redacted] is revoked".to_owned()
        }
    );
    assert!(!err.to_string().contains(KEY));
}

#[tokio::test]
async fn the_request_body_for_a_tool_round_trip() {
    let fake = FakeOpenAi::start().await;
    let mut assistant = Message::new(
        Role::Assistant,
        vec![
            ContentBlock::Thinking {
                thinking: "I should look.".to_owned(),
                signature: None,
            },
            ContentBlock::Text {
                text: "Let me check.".to_owned(),
            },
            ContentBlock::ToolCall {
                id: "call_1".to_owned(),
                name: "read_file".to_owned(),
                arguments: json!({ "path": "notes.md" }),
            },
        ],
    );
    assistant.stop_reason = Some(StopReason::ToolUse);
    let request = ModelRequest {
        model: "gpt-4o".to_owned(),
        system: Some("You are Hearth's assistant.".to_owned()),
        messages: vec![
            Message::user("What do my notes say?"),
            assistant,
            Message::tool_result("call_1", "read_file", "Buy milk.", false),
        ],
        tools: vec![ToolSpec {
            name: "read_file".to_owned(),
            description: "Reads a file from the workspace.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": { "path": { "type": "string" } },
                "required": ["path"],
            }),
        }],
        max_tokens: Some(1024),
        temperature: Some(0.5),
    };
    provider(&fake)
        .complete(request, CancellationToken::new())
        .await
        .unwrap();
    insta::assert_json_snapshot!("tool_round_trip_request", fake.last_request().unwrap().body);
}

/// A bare HTTP/1.1 server for what the fake cannot script: it answers every request on a
/// connection with `events` as a chunked SSE body, then either ends the body or goes silent.
struct RawServer {
    base_url: String,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

async fn raw_server(events: &'static [&'static str], go_silent: bool) -> RawServer {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base_url = format!(
        "http://{}/v1",
        listener.local_addr().expect("bound address")
    );
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let head_end = loop {
                        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        let mut tmp = [0u8; 4096];
                        match socket.read(&mut tmp).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().expect("content-length is a number"));
                    while buf.len() < head_end + length {
                        let mut tmp = [0u8; 4096];
                        match socket.read(&mut tmp).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        }
                    }
                    buf.drain(..head_end + length);
                    let mut out = String::from(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
                    );
                    for event in events {
                        out.push_str(&format!("{:x}\r\n{event}\r\n", event.len()));
                    }
                    if !go_silent {
                        out.push_str("0\r\n\r\n");
                    }
                    if socket.write_all(out.as_bytes()).await.is_err() {
                        return;
                    }
                    if go_silent {
                        std::future::pending::<()>().await;
                    }
                }
            });
        }
    });
    RawServer {
        base_url,
        connections,
    }
}

const HELLO: &str =
    "data: {\"id\":\"r\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";

#[tokio::test]
async fn a_stream_that_goes_quiet_hits_the_idle_timeout() {
    let server = raw_server(&[HELLO], true).await;
    let timeouts = Timeouts {
        idle: Duration::from_millis(200),
        ..Timeouts::default()
    };
    let provider = build(settings(server.base_url, timeouts), http_client()).unwrap();
    let events = provider
        .stream(ask("hi"), CancellationToken::new())
        .await
        .unwrap();
    let (events, err) = drain(events).await;
    assert_eq!(text_deltas(&events), ["Hel"]);
    assert_eq!(
        err,
        Some(ProviderError::Timeout {
            phase: TimeoutPhase::Idle
        })
    );
}

#[tokio::test]
async fn sequential_calls_reuse_one_pooled_connection() {
    let server = raw_server(
        &[
            HELLO,
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: [DONE]\n\n",
        ],
        false,
    )
    .await;
    let provider = build(
        settings(server.base_url, Timeouts::default()),
        http_client(),
    )
    .unwrap();
    for _ in 0..3 {
        let done = provider
            .complete(ask("hi"), CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(done.message.plain_text(), "Hel");
        // The connection goes back to the pool when hyper's connection task sees the body end,
        // just after the answer completes.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        server.connections.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn a_json_answer_instead_of_a_stream_is_reported() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::Error {
        status: 200,
        body: json!({ "error": { "message": "upstream quota exhausted", "type": "rate_limit_error", "code": null } }),
        headers: Vec::new(),
    });
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert_eq!(
        err,
        ProviderError::RateLimited {
            retry_after: None,
            message: "upstream quota exhausted".to_owned()
        }
    );
    fake.push(Reply::error(
        200,
        json!({ "object": "chat.completion", "choices": [] }),
    ));
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert_eq!(err.kind(), "decode");
    assert!(
        err.to_string().contains("instead of an event stream"),
        "{err}"
    );
}
