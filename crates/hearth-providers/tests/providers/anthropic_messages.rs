//! The `anthropic-messages` provider against `FakeAnthropic`.

use std::sync::Arc;

use hearth_config::ApiKind;
use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason, Usage};
use hearth_providers::{
    ModelRequest, Provider, ProviderError, ProviderSettings, RemoteModel, Timeouts, ToolSpec,
};
use hearth_test_utils::anthropic::thinking_signature;
use hearth_test_utils::{FakeAnthropic, RecordedRequest, Reply};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::conformance::{self, Api, THOUGHT, call_error, conformance};

const KEY: &str = "sk-ant-test-7d3e9b21c4";

struct AnthropicMessages;

impl Api for AnthropicMessages {
    type Fake = FakeAnthropic;
    const KIND: ApiKind = ApiKind::AnthropicMessages;
    const ID: &'static str = "claude";
    const KEY: &'static str = KEY;
    const OTHER_KEY: &'static str = "sk-ant-the-right-one";
    const MODEL: &'static str = "claude-sonnet-4-5";
    const RESPONSE_ID_PREFIX: Option<&'static str> = Some("msg_");
    const TOOL_ID_PREFIX: &'static str = "toolu_";
    const RATE_LIMIT_MESSAGE: Option<&'static str> = Some("exceed the rate limit");
    const DEBUG_NAME: Option<&'static str> = Some("AnthropicMessages");
    const KEY_HEADER: &'static str = "x-api-key";
    const LISTED: &'static [&'static str] =
        &["claude-haiku-4-5", "claude-opus-4-1", "claude-sonnet-4-5"];

    fn settings(base_url: String, timeouts: Timeouts) -> ProviderSettings {
        ProviderSettings {
            id: "claude".to_owned(),
            api: ApiKind::AnthropicMessages,
            base_url,
            api_key: Some(KEY.to_owned()),
            headers: vec![(
                "anthropic-beta".to_owned(),
                "fine-grained-tool-streaming-2025-05-14".to_owned(),
            )],
            timeouts,
            auth_header: false,
        }
    }

    fn check_streamed_text_request(request: &RecordedRequest) {
        assert_eq!(request.path, "/v1/messages");
        assert_eq!(request.header("x-api-key"), Some(KEY));
        assert_eq!(request.header("authorization"), None);
        assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(
            request.header("anthropic-beta"),
            Some("fine-grained-tool-streaming-2025-05-14")
        );
        assert_eq!(request.body["stream"], true);
        assert_eq!(request.body["max_tokens"], 4096);
    }

    fn usage_scenario(fake: &FakeAnthropic) -> (Reply, Usage) {
        fake.set_cache_tokens(3, 2);
        let usage = Usage {
            input: 5,
            output: 3,
            cache_read: 3,
            cache_write: 2,
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
                    { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg==" } },
                ],
            })
        );
    }

    fn check_thinking_signature(thought: &str, signature: Option<&str>) {
        assert_eq!(signature, Some(thinking_signature(thought).as_str()));
    }

    fn check_listing(models: &[RemoteModel], request: &RecordedRequest) {
        assert_eq!(request.path, "/v1/models");
        assert_eq!(request.header("x-api-key"), Some(KEY));
        assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(
            request.header("anthropic-beta"),
            Some("fine-grained-tool-streaming-2025-05-14")
        );
        assert_eq!(models[2].name.as_deref(), Some("Claude Sonnet 4.5"));
        assert_eq!(models[2].context_window, None);
    }

    fn check_wrong_key(err: &ProviderError, _request: &RecordedRequest) {
        assert_eq!(
            *err,
            ProviderError::Auth {
                status: 401,
                message: "invalid x-api-key".to_owned()
            }
        );
    }

    fn check_overloaded(err: &ProviderError) {
        // Anthropic's 529.
        assert_eq!(
            *err,
            ProviderError::Overloaded {
                retry_after: None,
                message: "Overloaded".to_owned()
            }
        );
    }

    fn check_server_error(err: &ProviderError) {
        assert_eq!(
            *err,
            ProviderError::Server {
                status: 500,
                message: "Internal server error".to_owned()
            }
        );
    }

    fn check_max_tokens_request(body: &Value) {
        assert_eq!(body["max_tokens"], 2);
    }
}

conformance!(AnthropicMessages:
    streamed_text_arrives_as_ordered_deltas,
    the_key_goes_in_a_bearer_header_when_asked,
    usage_is_counted_as_the_api_reports_it,
    the_default_reply_echoes_the_last_user_message,
    parallel_tool_calls_are_assembled_from_fragments,
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
    paged_lists_are_followed_up_to_five_pages,
);

fn provider(fake: &FakeAnthropic) -> Arc<dyn Provider> {
    conformance::provider::<AnthropicMessages>(fake)
}

fn ask(text: &str) -> ModelRequest {
    conformance::ask::<AnthropicMessages>(text)
}

#[tokio::test]
async fn thinking_streams_first_and_keeps_its_signature_for_the_next_turn() {
    let (fake, provider, done) =
        conformance::thinking_streams_before_the_answer::<AnthropicMessages>().await;

    // The fake refuses thinking whose signature does not match, as the API does.
    let next = ModelRequest::new(
        "claude-sonnet-4-5",
        vec![
            Message::user("hello"),
            done.message.clone(),
            Message::user("and now?"),
        ],
    );
    let done = provider
        .complete(next, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "echo: and now?");
    let sent = fake.last_request().unwrap().body;
    assert_eq!(
        sent["messages"][1]["content"][0],
        json!({ "type": "thinking", "thinking": THOUGHT, "signature": thinking_signature(THOUGHT) })
    );
}

#[tokio::test]
async fn a_key_echoed_in_an_error_body_is_scrubbed() {
    let fake = FakeAnthropic::start().await;
    fake.push(Reply::error(
        403,
        json!({ "type": "error", "error": { "type": "permission_error", "message": format!("key {KEY} may not use this model") } }),
    ));
    let err = call_error(provider(&fake).as_ref(), ask("hi")).await;
    assert_eq!(
        err,
        ProviderError::Auth {
            status: 403,
            message: "key [redacted] may not use this model".to_owned()
        }
    );
}

#[tokio::test]
async fn the_request_body_for_a_tool_round_trip() {
    let fake = FakeAnthropic::start().await;
    let mut user = Message::user("What is in this picture, and what do my notes say?");
    user.content.push(ContentBlock::Image {
        mime_type: "image/jpeg".to_owned(),
        data: "/9j/4AAQSkZJRg==".to_owned(),
    });
    let thought = "I should read the notes.";
    let mut assistant = Message::new(
        Role::Assistant,
        vec![
            ContentBlock::Thinking {
                thinking: thought.to_owned(),
                signature: Some(thinking_signature(thought)),
            },
            ContentBlock::Text {
                text: "A cat. Let me check the notes.".to_owned(),
            },
            ContentBlock::ToolCall {
                id: "toolu_01".to_owned(),
                name: "read_file".to_owned(),
                arguments: json!({ "path": "notes.md" }),
            },
            ContentBlock::ToolCall {
                id: "toolu_02".to_owned(),
                name: "read_file".to_owned(),
                arguments: json!({ "path": "todo.md" }),
            },
        ],
    );
    assistant.stop_reason = Some(StopReason::ToolUse);
    let request = ModelRequest {
        model: "claude-sonnet-4-5".to_owned(),
        system: Some("You are Hearth's assistant.".to_owned()),
        messages: vec![
            user,
            assistant,
            Message::tool_result("toolu_01", "read_file", "Buy milk.", false),
            Message::tool_result("toolu_02", "read_file", "no such file: todo.md", true),
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
