//! The `openai-completions` provider against `FakeOpenAi`, over real loopback HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hearth_config::ApiKind;
use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason};
use hearth_providers::{
    EventStream, ModelRequest, Provider, ProviderError, ProviderSettings, StreamEvent,
    TimeoutPhase, Timeouts, ToolSpec, build, http_client,
};
use hearth_test_utils::{FakeOpenAi, FakeToolCall, Reply};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-test-4f9a2c7e1b";

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

fn provider_with(fake: &FakeOpenAi, timeouts: Timeouts) -> Arc<dyn Provider> {
    build(settings(fake.base_url(), timeouts), http_client()).expect("provider builds")
}

fn provider(fake: &FakeOpenAi) -> Arc<dyn Provider> {
    provider_with(fake, Timeouts::default())
}

fn ask(text: &str) -> ModelRequest {
    ModelRequest::new("gpt-4o-mini", vec![Message::user(text)])
}

/// Every event until the stream ends, and the error that ended it, if any.
async fn drain(mut events: EventStream) -> (Vec<StreamEvent>, Option<ProviderError>) {
    let mut seen = Vec::new();
    while let Some(item) = events.next().await {
        match item {
            Ok(event) => seen.push(event),
            Err(err) => {
                assert!(
                    events.next().await.is_none(),
                    "the stream must end after an error"
                );
                return (seen, Some(err));
            }
        }
    }
    (seen, None)
}

fn text_deltas(events: &[StreamEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn completion(events: &[StreamEvent]) -> &hearth_providers::Completion {
    match events.last() {
        Some(StreamEvent::Completed(done)) => done,
        other => panic!("the last event is not Completed: {other:?}"),
    }
}

async fn call_error(provider: &dyn Provider, request: ModelRequest) -> ProviderError {
    match provider.stream(request, CancellationToken::new()).await {
        Ok(events) => drain(events).await.1.expect("the call fails"),
        Err(err) => err,
    }
}

#[tokio::test]
async fn streamed_text_arrives_as_ordered_deltas() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::text_chunked("Hello there, how are you today?", 3));
    let events = provider(&fake)
        .stream(ask("hi"), CancellationToken::new())
        .await
        .unwrap();
    let (events, err) = drain(events).await;
    assert_eq!(err, None);
    let deltas = text_deltas(&events);
    assert_eq!(deltas.len(), 11);
    assert_eq!(deltas.concat(), "Hello there, how are you today?");
    let done = completion(&events);
    assert_eq!(done.message.role, Role::Assistant);
    assert_eq!(done.message.plain_text(), "Hello there, how are you today?");
    assert_eq!(done.stop_reason, StopReason::Stop);
    assert_eq!(done.message.model.as_deref(), Some("fake/gpt-4o-mini"));
    assert!(
        done.response_id
            .as_deref()
            .is_some_and(|id| id.starts_with("chatcmpl-"))
    );

    let request = fake.last_request().unwrap();
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

#[tokio::test]
async fn usage_counts_cached_prompt_tokens_apart() {
    let fake = FakeOpenAi::start().await;
    fake.set_cached_tokens(4);
    fake.push(Reply::text("twelve chars"));
    let done = provider(&fake)
        .complete(ask(&"x".repeat(40)), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        (done.usage.input, done.usage.cache_read, done.usage.output),
        (6, 4, 3)
    );
    assert_eq!(done.usage.cache_write, 0);
    assert_eq!(done.message.usage, Some(done.usage));
    assert_eq!(done.message.stop_reason, Some(StopReason::Stop));
}

#[tokio::test]
async fn the_default_reply_echoes_the_last_user_message() {
    let fake = FakeOpenAi::start().await;
    let provider = provider(&fake);
    let done = provider
        .complete(ask("ping"), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "echo: ping");
    fake.set_default(Reply::text("fixed"));
    let done = provider
        .complete(ask("ping"), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "fixed");
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn parallel_tool_calls_are_assembled_from_fragments() {
    let fake = FakeOpenAi::start().await;
    let weather = r#"{"city":"Paris","unit":"celsius"}"#;
    let time = r#"{"timezone":"Europe/Paris"}"#;
    fake.push(Reply::tool_calls([
        FakeToolCall::new("call_weather", "get_weather", weather),
        FakeToolCall::new("call_time", "get_time", time),
    ]));
    let events = provider(&fake)
        .stream(ask("weather and time?"), CancellationToken::new())
        .await
        .unwrap();
    let (events, err) = drain(events).await;
    assert_eq!(err, None);

    let starts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallStart { id, name } => Some((id.as_str(), name.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        starts,
        [("call_weather", "get_weather"), ("call_time", "get_time")]
    );
    for (id, arguments) in [("call_weather", weather), ("call_time", time)] {
        let fragments: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCallDelta {
                    id: of,
                    arguments_delta,
                } if of == id => Some(arguments_delta.as_str()),
                _ => None,
            })
            .collect();
        assert!(fragments.len() > 2, "{id}: arguments arrive in fragments");
        assert_eq!(fragments.concat(), arguments);
    }

    let done = completion(&events);
    assert_eq!(done.stop_reason, StopReason::ToolUse);
    let calls: Vec<_> = done
        .message
        .tool_calls()
        .map(|(id, name, args)| (id, name, args.clone()))
        .collect();
    assert_eq!(
        calls,
        [
            (
                "call_weather",
                "get_weather",
                json!({ "city": "Paris", "unit": "celsius" })
            ),
            (
                "call_time",
                "get_time",
                json!({ "timezone": "Europe/Paris" })
            ),
        ]
    );
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
async fn thinking_streams_before_the_answer() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::thinking(
        "The user greets me; greet back politely.",
        "Hello!",
    ));
    let events = provider(&fake)
        .stream(ask("hello"), CancellationToken::new())
        .await
        .unwrap();
    let (events, err) = drain(events).await;
    assert_eq!(err, None);
    let thinking: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ThinkingDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(thinking, "The user greets me; greet back politely.");
    let first_text = events
        .iter()
        .position(|e| matches!(e, StreamEvent::TextDelta(_)))
        .unwrap();
    assert!(matches!(events[0], StreamEvent::ThinkingDelta(_)) && first_text > 1);
    let done = completion(&events);
    assert_eq!(
        done.message.content,
        [
            ContentBlock::Thinking {
                thinking: "The user greets me; greet back politely.".to_owned(),
                signature: None
            },
            ContentBlock::Text {
                text: "Hello!".to_owned()
            },
        ]
    );
}

#[tokio::test]
async fn images_are_sent_as_data_urls() {
    let fake = FakeOpenAi::start().await;
    let mut message = Message::user("What is in this picture?");
    message.content.push(ContentBlock::Image {
        mime_type: "image/png".to_owned(),
        data: "iVBORw0KGgoAAAANSUhEUg==".to_owned(),
    });
    let done = provider(&fake)
        .complete(
            ModelRequest::new("gpt-4o", vec![message]),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "echo: What is in this picture?");
    let body = fake.last_request().unwrap().body;
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

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_that_does_not_show_the_key() {
    let fake = FakeOpenAi::start().await;
    fake.require_key("sk-the-right-one");
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    let ProviderError::Auth { status, message } = &err else {
        panic!("not auth: {err:?}")
    };
    assert_eq!(*status, 401);
    assert!(
        message.starts_with("Incorrect API key provided"),
        "{message}"
    );
    assert!(!err.to_string().contains(KEY), "{err}");
    assert!(!format!("{err:?}").contains(KEY));
    assert!(!err.is_retryable());
    assert_eq!(err.kind(), "auth");
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
async fn rate_limits_carry_retry_after() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::rate_limited(7));
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(err.is_retryable());
    assert!(err.to_string().contains("Rate limit reached"), "{err}");
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::server_error());
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(
        matches!(err, ProviderError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(err.kind(), "server");
}

#[tokio::test]
async fn context_length_exceeded_is_not_retryable() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::context_too_long());
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(
        matches!(err, ProviderError::ContextTooLong { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(err.kind(), "context_too_long");
}

#[tokio::test]
async fn a_connection_cut_mid_stream_is_a_broken_stream_after_output() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::cut_after(
        "This answer will never be finished because",
    ));
    let events = provider(&fake)
        .stream(ask("hi"), CancellationToken::new())
        .await
        .unwrap();
    let (events, err) = drain(events).await;
    assert!(!text_deltas(&events).is_empty());
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, StreamEvent::Completed(_)))
    );
    let err = err.expect("the stream fails");
    assert!(
        matches!(
            err,
            ProviderError::StreamBroken {
                output_started: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn cancelling_mid_stream_ends_it_promptly() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::Stall);
    let cancel = CancellationToken::new();
    let mut events = provider(&fake)
        .stream(ask("hi"), cancel.clone())
        .await
        .unwrap();
    let canceller = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            cancel.cancel();
        }
    });
    let started = Instant::now();
    let first = events.next().await;
    assert_eq!(first, Some(Err(ProviderError::Cancelled)));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(events.next().await.is_none());
    canceller.await.unwrap();
}

#[tokio::test]
async fn cancelling_before_the_answer_starts_ends_the_call_promptly() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::delayed(Duration::from_secs(30), Reply::text("late")));
    let cancel = CancellationToken::new();
    let provider = provider(&fake);
    let started = Instant::now();
    let (result, ()) = tokio::join!(provider.stream(ask("hi"), cancel.clone()), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
    });
    assert_eq!(result.err(), Some(ProviderError::Cancelled));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    let already = provider.stream(ask("hi"), cancel).await;
    assert_eq!(already.err(), Some(ProviderError::Cancelled));
}

#[tokio::test]
async fn a_silent_provider_hits_the_first_byte_timeout() {
    let fake = FakeOpenAi::start().await;
    let timeouts = Timeouts {
        first_byte: Duration::from_millis(200),
        ..Timeouts::default()
    };
    let provider = provider_with(&fake, timeouts);

    fake.push(Reply::Stall);
    let err = call_error(provider.as_ref(), ask("hi")).await;
    assert_eq!(
        err,
        ProviderError::Timeout {
            phase: TimeoutPhase::FirstByte
        }
    );
    assert!(err.is_retryable());

    fake.push(Reply::delayed(Duration::from_secs(30), Reply::text("late")));
    let started = Instant::now();
    let err = call_error(provider.as_ref(), ask("hi")).await;
    assert_eq!(
        err,
        ProviderError::Timeout {
            phase: TimeoutPhase::FirstByte
        }
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_unreachable_provider_is_a_retryable_network_error() {
    let base_url = {
        let fake = FakeOpenAi::start().await;
        fake.base_url()
    };
    // The fake is gone; give its listener a moment to close.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let provider = build(settings(base_url, Timeouts::default()), http_client()).unwrap();
    let err = call_error(provider.as_ref(), ask("hi")).await;
    assert!(matches!(err, ProviderError::Network { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(!err.to_string().contains(KEY));
}

#[tokio::test]
async fn a_base_url_that_is_not_a_url_is_a_config_error() {
    let s = settings("not a url".to_owned(), Timeouts::default());
    assert_eq!(build(s, http_client()).unwrap_err().kind(), "config");
}

#[tokio::test]
async fn a_provider_shows_no_secret_in_debug() {
    let fake = FakeOpenAi::start().await;
    let provider = provider(&fake);
    let debug = format!("{provider:?}");
    assert!(!debug.contains(KEY), "{debug}");
    assert_eq!(provider.id(), "fake");
    assert_eq!(provider.api(), ApiKind::OpenaiCompletions);
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
