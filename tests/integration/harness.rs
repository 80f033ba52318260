//! Starting a gateway for a test: a fresh `$HEARTH_HOME`, a fake provider, a config.

use std::time::Duration;

use hearth_client::{Client, ConnectOptions};
use hearth_core::{Gateway, GatewayOptions, RunningGateway, StateDir};
use hearth_protocol::events::{ChatEvent, ChatState, Event};
use hearth_protocol::frame::EventFrame;
use hearth_protocol::methods::{ChatSendParams, spec};
use hearth_protocol::transcript::Message;
use hearth_test_utils::FakeOpenAi;
use tokio::sync::broadcast;

pub(crate) const TOKEN: &str = "test-token-0123456789";

pub(crate) struct TestGateway {
    pub(crate) gateway: Option<RunningGateway>,
    pub(crate) fake: FakeOpenAi,
    pub(crate) home: tempfile::TempDir,
}

/// The config used by most tests; `extra` is spliced into the top-level object.
pub(crate) fn config(fake: &FakeOpenAi, extra: &str) -> String {
    format!(
        r#"{{
  gateway: {{ port: 0, auth: {{ mode: "token", token: "{TOKEN}", rateLimit: {{ maxAttempts: 3, windowMs: 60000, lockoutMs: 60000 }} }},
             http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
  agents: {{ defaults: {{ model: {{ primary: "fake/fake-model" }} }} }},
  models: {{ providers: {{ fake: {{
    baseUrl: "{base}", apiKey: "sk-fake", api: "openai-completions",
    models: [ {{ id: "fake-model", name: "Fake", contextWindow: 128000, maxTokens: 4096, cost: {{ input: 1, output: 2 }} }} ] }} }} }},
  {extra}
}}"#,
        base = fake.base_url()
    )
}

impl TestGateway {
    pub(crate) async fn start() -> Self {
        Self::start_with("").await
    }

    pub(crate) async fn start_with(extra: &str) -> Self {
        let fake = FakeOpenAi::start().await;
        let home = tempfile::tempdir().expect("tempdir");
        std::fs::write(home.path().join("hearth.json"), config(&fake, extra))
            .expect("write config");
        let gateway = Some(start_in(home.path()).await);
        Self {
            gateway,
            fake,
            home,
        }
    }

    pub(crate) fn gw(&self) -> &RunningGateway {
        self.gateway.as_ref().expect("gateway running")
    }

    pub(crate) fn http_base(&self) -> String {
        format!("http://{}", self.gw().local_addr())
    }

    pub(crate) fn ws_url(&self) -> String {
        format!("ws://{}/", self.gw().local_addr())
    }

    pub(crate) async fn client(&self) -> Client {
        self.client_with(Some(TOKEN), None).await.expect("connect")
    }

    pub(crate) async fn client_with(
        &self,
        token: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Client, hearth_client::ClientError> {
        let mut opts = ConnectOptions::new(self.ws_url(), token.map(str::to_owned), "test");
        opts.origin = origin.map(str::to_owned);
        opts.timeout = Duration::from_secs(10);
        Client::connect(opts).await
    }

    pub(crate) fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client")
    }

    /// Stops the gateway gracefully (and keeps the home for a restart).
    pub(crate) async fn stop(&mut self) {
        if let Some(gw) = self.gateway.take() {
            gw.shutdown().await;
        }
    }

    /// Starts a new gateway on the same home.
    pub(crate) async fn restart(&mut self) {
        self.stop().await;
        self.gateway = Some(start_in(self.home.path()).await);
    }
}

pub(crate) async fn start_in(home: &std::path::Path) -> RunningGateway {
    let opts = GatewayOptions::new(StateDir::new(home));
    Gateway::start(opts).await.expect("gateway starts")
}

/// Waits for the first event for which `pick` answers `Some`.
pub(crate) async fn next_event<T>(
    events: &mut broadcast::Receiver<EventFrame>,
    pick: impl FnMut(Event) -> Option<T>,
) -> T {
    next_event_within(events, Duration::from_secs(10), pick).await
}

/// [`next_event`] with its own patience (a real model on a busy CPU).
pub(crate) async fn next_event_within<T>(
    events: &mut broadcast::Receiver<EventFrame>,
    wait: Duration,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("event in time")
            .expect("events open");
        if let Some(t) = Event::parse(&frame.event, frame.payload)
            .ok()
            .and_then(&mut pick)
        {
            return t;
        }
    }
}

/// Sends a message and waits for its run to end; answers the run's last `chat` event (final,
/// error or aborted).
pub(crate) async fn chat_to_end(client: &Client, params: ChatSendParams) -> ChatEvent {
    chat_to_end_within(client, params, Duration::from_secs(10)).await
}

/// [`chat_to_end`] waiting up to `wait` for the run's end.
pub(crate) async fn chat_to_end_within(
    client: &Client,
    params: ChatSendParams,
    wait: Duration,
) -> ChatEvent {
    let mut events = client.events();
    let run = client
        .call::<spec::ChatSend>(params)
        .await
        .expect("chat.send accepted");
    next_event_within(&mut events, wait, |e| match e {
        Event::Chat(c) if c.run_id == run.run_id && c.state != ChatState::Delta => Some(c),
        _ => None,
    })
    .await
}

/// Sends a message and answers the final assistant message; fails the test if the run fails.
pub(crate) async fn chat_final(client: &Client, params: ChatSendParams) -> Message {
    let end = chat_to_end(client, params).await;
    assert_eq!(end.state, ChatState::Final, "run failed: {:?}", end.error);
    *end.message.expect("final carries the message")
}
