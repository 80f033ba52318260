//! The `openai-responses` provider against `FakeOpenAiResponses`, over real loopback HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hearth_config::ApiKind;
use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason, Usage};
use hearth_providers::{
    EventStream, ModelRequest, Provider, ProviderError, ProviderSettings, StreamEvent, Timeouts,
    ToolSpec, build, http_client,
};
use hearth_test_utils::{FakeOpenAiResponses, FakeToolCall, Reply};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-proj-test-5b8c1e0f2a";

fn settings(base_url: String) -> ProviderSettings {
    ProviderSettings {
        id: "openai".to_owned(),
        api: ApiKind::OpenaiResponses,
        base_url,
        api_key: Some(KEY.to_owned()),
        headers: vec![("OpenAI-Organization".to_owned(), "org-hearth".to_owned())],
        timeouts: Timeouts::default(),
        auth_header: false,
    }
}

fn provider(fake: &FakeOpenAiResponses) -> Arc<dyn Provider> {
    build(settings(fake.base_url()), http_client()).expect("provider builds")
}

fn ask(text: &str) -> ModelRequest {
    ModelRequest::new("gpt-5", vec![Message::user(text)])
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
    let fake = FakeOpenAiResponses::start().await;
    fake.require_key(KEY);
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
    assert_eq!(done.message.model.as_deref(), Some("openai/gpt-5"));
    assert!(
        done.response_id
            .as_deref()
            .is_some_and(|id| id.starts_with("resp_"))
    );

    let request = fake.last_request().unwrap();
    assert_eq!(request.path, "/v1/responses");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(request.header("openai-organization"), Some("org-hearth"));
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["store"], false);
}

#[tokio::test]
async fn usage_counts_cached_input_tokens_apart() {
    let fake = FakeOpenAiResponses::start().await;
    fake.set_cached_tokens(4);
    fake.push(Reply::text("twelve chars"));
    let done = provider(&fake)
        .complete(ask(&"x".repeat(40)), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        done.usage,
        Usage {
            input: 6,
            output: 3,
            cache_read: 4,
            cache_write: 0,
            cost: None
        }
    );
    assert_eq!(done.message.usage, Some(done.usage));
}

#[tokio::test]
async fn parallel_tool_calls_are_assembled_from_fragments() {
    let fake = FakeOpenAiResponses::start().await;
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
async fn reasoning_summaries_stream_as_thinking_before_the_answer() {
    let fake = FakeOpenAiResponses::start().await;
    let thought = "The user greets me; greet back politely.";
    fake.push(Reply::thinking(thought, "Hello!"));
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
    assert_eq!(thinking, thought);
    let first_text = events
        .iter()
        .position(|e| matches!(e, StreamEvent::TextDelta(_)))
        .unwrap();
    assert!(matches!(events[0], StreamEvent::ThinkingDelta(_)) && first_text > 1);
    assert_eq!(
        completion(&events).message.content,
        [
            ContentBlock::Thinking {
                thinking: thought.to_owned(),
                signature: None,
            },
            ContentBlock::Text {
                text: "Hello!".to_owned()
            },
        ]
    );
}

#[tokio::test]
async fn images_are_sent_as_input_images() {
    let fake = FakeOpenAiResponses::start().await;
    let mut message = Message::user("What is in this picture?");
    message.content.push(ContentBlock::Image {
        mime_type: "image/png".to_owned(),
        data: "iVBORw0KGgoAAAANSUhEUg==".to_owned(),
    });
    let done = provider(&fake)
        .complete(
            ModelRequest::new("gpt-5", vec![message]),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "echo: What is in this picture?");
    let body = fake.last_request().unwrap().body;
    assert_eq!(
        body["input"][0],
        json!({
            "role": "user",
            "content": [
                { "type": "input_text", "text": "What is in this picture?" },
                { "type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==", "detail": "auto" },
            ],
        })
    );
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_that_does_not_show_the_key() {
    let fake = FakeOpenAiResponses::start().await;
    fake.require_key("sk-proj-the-right-one");
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
}

#[tokio::test]
async fn rate_limits_carry_retry_after() {
    let fake = FakeOpenAiResponses::start().await;
    fake.push(Reply::rate_limited(7));
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn an_overloaded_engine_is_retryable_overload() {
    let fake = FakeOpenAiResponses::start().await;
    fake.push(Reply::overloaded());
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(matches!(err, ProviderError::Overloaded { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let fake = FakeOpenAiResponses::start().await;
    fake.push(Reply::server_error());
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(
        matches!(err, ProviderError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn context_length_exceeded_is_not_retryable() {
    let fake = FakeOpenAiResponses::start().await;
    fake.push(Reply::context_too_long());
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(
        matches!(err, ProviderError::ContextTooLong { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_incomplete_response_stops_for_length() {
    let fake = FakeOpenAiResponses::start().await;
    fake.push(Reply::text("a long answer that does not fit in two tokens"));
    let mut request = ask("hi");
    request.max_tokens = Some(2);
    let done = provider(&fake)
        .complete(request, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.stop_reason, StopReason::Length);
    assert_eq!(done.message.plain_text(), "a long a");
    assert_eq!(fake.last_request().unwrap().body["max_output_tokens"], 2);
}

#[tokio::test]
async fn a_connection_cut_mid_stream_is_a_broken_stream_after_output() {
    let fake = FakeOpenAiResponses::start().await;
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
    let fake = FakeOpenAiResponses::start().await;
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
    assert_eq!(events.next().await, Some(Err(ProviderError::Cancelled)));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(events.next().await.is_none());
    canceller.await.unwrap();
}

#[tokio::test]
async fn build_returns_the_responses_provider_without_secrets_in_debug() {
    let fake = FakeOpenAiResponses::start().await;
    let provider = provider(&fake);
    assert_eq!(provider.api(), ApiKind::OpenaiResponses);
    assert_eq!(provider.id(), "openai");
    let debug = format!("{provider:?}");
    assert!(debug.contains("OpenAiResponses"), "{debug}");
    assert!(!debug.contains(KEY), "{debug}");

    let bad = settings("ftp://example.com/v1".to_owned());
    assert_eq!(build(bad, http_client()).unwrap_err().kind(), "config");
}

#[tokio::test]
async fn the_request_body_for_a_tool_round_trip() {
    let fake = FakeOpenAiResponses::start().await;
    let mut user = Message::user("What is in this picture, and what do my notes say?");
    user.content.push(ContentBlock::Image {
        mime_type: "image/jpeg".to_owned(),
        data: "/9j/4AAQSkZJRg==".to_owned(),
    });
    let mut assistant = Message::new(
        Role::Assistant,
        vec![
            ContentBlock::Thinking {
                thinking: "I should read the notes.".to_owned(),
                signature: None,
            },
            ContentBlock::Text {
                text: "A cat. Let me check the notes.".to_owned(),
            },
            ContentBlock::ToolCall {
                id: "call_01".to_owned(),
                name: "read_file".to_owned(),
                arguments: json!({ "path": "notes.md" }),
            },
            ContentBlock::ToolCall {
                id: "call_02".to_owned(),
                name: "read_file".to_owned(),
                arguments: json!({ "path": "todo.md" }),
            },
        ],
    );
    assistant.stop_reason = Some(StopReason::ToolUse);
    let request = ModelRequest {
        model: "gpt-5".to_owned(),
        system: Some("You are Hearth's assistant.".to_owned()),
        messages: vec![
            user,
            assistant,
            Message::tool_result("call_01", "read_file", "Buy milk.", false),
            Message::tool_result("call_02", "read_file", "no such file: todo.md", true),
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
