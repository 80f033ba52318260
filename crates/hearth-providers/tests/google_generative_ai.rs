//! The `google-generative-ai` provider against `FakeGemini`, over real loopback HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hearth_config::ApiKind;
use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason};
use hearth_providers::{
    Completion, EventStream, ModelRequest, Provider, ProviderError, ProviderSettings, StreamEvent,
    TimeoutPhase, Timeouts, ToolSpec, build, http_client,
};
use hearth_test_utils::{FakeGemini, FakeToolCall, Reply};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const KEY: &str = "AIzaSyFake-4f9a2c7e1b";
const MODEL: &str = "gemini-2.5-flash";

fn settings(base_url: String, timeouts: Timeouts) -> ProviderSettings {
    ProviderSettings {
        id: "google".to_owned(),
        api: ApiKind::GoogleGenerativeAi,
        base_url,
        api_key: Some(KEY.to_owned()),
        headers: Vec::new(),
        timeouts,
        auth_header: false,
    }
}

fn provider_with(fake: &FakeGemini, timeouts: Timeouts) -> Arc<dyn Provider> {
    build(settings(fake.base_url(), timeouts), http_client()).expect("provider builds")
}

fn provider(fake: &FakeGemini) -> Arc<dyn Provider> {
    provider_with(fake, Timeouts::default())
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
    let fake = FakeGemini::start().await;
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
    assert_eq!(
        done.message.model.as_deref(),
        Some("google/gemini-2.5-flash")
    );
    assert!(
        done.response_id
            .as_deref()
            .is_some_and(|id| id.starts_with("fake-gemini-"))
    );

    let request = fake.last_request().unwrap();
    assert_eq!(
        request.path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(request.header("x-goog-api-key"), Some(KEY));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.body["contents"],
        json!([{ "role": "user", "parts": [{ "text": "hi" }] }])
    );
}

#[tokio::test]
async fn usage_counts_cached_and_thought_tokens() {
    let fake = FakeGemini::start().await;
    fake.set_cached_tokens(4);
    fake.push(Reply::thinking("eight ch", "twelve chars"));
    let done = provider(&fake)
        .complete(ask(&"x".repeat(40)), CancellationToken::new())
        .await
        .unwrap();
    // Prompt 10 of which 4 cached; output = 3 answer + 2 thought tokens.
    assert_eq!(
        (done.usage.input, done.usage.cache_read, done.usage.output),
        (6, 4, 5)
    );
    assert_eq!(done.usage.cache_write, 0);
    assert_eq!(done.message.usage, Some(done.usage));
}

#[tokio::test]
async fn parallel_tool_calls_get_ids_that_map_back_to_their_results() {
    let fake = FakeGemini::start().await;
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
    assert_eq!(
        (starts[0].1.as_str(), starts[1].1.as_str()),
        ("get_weather", "get_time")
    );
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
    let ContentBlock::Thinking {
        signature: Some(signature),
        ..
    } = &done.message.content[0]
    else {
        panic!("the turn's signature is kept: {:?}", done.message.content)
    };

    // Results come back in the other order and without names; Gemini needs them in call order.
    let (weather_id, time_id) = (&starts[0].0, &starts[1].0);
    let mut time = Message::tool_result(time_id.clone(), "", "12:00", false);
    time.tool_name = None;
    let weather = Message::tool_result(weather_id.clone(), "get_weather", "sunny", false);
    let follow_up = ModelRequest::new(
        MODEL,
        vec![
            Message::user("weather and time?"),
            done.message.clone(),
            time,
            weather,
        ],
    );
    provider
        .complete(follow_up, CancellationToken::new())
        .await
        .unwrap();
    let body = fake.last_request().unwrap().body;
    assert_eq!(
        body["contents"][1],
        json!({ "role": "model", "parts": [
            { "functionCall": { "name": "get_weather", "args": { "city": "Paris" } }, "thoughtSignature": signature },
            { "functionCall": { "name": "get_time", "args": { "timezone": "Europe/Paris" } } },
        ] })
    );
    assert_eq!(
        body["contents"][2],
        json!({ "role": "user", "parts": [
            { "functionResponse": { "name": "get_weather", "response": { "output": "sunny" } } },
            { "functionResponse": { "name": "get_time", "response": { "output": "12:00" } } },
        ] })
    );
    assert!(!body.to_string().contains(weather_id.as_str()));
}

#[tokio::test]
async fn thinking_streams_before_the_answer() {
    let fake = FakeGemini::start().await;
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
    let [
        ContentBlock::Thinking {
            thinking,
            signature: Some(_),
        },
        ContentBlock::Text { text },
    ] = done.message.content.as_slice()
    else {
        panic!("{:?}", done.message.content)
    };
    assert_eq!(
        (thinking.as_str(), text.as_str()),
        ("The user greets me; greet back politely.", "Hello!")
    );
    let body = fake.last_request().unwrap().body;
    assert_eq!(
        body["generationConfig"]["thinkingConfig"],
        json!({ "includeThoughts": true })
    );
}

#[tokio::test]
async fn images_are_sent_as_inline_data() {
    let fake = FakeGemini::start().await;
    let mut message = Message::user("What is in this picture?");
    message.content.push(ContentBlock::Image {
        mime_type: "image/png".to_owned(),
        data: "iVBORw0KGgoAAAANSUhEUg==".to_owned(),
    });
    let done = provider(&fake)
        .complete(
            ModelRequest::new(MODEL, vec![message]),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "echo: What is in this picture?");
    let body = fake.last_request().unwrap().body;
    assert_eq!(
        body["contents"][0],
        json!({
            "role": "user",
            "parts": [
                { "text": "What is in this picture?" },
                { "inlineData": { "mimeType": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg==" } },
            ],
        })
    );
}

#[tokio::test]
async fn tool_schemas_are_cut_down_to_what_gemini_accepts() {
    let fake = FakeGemini::start().await;
    let mut request = ask("list it");
    request.tools = vec![ToolSpec {
        name: "list_dir".to_owned(),
        description: "Lists a directory.".to_owned(),
        parameters: json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "path": { "type": "string", "format": "uri-reference" },
                "depth": { "type": ["integer", "null"], "exclusiveMinimum": 0 },
            },
            "required": ["path"],
        }),
    }];
    let done = provider(&fake)
        .complete(request, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "echo: list it");
    let body = fake.last_request().unwrap().body;
    assert_eq!(
        body["tools"][0]["functionDeclarations"][0]["parameters"],
        json!({
            "type": "object",
            "properties": {
                "path": { "type": "string" },
                "depth": { "type": "integer", "nullable": true },
            },
            "required": ["path"],
        })
    );
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_an_auth_error_that_does_not_show_the_key() {
    let fake = FakeGemini::start().await;
    fake.require_key("AIza-the-right-one");
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    // Gemini answers a wrong key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
    assert_eq!(
        err,
        ProviderError::Auth {
            status: 400,
            message: "API key not valid. Please pass a valid API key.".to_owned()
        }
    );
    assert!(!err.to_string().contains(KEY), "{err}");
    assert!(!format!("{err:?}").contains(KEY));
    assert!(!err.is_retryable());

    let mut keyless = settings(fake.base_url(), Timeouts::default());
    keyless.api_key = None;
    let keyless = build(keyless, http_client()).unwrap();
    let err = call_error(keyless.as_ref(), ask("hi")).await;
    assert!(
        matches!(err, ProviderError::Auth { status: 403, .. }),
        "{err:?}"
    );

    fake.push(Reply::error(
        401,
        json!({ "error": { "code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED" } }),
    ));
    let mut bearer = settings(fake.base_url(), Timeouts::default());
    bearer.api_key = Some("AIza-the-right-one".to_owned());
    let err = call_error(build(bearer, http_client()).unwrap().as_ref(), ask("hi")).await;
    assert!(
        matches!(err, ProviderError::Auth { status: 401, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limits_carry_the_retry_delay() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::rate_limited(7));
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains("exceeded your current quota"),
        "{err}"
    );
}

#[tokio::test]
async fn an_overloaded_model_is_retryable() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::overloaded());
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(matches!(err, ProviderError::Overloaded { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::server_error());
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(
        matches!(err, ProviderError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn too_many_input_tokens_is_context_too_long() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::context_too_long());
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(
        matches!(err, ProviderError::ContextTooLong { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_unknown_model_is_an_invalid_request() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::error(
        404,
        json!({ "error": { "code": 404, "message": "models/gemini-9 is not found for API version v1beta", "status": "NOT_FOUND" } }),
    ));
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert!(
        matches!(err, ProviderError::InvalidRequest { status: 404, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_error_object_instead_of_a_stream_is_mapped() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::error(
        200,
        json!({ "error": { "code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE" } }),
    ));
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert_eq!(err.kind(), "overloaded");
}

#[tokio::test]
async fn a_malformed_call_ends_the_answer_as_an_error() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::tool_calls([FakeToolCall::new("x", "read", "{oops")]));
    let done = provider(&fake)
        .complete(ask("read"), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.stop_reason, StopReason::Error);
    assert!(done.message.content.is_empty());
}

#[tokio::test]
async fn a_connection_cut_mid_stream_is_a_broken_stream_after_output() {
    let fake = FakeGemini::start().await;
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
    let fake = FakeGemini::start().await;
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
async fn cancelling_before_the_answer_starts_ends_the_call_promptly() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::delayed(Duration::from_secs(30), Reply::text("late")));
    let cancel = CancellationToken::new();
    let provider = provider(&fake);
    let started = Instant::now();
    let (result, ()) = tokio::join!(provider.stream(ask("hi"), cancel.clone()), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
    });
    assert_eq!(result.err(), Some(ProviderError::Cancelled));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_silent_provider_hits_the_first_byte_timeout() {
    let fake = FakeGemini::start().await;
    let timeouts = Timeouts {
        first_byte: Duration::from_millis(200),
        ..Timeouts::default()
    };
    fake.push(Reply::Stall);
    let err = call_error(provider_with(&fake, timeouts).as_ref(), ask("hi")).await;
    assert_eq!(
        err,
        ProviderError::Timeout {
            phase: TimeoutPhase::FirstByte
        }
    );
}

#[tokio::test]
async fn build_returns_the_gemini_provider_without_showing_the_key() {
    let fake = FakeGemini::start().await;
    let provider = provider(&fake);
    assert_eq!(provider.api(), ApiKind::GoogleGenerativeAi);
    assert_eq!(provider.id(), "google");
    let debug = format!("{provider:?}");
    assert!(!debug.contains(KEY), "{debug}");

    let mut gateway = settings(fake.base_url(), Timeouts::default());
    gateway.auth_header = true;
    fake.push(Reply::text("ok"));
    build(gateway, http_client())
        .unwrap()
        .complete(ask("hi"), CancellationToken::new())
        .await
        .unwrap();
    let request = fake.last_request().unwrap();
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(request.header("x-goog-api-key"), None);
}

#[tokio::test]
async fn the_request_body_for_a_tool_round_trip() {
    let fake = FakeGemini::start().await;
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
                signature: Some("c2lnbmF0dXJl".to_owned()),
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
        model: MODEL.to_owned(),
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
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": { "path": { "type": "string", "minLength": 1 } },
                "required": ["path"],
                "additionalProperties": false,
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
