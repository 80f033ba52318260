//! Model failover: fallbacks, key rotation, cooldowns, and the errors that must not fail over.

use hearth_protocol::events::{AgentEventData, AttemptOutcome, ChatState, Event};
use hearth_protocol::methods::ChatSendParams;
use hearth_test_utils::{FakeOpenAi, Reply};

use crate::harness::{TOKEN, chat_to_end, next_event};

struct Setup {
    gw: hearth_core::RunningGateway,
    primary: FakeOpenAi,
    fallback: FakeOpenAi,
    _home: tempfile::TempDir,
}

/// Provider `a` (primary, two keys) and provider `b` (fallback).
async fn setup() -> Setup {
    let primary = FakeOpenAi::start().await;
    let fallback = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let cfg = format!(
        r#"{{
  gateway: {{ port: 0, auth: {{ token: "{TOKEN}" }} }},
  agents: {{ defaults: {{ model: {{ primary: "a/m1", fallbacks: ["b/m2"] }} }} }},
  models: {{ providers: {{
    a: {{ baseUrl: "{}", apiKey: "key-one", apiKeys: ["key-two"], models: [{{ id: "m1" }}] }},
    b: {{ baseUrl: "{}", apiKey: "key-b", models: [{{ id: "m2" }}] }},
  }} }},
}}"#,
        primary.base_url(),
        fallback.base_url()
    );
    std::fs::write(home.path().join("hearth.json"), cfg).unwrap();
    let gw = crate::harness::start_in(home.path()).await;
    Setup {
        gw,
        primary,
        fallback,
        _home: home,
    }
}

async fn client(s: &Setup) -> hearth_client::Client {
    let opts = hearth_client::ConnectOptions::new(
        format!("ws://{}/", s.gw.local_addr()),
        Some(TOKEN.to_owned()),
        "t",
    );
    hearth_client::Client::connect(opts).await.unwrap()
}

fn send(text: &str) -> ChatSendParams {
    ChatSendParams {
        message: text.to_owned(),
        ..ChatSendParams::default()
    }
}

#[tokio::test]
async fn server_errors_fail_over_and_the_failing_key_cools_down() {
    let s = setup().await;
    let c = client(&s).await;
    // Both keys of `a` fail with 500; `b` answers.
    s.primary.push(Reply::server_error());
    s.primary.push(Reply::server_error());
    let mut events = c.events();
    let end = chat_to_end(&c, send("hello")).await;
    assert_eq!(end.state, ChatState::Final, "{:?}", end.error);
    let message = end.message.unwrap();
    assert_eq!(message.model.as_deref(), Some("b/m2"));
    assert_eq!(message.plain_text(), "echo: hello");
    // Two failed attempts were published, one per key of `a`.
    let mut failed = Vec::new();
    while failed.len() < 2 {
        let (model, key, kind) = next_event(&mut events, |e| match e {
            Event::Agent(a) => match a.data {
                AgentEventData::Attempt {
                    model,
                    key,
                    outcome: AttemptOutcome::Failed,
                    error_kind,
                    ..
                } => Some((model, key, error_kind)),
                _ => None,
            },
            _ => None,
        })
        .await;
        failed.push((model, key, kind));
    }
    assert_eq!(failed[0], ("a/m1".into(), 0, Some("server".into())));
    assert_eq!(failed[1].1, 1);
    let keys: Vec<Option<String>> = s
        .primary
        .requests()
        .iter()
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(
        keys,
        vec![Some("Bearer key-one".into()), Some("Bearer key-two".into())]
    );

    // While `a` cools down the next message goes straight to `b`.
    let end = chat_to_end(&c, send("again")).await;
    assert_eq!(end.message.unwrap().model.as_deref(), Some("b/m2"));
    assert_eq!(
        s.primary.request_count(),
        2,
        "no call to a cooling provider"
    );
    assert_eq!(s.fallback.request_count(), 2);
}

#[tokio::test]
async fn a_refused_key_rotates_to_the_next_one() {
    let s = setup().await;
    s.primary.require_key("key-two");
    let c = client(&s).await;
    let end = chat_to_end(&c, send("rotate")).await;
    let message = end.message.unwrap();
    assert_eq!(
        message.model.as_deref(),
        Some("a/m1"),
        "the second key of the same provider answered"
    );
    assert_eq!(s.fallback.request_count(), 0);
}

#[tokio::test]
async fn invalid_requests_are_not_sprayed_over_fallbacks() {
    let s = setup().await;
    s.primary.push(Reply::context_too_long());
    let c = client(&s).await;
    let end = chat_to_end(&c, send("too long")).await;
    assert_eq!(end.state, ChatState::Error);
    let error = end.error.unwrap();
    assert!(!error.retryable);
    assert_eq!(s.primary.request_count(), 1);
    assert_eq!(s.fallback.request_count(), 0);
}

#[tokio::test]
async fn a_stream_broken_after_output_is_reported_not_stitched() {
    let s = setup().await;
    s.primary.push(Reply::cut_after("The answer is"));
    let c = client(&s).await;
    let end = chat_to_end(&c, send("partial")).await;
    assert_eq!(end.state, ChatState::Error);
    assert!(
        end.error.unwrap().message.contains("mid-stream"),
        "the message says the stream broke"
    );
    assert_eq!(
        s.fallback.request_count(),
        0,
        "no second model continues a half-sent answer"
    );
}

#[tokio::test]
async fn everything_failing_names_what_was_tried() {
    let s = setup().await;
    s.primary.set_default(Reply::server_error());
    s.fallback.set_default(Reply::rate_limited(30));
    let c = client(&s).await;
    let end = chat_to_end(&c, send("doomed")).await;
    assert_eq!(end.state, ChatState::Error);
    let error = end.error.unwrap();
    assert!(
        error.message.contains("a/m1 (server)") && error.message.contains("b/m2 (rate_limited)"),
        "{}",
        error.message
    );
    assert!(error.retryable);
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out_once() {
    let t = crate::harness::TestGateway::start().await;
    t.fake.push(Reply::rate_limited(1));
    let c = t.client().await;
    let started = std::time::Instant::now();
    let end = chat_to_end(&c, send("patience")).await;
    assert_eq!(end.state, ChatState::Final, "{:?}", end.error);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(t.fake.request_count(), 2);
}

#[tokio::test]
async fn a_provider_proxy_carries_its_requests() {
    // The fake plays the proxy: an HTTP proxy receives the request with the full URL, here of a
    // host that does not resolve, so an answer proves the request went through the proxy.
    let proxy = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let cfg = format!(
        r#"{{
  gateway: {{ port: 0, auth: {{ token: "{TOKEN}" }} }},
  agents: {{ defaults: {{ model: {{ primary: "far/m" }} }} }},
  models: {{ providers: {{ far: {{ baseUrl: "http://provider.invalid/v1", proxy: "http://{}", models: [{{ id: "m" }}] }} }} }},
}}"#,
        proxy.addr()
    );
    std::fs::write(home.path().join("hearth.json"), cfg).unwrap();
    let gw = crate::harness::start_in(home.path()).await;
    let opts = hearth_client::ConnectOptions::new(
        format!("ws://{}/", gw.local_addr()),
        Some(TOKEN.to_owned()),
        "t",
    );
    let c = hearth_client::Client::connect(opts).await.unwrap();
    let end = chat_to_end(&c, send("through the proxy")).await;
    assert_eq!(end.message.unwrap().plain_text(), "echo: through the proxy");
    assert_eq!(
        proxy.last_request().unwrap().header("host"),
        Some("provider.invalid")
    );
    gw.shutdown().await;
}
