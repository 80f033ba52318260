//! The `ollama` provider against `FakeOllama`.

use std::sync::Arc;

use hearth_config::ApiKind;
use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason, Usage};
use hearth_providers::{
    ModelRequest, Provider, ProviderError, ProviderSettings, RemoteModel, Timeouts, ToolSpec,
};
use hearth_test_utils::{FakeOllama, RecordedRequest, Reply};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::conformance::{self, Api, call_error, conformance};

const KEY: &str = "ollama-key-4f9a2c7e1b";
const MODEL: &str = "qwen3";

struct Ollama;

impl Api for Ollama {
    type Fake = FakeOllama;
    const KIND: ApiKind = ApiKind::Ollama;
    const ID: &'static str = "local";
    const KEY: &'static str = KEY;
    const OTHER_KEY: &'static str = "the-right-one";
    const MODEL: &'static str = MODEL;
    const IMAGE_MODEL: &'static str = "llava";
    const SENDS_KEY: bool = false;
    const RESPONSE_ID_PREFIX: Option<&'static str> = None;
    const LONG_ANSWER: (&'static str, &'static str) =
        ("a fairly long answer that will not fit", "a fairly");
    const LISTED: &'static [&'static str] = &["llama3.2:latest", "llava:latest", "qwen3:latest"];

    /// Keyless, as a local Ollama is.
    fn settings(base_url: String, timeouts: Timeouts) -> ProviderSettings {
        ProviderSettings {
            id: "local".to_owned(),
            api: ApiKind::Ollama,
            base_url,
            api_key: None,
            headers: Vec::new(),
            timeouts,
            auth_header: false,
        }
    }

    fn check_streamed_text_request(request: &RecordedRequest) {
        assert_eq!(request.path, "/api/chat");
        assert_eq!(request.header("authorization"), None);
        assert_eq!(request.body["stream"], true);
        assert_eq!(
            request.body["messages"],
            json!([{ "role": "user", "content": "hi" }])
        );
    }

    /// Usage comes from the eval counts; nothing is cached.
    fn usage_scenario(_fake: &FakeOllama) -> (Reply, Usage) {
        let usage = Usage {
            input: 10,
            output: 3,
            cache_read: 0,
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
                "content": "What is in this picture?",
                "images": ["iVBORw0KGgoAAAANSUhEUg=="],
            })
        );
    }

    fn check_thinking_signature(_thought: &str, signature: Option<&str>) {
        assert_eq!(signature, None);
    }

    fn check_listing(models: &[RemoteModel], request: &RecordedRequest) {
        assert_eq!(request.path, "/api/tags");
        assert_eq!(request.header("authorization"), None);
        assert!(models.iter().all(|m| m.name.is_none()));
    }

    fn check_wrong_key(err: &ProviderError, request: &RecordedRequest) {
        assert_eq!(
            *err,
            ProviderError::Auth {
                status: 401,
                message: "unauthorized".to_owned()
            }
        );
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }

    fn check_unreachable(err: &ProviderError) {
        assert!(err.to_string().contains("`ollama serve`"), "{err}");
    }

    /// `max_tokens` is `num_predict`.
    fn check_max_tokens_request(body: &Value) {
        assert_eq!(body["options"], json!({ "num_predict": 2 }));
    }
}

conformance!(Ollama:
    streamed_text_arrives_as_ordered_deltas,
    usage_is_counted_as_the_api_reports_it,
    the_default_reply_echoes_the_last_user_message,
    thinking_streams_before_the_answer,
    images_are_sent_in_the_api_shape,
    a_wrong_key_is_an_auth_error_that_does_not_show_the_key,
    rate_limits_carry_retry_after,
    overloaded_is_retryable_overload,
    server_errors_are_retryable,
    context_too_long_is_not_retryable,
    an_answer_cut_at_max_tokens_stops_for_length,
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

fn provider(fake: &FakeOllama) -> Arc<dyn Provider> {
    conformance::provider::<Ollama>(fake)
}

#[tokio::test]
async fn parallel_tool_calls_get_ids_that_map_back_to_their_results() {
    let (fake, provider, done, starts) =
        conformance::parallel_tool_calls_get_distinct_ids::<Ollama>().await;

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

fn ask(text: &str) -> ModelRequest {
    conformance::ask::<Ollama>(text)
}

#[tokio::test]
async fn the_model_list_takes_a_base_url_ending_in_api() {
    let fake = FakeOllama::start().await;
    let provider = hearth_providers::build(
        Ollama::settings(format!("{}/api/", fake.base_url()), Timeouts::default()),
        hearth_providers::http_client(),
    )
    .unwrap();
    let models = provider
        .list_models(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(models.len(), 3);
    assert_eq!(fake.last_request().unwrap().path, "/api/tags");
}
