//! The `google-generative-ai` provider against `FakeGemini`.

use std::sync::Arc;

use hearth_config::ApiKind;
use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason, Usage};
use hearth_providers::{
    ModelRequest, Provider, ProviderError, ProviderSettings, RemoteModel, Timeouts, ToolSpec,
    build, http_client,
};
use hearth_test_utils::{FakeGemini, FakeToolCall, RecordedRequest, Reply};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::conformance::{self, Api, call_error, conformance};

const KEY: &str = "AIzaSyFake-4f9a2c7e1b";
const MODEL: &str = "gemini-2.5-flash";

struct GoogleGenerativeAi;

impl Api for GoogleGenerativeAi {
    type Fake = FakeGemini;
    const KIND: ApiKind = ApiKind::GoogleGenerativeAi;
    const ID: &'static str = "google";
    const KEY: &'static str = KEY;
    const OTHER_KEY: &'static str = "AIza-the-right-one";
    const MODEL: &'static str = MODEL;
    const RESPONSE_ID_PREFIX: Option<&'static str> = Some("fake-gemini-");
    const RATE_LIMIT_MESSAGE: Option<&'static str> = Some("exceeded your current quota");
    const KEY_HEADER: &'static str = "x-goog-api-key";
    const FAKE_CHECKS_BEARER: bool = false;
    const LISTED: &'static [&'static str] =
        &["gemini-2.0-flash", "gemini-2.5-flash", "gemini-2.5-pro"];

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

    fn check_streamed_text_request(request: &RecordedRequest) {
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

    /// Prompt 10 of which 4 cached; output = 3 answer + 2 thought tokens.
    fn usage_scenario(fake: &FakeGemini) -> (Reply, Usage) {
        fake.set_cached_tokens(4);
        let usage = Usage {
            input: 6,
            output: 5,
            cache_read: 4,
            cache_write: 0,
            cost: None,
        };
        (Reply::thinking("eight ch", "twelve chars"), usage)
    }

    fn check_image_request(body: &Value) {
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

    fn check_thinking_signature(_thought: &str, signature: Option<&str>) {
        assert!(signature.is_some());
    }

    fn check_listing(models: &[RemoteModel], request: &RecordedRequest) {
        assert_eq!(request.path, "/v1beta/models");
        assert_eq!(request.header("x-goog-api-key"), Some(KEY));
        assert_eq!(request.header("authorization"), None);
        assert_eq!(
            models[1],
            RemoteModel {
                id: "gemini-2.5-flash".to_owned(),
                name: Some("Gemini 2.5 Flash".to_owned()),
                context_window: Some(1_048_576),
            }
        );
    }

    fn check_wrong_key(err: &ProviderError, _request: &RecordedRequest) {
        // Gemini answers a wrong key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
        assert_eq!(
            *err,
            ProviderError::Auth {
                status: 400,
                message: "API key not valid. Please pass a valid API key.".to_owned()
            }
        );
    }
}

conformance!(GoogleGenerativeAi:
    streamed_text_arrives_as_ordered_deltas,
    the_key_goes_in_a_bearer_header_when_asked,
    usage_is_counted_as_the_api_reports_it,
    the_default_reply_echoes_the_last_user_message,
    images_are_sent_in_the_api_shape,
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
    paged_lists_are_followed_up_to_five_pages,
);

fn settings(base_url: String, timeouts: Timeouts) -> ProviderSettings {
    GoogleGenerativeAi::settings(base_url, timeouts)
}

fn provider(fake: &FakeGemini) -> Arc<dyn Provider> {
    conformance::provider::<GoogleGenerativeAi>(fake)
}

fn ask(text: &str) -> ModelRequest {
    conformance::ask::<GoogleGenerativeAi>(text)
}

#[tokio::test]
async fn parallel_tool_calls_get_ids_that_map_back_to_their_results() {
    let (fake, provider, done, starts) =
        conformance::parallel_tool_calls_get_distinct_ids::<GoogleGenerativeAi>().await;
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
    let (fake, _, _) =
        conformance::thinking_streams_before_the_answer::<GoogleGenerativeAi>().await;
    let body = fake.last_request().unwrap().body;
    assert_eq!(
        body["generationConfig"]["thinkingConfig"],
        json!({ "includeThoughts": true })
    );
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_an_auth_error_that_does_not_show_the_key() {
    let fake = conformance::a_wrong_key_is_an_auth_error_that_does_not_show_the_key::<
        GoogleGenerativeAi,
    >()
    .await;

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

#[tokio::test]
async fn the_model_list_keeps_only_models_that_generate_content() {
    let fake = FakeGemini::start().await;
    let raw: Value = reqwest::get(format!("{}/models", fake.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let embedding = format!("models/{}", hearth_test_utils::gemini::EMBEDDING_MODEL);
    assert!(
        raw["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == embedding.as_str()),
        "the fake lists an embedding model: {raw}"
    );
    let models = provider(&fake)
        .list_models(CancellationToken::new())
        .await
        .unwrap();
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        ["gemini-2.0-flash", "gemini-2.5-flash", "gemini-2.5-pro"]
    );
}
