//! The conformance suite: every scenario the API kinds share, written once, generic over [`Api`].
//!
//! Each API module implements [`Api`] for a marker type (how to start its fake, its settings, and
//! the hooks that read what is API-specific) and lists the scenarios it runs with
//! [`conformance!`]. Scenarios that go on with API-specific checks return what they built, so
//! the module's own test can continue from there.
// The scenarios are test bodies called from `#[tokio::test]`s; clippy's `allow-unwrap-in-tests`
// only sees the latter.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hearth_config::ApiKind;
use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason, Usage};
use hearth_providers::{
    Completion, EventStream, ModelRequest, Provider, ProviderError, ProviderSettings, RemoteModel,
    StreamEvent, TimeoutPhase, Timeouts, build, http_client,
};
use hearth_test_utils::{
    FakeAnthropic, FakeGemini, FakeOllama, FakeOpenAi, FakeOpenAiResponses, FakeToolCall,
    RecordedRequest, Reply,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The scripting methods every fake has (from `scripted_fake!`), as a trait.
pub(crate) trait Fake: Sized + Send + Sync {
    fn start() -> impl Future<Output = Self> + Send;
    fn base_url(&self) -> String;
    fn push(&self, reply: Reply);
    fn set_default(&self, reply: Reply);
    fn require_key(&self, key: &str);
    fn request_count(&self) -> usize;
    fn last_request(&self) -> Option<RecordedRequest>;
    fn set_models(&self, ids: Vec<String>);
    fn set_models_page_size(&self, n: usize);
    fn push_models(&self, reply: Reply);
}

macro_rules! impl_fake {
    ($($fake:ty),* $(,)?) => {$(
        impl Fake for $fake {
            async fn start() -> Self {
                <$fake>::start().await
            }
            fn base_url(&self) -> String {
                <$fake>::base_url(self)
            }
            fn push(&self, reply: Reply) {
                <$fake>::push(self, reply);
            }
            fn set_default(&self, reply: Reply) {
                <$fake>::set_default(self, reply);
            }
            fn require_key(&self, key: &str) {
                <$fake>::require_key(self, key);
            }
            fn request_count(&self) -> usize {
                <$fake>::request_count(self)
            }
            fn last_request(&self) -> Option<RecordedRequest> {
                <$fake>::last_request(self)
            }
            fn set_models(&self, ids: Vec<String>) {
                <$fake>::set_models(self, ids);
            }
            fn set_models_page_size(&self, n: usize) {
                <$fake>::set_models_page_size(self, n);
            }
            fn push_models(&self, reply: Reply) {
                <$fake>::push_models(self, reply);
            }
        }
    )*};
}

impl_fake!(
    FakeOpenAi,
    FakeOpenAiResponses,
    FakeAnthropic,
    FakeGemini,
    FakeOllama,
);

/// One API kind: its fake, its settings, and what the shared scenarios check differently for it.
/// Hooks with a panicking default belong to scenarios only some API kinds run.
pub(crate) trait Api {
    type Fake: Fake;
    const KIND: ApiKind;
    /// The provider id in [`Api::settings`].
    const ID: &'static str;
    /// The key the provider sends (Ollama's default settings have none; see [`Api::settings`]).
    const KEY: &'static str;
    /// A key the fake can require that is not [`Api::KEY`].
    const OTHER_KEY: &'static str;
    const MODEL: &'static str;
    /// The model asked for pictures.
    const IMAGE_MODEL: &'static str = Self::MODEL;
    /// Whether the default settings send [`Api::KEY`].
    const SENDS_KEY: bool = true;
    /// How response ids start; `None`: the API has none.
    const RESPONSE_ID_PREFIX: Option<&'static str>;
    /// Ids of tool calls the fake streams, for APIs that carry ids.
    const TOOL_ID_PREFIX: &'static str = "call_";
    /// Text the rate-limit error shows, where the vendor's message is known.
    const RATE_LIMIT_MESSAGE: Option<&'static str> = None;
    /// Text the provider's `Debug` shows.
    const DEBUG_NAME: Option<&'static str> = None;
    /// The header the key goes in unless `auth_header` asks for a bearer token.
    const KEY_HEADER: &'static str = "authorization";
    /// Whether the fake checks a required key sent as a bearer token.
    const FAKE_CHECKS_BEARER: bool = true;
    /// An answer longer than 2 tokens, and what of it fits in 2.
    const LONG_ANSWER: (&'static str, &'static str) =
        ("a long answer that does not fit in two tokens", "a long a");
    /// The ids [`Provider::list_models`] returns for the fake's own models.
    const LISTED: &'static [&'static str];

    /// The provider's settings as the API's tests use them.
    fn settings(base_url: String, timeouts: Timeouts) -> ProviderSettings;
    /// Path, headers and body of the request for plain streamed text.
    fn check_streamed_text_request(request: &RecordedRequest);
    /// Scripts the fake for the usage scenario; the reply and the usage a 40-character prompt
    /// must be reported with.
    fn usage_scenario(fake: &Self::Fake) -> (Reply, Usage);
    /// The user message with a picture, as the request body carries it.
    fn check_image_request(body: &Value);
    /// The thinking block's signature for `thought`.
    fn check_thinking_signature(thought: &str, signature: Option<&str>);
    /// The listing of the fake's own models, and the request that got it.
    fn check_listing(models: &[RemoteModel], request: &RecordedRequest);
    /// The error for a wrong key, and the request that got it.
    fn check_wrong_key(err: &ProviderError, request: &RecordedRequest);
    fn check_overloaded(_err: &ProviderError) {}
    fn check_server_error(_err: &ProviderError) {}
    fn check_unreachable(_err: &ProviderError) {}
    /// The body asked for at most 2 output tokens.
    fn check_max_tokens_request(_body: &Value) {
        panic!("{:?} does not run the max-tokens scenario", Self::KIND)
    }
}

/// `#[tokio::test]`s running the named conformance scenarios for one API kind.
macro_rules! conformance {
    ($api:ty: $($scenario:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $scenario() {
            $crate::conformance::$scenario::<$api>().await;
        }
    )*};
}
pub(crate) use conformance;

pub(crate) fn provider_with<A: Api>(fake: &A::Fake, timeouts: Timeouts) -> Arc<dyn Provider> {
    build(A::settings(fake.base_url(), timeouts), http_client()).expect("provider builds")
}

pub(crate) fn provider<A: Api>(fake: &A::Fake) -> Arc<dyn Provider> {
    provider_with::<A>(fake, Timeouts::default())
}

pub(crate) fn ask<A: Api>(text: &str) -> ModelRequest {
    ModelRequest::new(A::MODEL, vec![Message::user(text)])
}

/// Every event until the stream ends, and the error that ended it, if any.
pub(crate) async fn drain(mut events: EventStream) -> (Vec<StreamEvent>, Option<ProviderError>) {
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

pub(crate) fn text_deltas(events: &[StreamEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

pub(crate) fn completion(events: &[StreamEvent]) -> &Completion {
    match events.last() {
        Some(StreamEvent::Completed(done)) => done,
        other => panic!("the last event is not Completed: {other:?}"),
    }
}

pub(crate) async fn call_error(provider: &dyn Provider, request: ModelRequest) -> ProviderError {
    match provider.stream(request, CancellationToken::new()).await {
        Ok(events) => drain(events).await.1.expect("the call fails"),
        Err(err) => err,
    }
}

/// `reply` for `ask("hi")`, which must fail.
async fn error_for<A: Api>(reply: Reply) -> ProviderError {
    let fake = A::Fake::start().await;
    fake.push(reply);
    call_error(provider::<A>(&fake).as_ref(), ask::<A>("hi")).await
}

pub(crate) async fn streamed_text_arrives_as_ordered_deltas<A: Api>() {
    let fake = A::Fake::start().await;
    if A::SENDS_KEY {
        fake.require_key(A::KEY);
    }
    fake.push(Reply::text_chunked("Hello there, how are you today?", 3));
    let events = provider::<A>(&fake)
        .stream(ask::<A>("hi"), CancellationToken::new())
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
        Some(format!("{}/{}", A::ID, A::MODEL).as_str())
    );
    match A::RESPONSE_ID_PREFIX {
        Some(prefix) => assert!(
            done.response_id
                .as_deref()
                .is_some_and(|id| id.starts_with(prefix)),
            "{:?}",
            done.response_id
        ),
        None => assert_eq!(done.response_id, None),
    }

    A::check_streamed_text_request(&fake.last_request().unwrap());
}

pub(crate) async fn usage_is_counted_as_the_api_reports_it<A: Api>() {
    let fake = A::Fake::start().await;
    let (reply, usage) = A::usage_scenario(&fake);
    fake.push(reply);
    let done = provider::<A>(&fake)
        .complete(ask::<A>(&"x".repeat(40)), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.usage, usage);
    assert_eq!(done.message.usage, Some(done.usage));
    assert_eq!(done.message.stop_reason, Some(StopReason::Stop));
}

pub(crate) async fn the_default_reply_echoes_the_last_user_message<A: Api>() {
    let fake = A::Fake::start().await;
    let provider = provider::<A>(&fake);
    let done = provider
        .complete(ask::<A>("ping"), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "echo: ping");
    assert_eq!(done.message.stop_reason, Some(StopReason::Stop));
    fake.set_default(Reply::text("fixed"));
    let done = provider
        .complete(ask::<A>("ping"), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "fixed");
    assert_eq!(fake.request_count(), 2);
}

/// For APIs whose calls carry ids and stream their arguments.
pub(crate) async fn parallel_tool_calls_are_assembled_from_fragments<A: Api>() {
    let fake = A::Fake::start().await;
    let weather = r#"{"city":"Paris","unit":"celsius"}"#;
    let time = r#"{"timezone":"Europe/Paris"}"#;
    let weather_id = format!("{}weather", A::TOOL_ID_PREFIX);
    let time_id = format!("{}time", A::TOOL_ID_PREFIX);
    fake.push(Reply::tool_calls([
        FakeToolCall::new(&weather_id, "get_weather", weather),
        FakeToolCall::new(&time_id, "get_time", time),
    ]));
    let events = provider::<A>(&fake)
        .stream(ask::<A>("weather and time?"), CancellationToken::new())
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
        [
            (weather_id.as_str(), "get_weather"),
            (time_id.as_str(), "get_time")
        ]
    );
    for (id, arguments) in [(&weather_id, weather), (&time_id, time)] {
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
                weather_id.as_str(),
                "get_weather",
                json!({ "city": "Paris", "unit": "celsius" })
            ),
            (
                time_id.as_str(),
                "get_time",
                json!({ "timezone": "Europe/Paris" })
            ),
        ]
    );
}

/// A turn with two tool calls, for APIs whose calls carry no ids: the provider makes distinct
/// ones. Returns the fake, the provider, the completion and the `(id, name)` of each call start.
pub(crate) async fn parallel_tool_calls_get_distinct_ids<A: Api>() -> (
    A::Fake,
    Arc<dyn Provider>,
    Completion,
    Vec<(String, String)>,
) {
    let fake = A::Fake::start().await;
    fake.push(Reply::tool_calls([
        FakeToolCall::new("ignored", "get_weather", r#"{"city":"Paris"}"#),
        FakeToolCall::new("ignored", "get_time", r#"{"timezone":"Europe/Paris"}"#),
    ]));
    let provider = provider::<A>(&fake);
    let events = provider
        .stream(ask::<A>("weather and time?"), CancellationToken::new())
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
    (fake, provider, done, starts)
}

pub(crate) const THOUGHT: &str = "The user greets me; greet back politely.";

/// Thinking streams before the answer and ends up first in the message. Returns the fake, the
/// provider and the completion.
pub(crate) async fn thinking_streams_before_the_answer<A: Api>()
-> (A::Fake, Arc<dyn Provider>, Completion) {
    let fake = A::Fake::start().await;
    fake.push(Reply::thinking(THOUGHT, "Hello!"));
    let provider = provider::<A>(&fake);
    let events = provider
        .stream(ask::<A>("hello"), CancellationToken::new())
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
    assert_eq!(thinking, THOUGHT);
    let first_text = events
        .iter()
        .position(|e| matches!(e, StreamEvent::TextDelta(_)))
        .unwrap();
    assert!(matches!(events[0], StreamEvent::ThinkingDelta(_)) && first_text > 1);
    let done = completion(&events).clone();
    let [
        ContentBlock::Thinking {
            thinking,
            signature,
        },
        ContentBlock::Text { text },
    ] = done.message.content.as_slice()
    else {
        panic!("{:?}", done.message.content)
    };
    assert_eq!((thinking.as_str(), text.as_str()), (THOUGHT, "Hello!"));
    A::check_thinking_signature(THOUGHT, signature.as_deref());
    (fake, provider, done)
}

pub(crate) async fn images_are_sent_in_the_api_shape<A: Api>() {
    let fake = A::Fake::start().await;
    let mut message = Message::user("What is in this picture?");
    message.content.push(ContentBlock::Image {
        mime_type: "image/png".to_owned(),
        data: "iVBORw0KGgoAAAANSUhEUg==".to_owned(),
    });
    let done = provider::<A>(&fake)
        .complete(
            ModelRequest::new(A::IMAGE_MODEL, vec![message]),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "echo: What is in this picture?");
    A::check_image_request(&fake.last_request().unwrap().body);
}

/// Returns the fake, which requires [`Api::OTHER_KEY`].
pub(crate) async fn a_wrong_key_is_an_auth_error_that_does_not_show_the_key<A: Api>() -> A::Fake {
    let fake = A::Fake::start().await;
    fake.require_key(A::OTHER_KEY);
    let mut settings = A::settings(fake.base_url(), Timeouts::default());
    settings.api_key = Some(A::KEY.to_owned());
    let provider = build(settings, http_client()).unwrap();
    let err = call_error(provider.as_ref(), ask::<A>("hi")).await;
    A::check_wrong_key(&err, &fake.last_request().unwrap());
    assert!(!err.to_string().contains(A::KEY), "{err}");
    assert!(!format!("{err:?}").contains(A::KEY));
    assert!(!format!("{provider:?}").contains(A::KEY));
    assert!(!err.is_retryable());
    assert_eq!(err.kind(), "auth");
    fake
}

pub(crate) async fn rate_limits_carry_retry_after<A: Api>() {
    let err = error_for::<A>(Reply::rate_limited(7)).await;
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(err.is_retryable());
    if let Some(message) = A::RATE_LIMIT_MESSAGE {
        assert!(err.to_string().contains(message), "{err}");
    }
}

pub(crate) async fn overloaded_is_retryable_overload<A: Api>() {
    let err = error_for::<A>(Reply::overloaded()).await;
    assert!(matches!(err, ProviderError::Overloaded { .. }), "{err:?}");
    assert!(err.is_retryable());
    A::check_overloaded(&err);
}

pub(crate) async fn server_errors_are_retryable<A: Api>() {
    let err = error_for::<A>(Reply::server_error()).await;
    assert!(
        matches!(err, ProviderError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(err.kind(), "server");
    A::check_server_error(&err);
}

pub(crate) async fn context_too_long_is_not_retryable<A: Api>() {
    let err = error_for::<A>(Reply::context_too_long()).await;
    assert!(
        matches!(err, ProviderError::ContextTooLong { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(err.kind(), "context_too_long");
}

/// For APIs whose fake stops at the output limit.
pub(crate) async fn an_answer_cut_at_max_tokens_stops_for_length<A: Api>() {
    let fake = A::Fake::start().await;
    let (answer, fits) = A::LONG_ANSWER;
    fake.push(Reply::text(answer));
    let mut request = ask::<A>("hi");
    request.max_tokens = Some(2);
    let done = provider::<A>(&fake)
        .complete(request, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.stop_reason, StopReason::Length);
    assert_eq!(done.message.plain_text(), fits);
    A::check_max_tokens_request(&fake.last_request().unwrap().body);
}

pub(crate) async fn a_connection_cut_mid_stream_is_a_broken_stream_after_output<A: Api>() {
    let fake = A::Fake::start().await;
    fake.push(Reply::cut_after(
        "This answer will never be finished because",
    ));
    let events = provider::<A>(&fake)
        .stream(ask::<A>("hi"), CancellationToken::new())
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

pub(crate) async fn cancelling_mid_stream_ends_it_promptly<A: Api>() {
    let fake = A::Fake::start().await;
    fake.push(Reply::Stall);
    let cancel = CancellationToken::new();
    let mut events = provider::<A>(&fake)
        .stream(ask::<A>("hi"), cancel.clone())
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

pub(crate) async fn cancelling_before_the_answer_starts_ends_the_call_promptly<A: Api>() {
    let fake = A::Fake::start().await;
    fake.push(Reply::delayed(Duration::from_secs(30), Reply::text("late")));
    let cancel = CancellationToken::new();
    let provider = provider::<A>(&fake);
    let started = Instant::now();
    let (result, ()) = tokio::join!(provider.stream(ask::<A>("hi"), cancel.clone()), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
    });
    assert_eq!(result.err(), Some(ProviderError::Cancelled));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    let already = provider.stream(ask::<A>("hi"), cancel).await;
    assert_eq!(already.err(), Some(ProviderError::Cancelled));
}

pub(crate) async fn a_silent_provider_hits_the_first_byte_timeout<A: Api>() {
    let fake = A::Fake::start().await;
    let timeouts = Timeouts {
        first_byte: Duration::from_millis(200),
        ..Timeouts::default()
    };
    let provider = provider_with::<A>(&fake, timeouts);

    fake.push(Reply::Stall);
    let err = call_error(provider.as_ref(), ask::<A>("hi")).await;
    assert_eq!(
        err,
        ProviderError::Timeout {
            phase: TimeoutPhase::FirstByte
        }
    );
    assert!(err.is_retryable());

    fake.push(Reply::delayed(Duration::from_secs(30), Reply::text("late")));
    let started = Instant::now();
    let err = call_error(provider.as_ref(), ask::<A>("hi")).await;
    assert_eq!(
        err,
        ProviderError::Timeout {
            phase: TimeoutPhase::FirstByte
        }
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

pub(crate) async fn an_unreachable_provider_is_a_retryable_network_error<A: Api>() {
    let base_url = {
        let fake = A::Fake::start().await;
        fake.base_url()
    };
    // The fake is gone; give its listener a moment to close.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let provider = build(A::settings(base_url, Timeouts::default()), http_client()).unwrap();
    let err = call_error(provider.as_ref(), ask::<A>("hi")).await;
    assert!(matches!(err, ProviderError::Network { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(!err.to_string().contains(A::KEY));
    A::check_unreachable(&err);
}

pub(crate) async fn a_base_url_that_is_not_a_url_is_a_config_error<A: Api>() {
    for base_url in ["not a url", "ftp://example.com/v1"] {
        let settings = A::settings(base_url.to_owned(), Timeouts::default());
        assert_eq!(
            build(settings, http_client()).unwrap_err().kind(),
            "config",
            "{base_url}"
        );
    }
}

pub(crate) async fn build_returns_the_provider_without_secrets_in_debug<A: Api>() {
    let fake = A::Fake::start().await;
    let provider = provider::<A>(&fake);
    assert_eq!(provider.api(), A::KIND);
    assert_eq!(provider.id(), A::ID);
    let debug = format!("{provider:?}");
    assert!(!debug.contains(A::KEY), "{debug}");
    if let Some(name) = A::DEBUG_NAME {
        assert!(debug.contains(name), "{debug}");
    }
}

/// For APIs whose key has its own header: `auth_header` sends it as a bearer token instead.
pub(crate) async fn the_key_goes_in_a_bearer_header_when_asked<A: Api>() {
    let fake = A::Fake::start().await;
    if A::FAKE_CHECKS_BEARER {
        fake.require_key(A::KEY);
    }
    let mut settings = A::settings(fake.base_url(), Timeouts::default());
    settings.auth_header = true;
    let provider = build(settings, http_client()).unwrap();
    let done = provider
        .complete(ask::<A>("ping"), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "echo: ping");
    let request = fake.last_request().unwrap();
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", A::KEY).as_str())
    );
    assert_eq!(request.header(A::KEY_HEADER), None);
}

fn ids(models: &[RemoteModel]) -> Vec<&str> {
    models.iter().map(|m| m.id.as_str()).collect()
}

async fn list_error(provider: &dyn Provider) -> ProviderError {
    provider
        .list_models(CancellationToken::new())
        .await
        .expect_err("the listing fails")
}

pub(crate) async fn models_are_listed_sorted_and_deduplicated<A: Api>() {
    let fake = A::Fake::start().await;
    if A::SENDS_KEY {
        fake.require_key(A::KEY);
    }
    let provider = provider::<A>(&fake);
    let models = provider
        .list_models(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(ids(&models), A::LISTED);
    A::check_listing(&models, &fake.last_request().unwrap());

    fake.set_models(
        ["zeta:1b", "alpha:1b", "zeta:1b"]
            .map(str::to_owned)
            .to_vec(),
    );
    let models = provider
        .list_models(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(ids(&models), ["alpha:1b", "zeta:1b"]);
    assert_eq!(fake.request_count(), 2);
}

pub(crate) async fn a_wrong_key_fails_the_listing_as_an_auth_error<A: Api>() {
    let fake = A::Fake::start().await;
    fake.require_key(A::OTHER_KEY);
    let mut settings = A::settings(fake.base_url(), Timeouts::default());
    settings.api_key = Some(A::KEY.to_owned());
    let provider = build(settings, http_client()).unwrap();
    let err = list_error(provider.as_ref()).await;
    A::check_wrong_key(&err, &fake.last_request().unwrap());
    assert_eq!(err.kind(), "auth");
    assert!(!err.to_string().contains(A::KEY), "{err}");
    assert!(!format!("{err:?}").contains(A::KEY));
}

/// Scripted listing failures come back classified as a call's would, and leave the chat's
/// script alone.
pub(crate) async fn listing_failures_are_classified_like_calls<A: Api>() {
    let fake = A::Fake::start().await;
    fake.push(Reply::text("still scripted"));
    let provider = provider::<A>(&fake);

    fake.push_models(Reply::rate_limited(7));
    let err = list_error(provider.as_ref()).await;
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));

    fake.push_models(Reply::server_error());
    let err = list_error(provider.as_ref()).await;
    assert!(
        matches!(err, ProviderError::Server { status: 500, .. }),
        "{err:?}"
    );

    fake.push_models(Reply::error(
        404,
        json!({ "error": { "message": "no model list here" } }),
    ));
    let err = list_error(provider.as_ref()).await;
    assert!(
        matches!(err, ProviderError::InvalidRequest { status: 404, .. }),
        "{err:?}"
    );

    fake.push_models(Reply::cut_after("x"));
    let err = list_error(provider.as_ref()).await;
    assert!(matches!(err, ProviderError::Network { .. }), "{err:?}");

    assert_eq!(
        ids(&provider
            .list_models(CancellationToken::new())
            .await
            .unwrap()),
        A::LISTED
    );
    let done = provider
        .complete(ask::<A>("hi"), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.message.plain_text(), "still scripted");
}

pub(crate) async fn a_silent_listing_times_out_and_a_cancelled_one_ends_promptly<A: Api>() {
    let fake = A::Fake::start().await;
    let timeouts = Timeouts {
        first_byte: Duration::from_millis(200),
        ..Timeouts::default()
    };
    let provider = provider_with::<A>(&fake, timeouts);
    fake.push_models(Reply::Stall);
    assert_eq!(
        list_error(provider.as_ref()).await,
        ProviderError::Timeout {
            phase: TimeoutPhase::FirstByte
        }
    );

    let provider = self::provider::<A>(&fake);
    fake.push_models(Reply::delayed(Duration::from_secs(30), Reply::Echo));
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let (result, ()) = tokio::join!(provider.list_models(cancel.clone()), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
    });
    assert_eq!(result, Err(ProviderError::Cancelled));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        provider.list_models(cancel).await,
        Err(ProviderError::Cancelled)
    );
}

pub(crate) async fn an_unreachable_provider_fails_the_listing_as_a_network_error<A: Api>() {
    let base_url = {
        let fake = A::Fake::start().await;
        fake.base_url()
    };
    // The fake is gone; give its listener a moment to close.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let provider = build(A::settings(base_url, Timeouts::default()), http_client()).unwrap();
    let err = list_error(provider.as_ref()).await;
    assert!(matches!(err, ProviderError::Network { .. }), "{err:?}");
    assert!(!err.to_string().contains(A::KEY));
    A::check_unreachable(&err);
}

/// For APIs that page their list: pages are followed, at most five.
pub(crate) async fn paged_lists_are_followed_up_to_five_pages<A: Api>() {
    let fake = A::Fake::start().await;
    let provider = provider::<A>(&fake);
    let numbered = |n: usize| (1..=n).map(|i| format!("m{i:02}")).collect::<Vec<_>>();
    fake.set_models_page_size(2);
    fake.set_models(numbered(5));
    let models = provider
        .list_models(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(ids(&models), numbered(5));
    assert_eq!(fake.request_count(), 3);

    fake.set_models(numbered(12));
    let models = provider
        .list_models(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(ids(&models), numbered(10));
    assert_eq!(fake.request_count(), 3 + 5);
}
