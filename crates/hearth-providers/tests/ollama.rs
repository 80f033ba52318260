//! The `ollama` provider against `FakeOllama`, over real loopback HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hearth_config::ApiKind;
use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason};
use hearth_providers::{
    Completion, EventStream, ModelRequest, Provider, ProviderError, ProviderSettings, StreamEvent,
    Timeouts, ToolSpec, build, http_client,
};
use hearth_test_utils::{FakeOllama, FakeToolCall, Reply};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const KEY: &str = "ollama-key-4f9a2c7e1b";
const MODEL: &str = "qwen3";

fn settings(base_url: String, api_key: Option<&str>) -> ProviderSettings {
    ProviderSettings {
        id: "local".to_owned(),
        api: ApiKind::Ollama,
        base_url,
        api_key: api_key.map(str::to_owned),
        headers: Vec::new(),
        timeouts: Timeouts::default(),
        auth_header: false,
    }
}

fn provider(fake: &FakeOllama) -> Arc<dyn Provider> {
    build(settings(fake.base_url(), None), http_client()).expect("provider builds")
}

fn ask(text: &str) -> ModelRequest {
    ModelRequest::new(MODEL, vec![Message::user(text)])
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

fn completion(events: &[StreamEvent]) -> &Completion {
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
    let fake = FakeOllama::start().await;
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
    assert_eq!(done.message.plain_text(), "Hello there, how are you today?");
    assert_eq!(done.stop_reason, StopReason::Stop);
    assert_eq!(done.message.model.as_deref(), Some("local/qwen3"));
    assert_eq!(done.response_id, None);

    let request = fake.last_request().unwrap();
    assert_eq!(request.path, "/api/chat");
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.body["stream"], true);
    assert_eq!(
        request.body["messages"],
        json!([{ "role": "user", "content": "hi" }])
    );
}

#[tokio::test]
async fn usage_comes_from_the_eval_counts() {
    let fake = FakeOllama::start().await;
    fake.push(Reply::text("twelve chars"));
    let done = provider(&fake)
        .complete(ask(&"x".repeat(40)), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        (done.usage.input, done.usage.output, done.usage.cache_read),
        (10, 3, 0)
    );
    assert_eq!(done.message.usage, Some(done.usage));
}

#[tokio::test]
async fn parallel_tool_calls_get_ids_that_map_back_to_their_results() {
    let fake = FakeOllama::start().await;
    fake.push(Reply::tool_calls([
        FakeToolCall::new("ignored", "get_weather", r#"{"city":"Paris"}"#),
        FakeToolCall::new("ignored", "get_time", r#"{"timezone":"Europe/Paris"}"#),
    ]));
    let provider = provider(&fake);
    let events = provider
        .stream(ask("weather and time?"), CancellationToken::new())
        .await
        .unwrap();
    let (events, err) = drain(events).await;
    assert_eq!(err, None);
    let starts: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallStart { id, name } => Some((id.clone(), name.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 2);
    assert_ne!(starts[0].0, starts[1].0);
    let done = completion(&events).clone();
    assert_eq!(done.stop_reason, StopReason::ToolUse);
    let calls: Vec<_> = done
        .message
        .tool_calls()
        .map(|(id, name, args)| (id.to_owned(), name.to_owned(), args.clone()))
        .collect();
    assert_eq!(
        calls,
        [
            (
                starts[0].0.clone(),
                "get_weather".to_owned(),
                json!({ "city": "Paris" })
            ),
            (
                starts[1].0.clone(),
                "get_time".to_owned(),
                json!({ "timezone": "Europe/Paris" })
            ),
        ]
    );

    // A result without a name still reaches Ollama named after its call.
    let (weather_id, time_id) = (&starts[0].0, &starts[1].0);
    let weather = Message::tool_result(weather_id.clone(), "get_weather", "sunny", false);
    let mut time = Message::tool_result(time_id.clone(), "", "12:00", false);
    time.tool_name = None;
    let follow_up = ModelRequest::new(
        MODEL,
        vec![
            Message::user("weather and time?"),
            done.message.clone(),
            weather,
            time,
        ],
    );
    provider
        .complete(follow_up, CancellationToken::new())
        .await
        .unwrap();
    let body = fake.last_request().unwrap().body;
    assert_eq!(
        body["messages"].as_array().unwrap()[1..],
        json!([
            { "role": "assistant", "content": "", "tool_calls": [
                { "function": { "name": "get_weather", "arguments": { "city": "Paris" } } },
                { "function": { "name": "get_time", "arguments": { "timezone": "Europe/Paris" } } },
            ] },
            { "role": "tool", "content": "sunny", "tool_name": "get_weather" },
            { "role": "tool", "content": "12:00", "tool_name": "get_time" },
        ])
        .as_array()
        .unwrap()[..]
    );
    assert!(!body.to_string().contains(weather_id.as_str()));
}

#[tokio::test]
async fn thinking_streams_before_the_answer() {
    let fake = FakeOllama::start().await;
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
    assert!(matches!(events[0], StreamEvent::ThinkingDelta(_)));
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
async fn images_are_sent_as_base64_in_images() {
    let fake = FakeOllama::start().await;
    let mut message = Message::user("What is in this picture?");
    message.content.push(ContentBlock::Image {
        mime_type: "image/png".to_owned(),
        data: "iVBORw0KGgoAAAANSUhEUg==".to_owned(),
    });
    let done = provider(&fake)
        .complete(
            ModelRequest::new("llava", vec![message]),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "echo: What is in this picture?");
    assert_eq!(
        fake.last_request().unwrap().body["messages"][0],
        json!({
            "role": "user",
            "content": "What is in this picture?",
            "images": ["iVBORw0KGgoAAAANSUhEUg=="],
        })
    );
}

#[tokio::test]
async fn max_tokens_is_num_predict_and_hitting_it_is_length() {
    let fake = FakeOllama::start().await;
    fake.push(Reply::text("a fairly long answer that will not fit"));
    let mut request = ask("talk");
    request.max_tokens = Some(2);
    let done = provider(&fake)
        .complete(request, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.stop_reason, StopReason::Length);
    assert_eq!(done.message.plain_text(), "a fairly");
    assert_eq!(
        fake.last_request().unwrap().body["options"],
        json!({ "num_predict": 2 })
    );
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_that_does_not_show_the_key() {
    let fake = FakeOllama::start().await;
    fake.require_key("the-right-one");
    let provider = build(settings(fake.base_url(), Some(KEY)), http_client()).unwrap();
    let err = call_error(provider.as_ref(), ask("hi")).await;
    assert_eq!(
        err,
        ProviderError::Auth {
            status: 401,
            message: "unauthorized".to_owned()
        }
    );
    assert!(!err.to_string().contains(KEY));
    assert_eq!(
        fake.last_request().unwrap().header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(!format!("{provider:?}").contains(KEY));
}

#[tokio::test]
async fn rate_limits_carry_retry_after() {
    let fake = FakeOllama::start().await;
    fake.push(Reply::rate_limited(7));
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_busy_server_is_overloaded_and_retryable() {
    let fake = FakeOllama::start().await;
    fake.push(Reply::overloaded());
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(matches!(err, ProviderError::Overloaded { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_failed_runner_is_a_retryable_server_error() {
    let fake = FakeOllama::start().await;
    fake.push(Reply::server_error());
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(
        matches!(err, ProviderError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn exceeding_the_context_length_is_context_too_long() {
    let fake = FakeOllama::start().await;
    fake.push(Reply::context_too_long());
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(
        matches!(err, ProviderError::ContextTooLong { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_model_that_is_not_pulled_says_how_to_pull_it() {
    let fake = FakeOllama::start().await;
    let err = call_error(
        provider(&fake).as_ref(),
        ModelRequest::new("mistral-nemo", vec![Message::user("hi")]),
    )
    .await;
    assert!(
        matches!(err, ProviderError::InvalidRequest { status: 404, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("`ollama pull mistral-nemo`"),
        "{err}"
    );
}

#[tokio::test]
async fn an_error_line_in_the_stream_is_mapped() {
    let fake = FakeOllama::start().await;
    fake.push(Reply::error(
        200,
        json!({ "error": "an error was encountered while running the model: unexpected EOF" }),
    ));
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert_eq!(
        err,
        ProviderError::StreamBroken {
            message: "Ollama reported an error: an error was encountered while running the \
                      model: unexpected EOF"
                .to_owned(),
            output_started: false
        }
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_connection_cut_mid_stream_is_a_broken_stream_after_output() {
    let fake = FakeOllama::start().await;
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
}

#[tokio::test]
async fn cancelling_mid_stream_ends_it_promptly() {
    let fake = FakeOllama::start().await;
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
async fn nothing_listening_says_ollama_is_not_running() {
    let base_url = {
        let fake = FakeOllama::start().await;
        fake.base_url()
    };
    // The fake is gone; give its listener a moment to close.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let provider = build(settings(base_url, None), http_client()).unwrap();
    let err = call_error(provider.as_ref(), ask("hi")).await;
    assert!(matches!(err, ProviderError::Network { .. }), "{err:?}");
    assert!(err.to_string().contains("`ollama serve`"), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn build_returns_the_ollama_provider() {
    let fake = FakeOllama::start().await;
    let provider = provider(&fake);
    assert_eq!(provider.api(), ApiKind::Ollama);
    assert_eq!(provider.id(), "local");
}

#[tokio::test]
async fn the_request_body_for_a_tool_round_trip() {
    let fake = FakeOllama::start().await;
    let mut user = Message::user("What do my notes and this photo say?");
    user.content.push(ContentBlock::Image {
        mime_type: "image/jpeg".to_owned(),
        data: "/9j/4AAQSkZJRg==".to_owned(),
    });
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
        model: "llava".to_owned(),
        system: Some("You are Hearth's assistant.".to_owned()),
        messages: vec![
            user,
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
