//! The `openai-responses` provider against `FakeOpenAiResponses`.

use std::sync::Arc;

use hearth_config::ApiKind;
use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason, Usage};
use hearth_providers::{
    ModelRequest, Provider, ProviderError, ProviderSettings, RemoteModel, Timeouts, ToolSpec,
};
use hearth_test_utils::{FakeOpenAiResponses, RecordedRequest, Reply};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::conformance::{self, Api, conformance};

const KEY: &str = "sk-proj-test-5b8c1e0f2a";

struct OpenAiResponses;

impl Api for OpenAiResponses {
    type Fake = FakeOpenAiResponses;
    const KIND: ApiKind = ApiKind::OpenaiResponses;
    const ID: &'static str = "openai";
    const KEY: &'static str = KEY;
    const OTHER_KEY: &'static str = "sk-proj-the-right-one";
    const MODEL: &'static str = "gpt-5";
    const RESPONSE_ID_PREFIX: Option<&'static str> = Some("resp_");
    const DEBUG_NAME: Option<&'static str> = Some("OpenAiResponses");
    const LISTED: &'static [&'static str] = &["gpt-4o", "gpt-4o-mini", "o3-mini"];

    fn settings(base_url: String, timeouts: Timeouts) -> ProviderSettings {
        ProviderSettings {
            id: "openai".to_owned(),
            api: ApiKind::OpenaiResponses,
            base_url,
            api_key: Some(KEY.to_owned()),
            headers: vec![("OpenAI-Organization".to_owned(), "org-hearth".to_owned())],
            timeouts,
            auth_header: false,
        }
    }

    fn check_streamed_text_request(request: &RecordedRequest) {
        assert_eq!(request.path, "/v1/responses");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(request.header("openai-organization"), Some("org-hearth"));
        assert_eq!(request.body["stream"], true);
        assert_eq!(request.body["store"], false);
    }

    fn usage_scenario(fake: &FakeOpenAiResponses) -> (Reply, Usage) {
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

    fn check_thinking_signature(_thought: &str, signature: Option<&str>) {
        assert_eq!(signature, None);
    }

    fn check_listing(models: &[RemoteModel], request: &RecordedRequest) {
        assert_eq!(request.path, "/v1/models");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(request.header("openai-organization"), Some("org-hearth"));
        assert_eq!(models.len(), 3);
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

    fn check_max_tokens_request(body: &Value) {
        assert_eq!(body["max_output_tokens"], 2);
    }
}

conformance!(OpenAiResponses:
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

fn provider(fake: &FakeOpenAiResponses) -> Arc<dyn Provider> {
    conformance::provider::<OpenAiResponses>(fake)
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
