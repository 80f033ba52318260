//! Context compaction, the memory flush before it, `/compact`, `sessions.compact` and `/model`,
//! against the fake provider with a model whose context window is tiny.

use hearth_core::agent::compaction::SUMMARY_MARKER;
use hearth_protocol::events::{AgentEventData, Event};
use hearth_protocol::methods::{
    ChatHistoryParams, ChatSendParams, RunAcceptance, SessionKeyParams, spec,
};
use hearth_protocol::transcript::Role;
use hearth_test_utils::{FakeOpenAi, RecordedRequest, Reply};
use serde_json::Value;

use crate::harness::{TOKEN, TestGateway, chat_final, next_event, start_in};

/// Every reply of the fake, including the summary and the memory notes.
const ANSWER: &str = "Noted: the user prefers green tea.";

/// A gateway whose default model has a 600-token window, with compaction keeping 120 tokens
/// free and 150 verbatim, and no tools (so the memory flush is written by the gateway).
async fn small_window_gateway(compaction: &str) -> TestGateway {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::text(ANSWER));
    let home = tempfile::tempdir().expect("tempdir");
    let config = format!(
        r#"{{
  gateway: {{ port: 0, auth: {{ mode: "token", token: "{TOKEN}" }} }},
  agents: {{ defaults: {{ model: {{ primary: "fake/small" }}, skipBootstrap: true,
                          compaction: {{ {compaction} }} }} }},
  tools: {{ deny: ["*"] }},
  models: {{ providers: {{ fake: {{
    baseUrl: "{base}", apiKey: "sk-fake", api: "openai-completions",
    models: [ {{ id: "small", contextWindow: 600, maxTokens: 100 }},
              {{ id: "other", contextWindow: 128000, maxTokens: 4096 }} ] }} }} }}
}}"#,
        base = fake.base_url()
    );
    std::fs::write(home.path().join("hearth.json"), config).expect("write config");
    let gateway = Some(start_in(home.path()).await);
    TestGateway {
        gateway,
        fake,
        home,
    }
}

fn send(message: impl Into<String>) -> ChatSendParams {
    ChatSendParams {
        message: message.into(),
        ..ChatSendParams::default()
    }
}

/// A user message of about 100 tokens that names its turn.
fn long_message(i: usize) -> String {
    format!("turn {i:02}: {}", "lorem ipsum dolor sit amet ".repeat(14))
}

fn messages_of(request: &RecordedRequest) -> Vec<Value> {
    request.body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn text_of(message: &Value) -> String {
    match &message["content"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_summary_request(request: &RecordedRequest) -> bool {
    messages_of(request)
        .iter()
        .any(|m| text_of(m).starts_with("Summarise this conversation"))
}

fn is_flush_request(request: &RecordedRequest) -> bool {
    messages_of(request)
        .iter()
        .any(|m| text_of(m).contains("is about to be condensed"))
}

#[tokio::test]
async fn a_long_conversation_is_compacted_and_the_transcript_kept() {
    let t = small_window_gateway(r#"reserveTokens: 120, keepRecentTokens: 150"#).await;
    let client = t.client().await;
    let mut events = client.events();
    let turns = 8;
    for i in 0..turns {
        chat_final(&client, send(long_message(i))).await;
    }
    let compaction = next_event(&mut events, |e| match e {
        Event::Agent(a) => match a.data {
            AgentEventData::Compaction {
                messages_summarised,
                tokens_before,
                tokens_after,
            } => Some((messages_summarised, tokens_before, tokens_after)),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert!(
        compaction.0 > 0 && compaction.2 < compaction.1,
        "{compaction:?}"
    );

    let requests = t.fake.requests();
    let summary_at = requests
        .iter()
        .position(is_summary_request)
        .expect("a summary request was sent");
    // The memory flush comes first, with the whole context.
    assert!(
        requests[..summary_at].iter().any(is_flush_request),
        "no memory flush before the summary"
    );
    let summary_request = messages_of(&requests[summary_at]);
    let rendered = text_of(summary_request.last().unwrap());
    assert!(
        rendered.contains("turn 00:"),
        "the oldest turn is summarised"
    );
    let system = text_of(&summary_request[0]);
    assert!(system.contains("Open tasks") && system.contains("User preferences"));

    // The next turn's request: system prompt, the summary, then only recent turns.
    let next = &requests[summary_at + 1];
    assert!(!is_summary_request(next) && !is_flush_request(next));
    let sent = messages_of(next);
    assert_eq!(sent[0]["role"], "system");
    assert_eq!(sent[1]["role"], "system");
    assert!(
        text_of(&sent[1]).starts_with(SUMMARY_MARKER),
        "{:?}",
        sent[1]
    );
    assert!(text_of(&sent[1]).contains(ANSWER));
    let rest: Vec<String> = sent[2..].iter().map(text_of).collect();
    assert!(
        !rest.iter().any(|m| m.contains("turn 00:")),
        "the summarised turns are not sent: {rest:?}"
    );
    assert!(rest.last().unwrap().starts_with("turn "));

    // The store still has every message, with the summary marked among them.
    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap();
    let plain: Vec<_> = history
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .collect();
    assert_eq!(plain.len(), turns * 2);
    assert!(plain[0].plain_text().starts_with("turn 00:"));
    let summaries: Vec<_> = history
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .collect();
    assert!(!summaries.is_empty());
    assert!(summaries[0].plain_text().starts_with(SUMMARY_MARKER));

    // The flush had no write tool: the gateway wrote the model's notes to today's file.
    let memory = t.home.path().join("workspace").join("memory");
    let files: Vec<_> = std::fs::read_dir(&memory)
        .expect("memory folder")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.len() == "YYYY-MM-DD.md".len() && name.ends_with(".md"),
        "{name}"
    );
    let notes = std::fs::read_to_string(&files[0]).unwrap();
    assert!(notes.contains(ANSWER));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // One flush per compaction point, never more flushes than summaries.
    let flushes = t
        .fake
        .requests()
        .iter()
        .filter(|r| is_flush_request(r))
        .count();
    let summaries_sent = t
        .fake
        .requests()
        .iter()
        .filter(|r| is_summary_request(r))
        .count();
    assert!(
        flushes >= 1 && flushes <= summaries_sent,
        "{flushes} flushes, {summaries_sent} summaries"
    );
}

#[tokio::test]
async fn compact_on_demand_by_command_and_method() {
    let t = small_window_gateway(r#"mode: "off", memoryFlush: false"#).await;
    let client = t.client().await;

    let empty = client
        .call::<spec::ChatSend>(send("/compact"))
        .await
        .unwrap();
    assert_eq!(empty.status, RunAcceptance::Command);
    assert!(empty.reply.unwrap().starts_with("Nothing to compact"));

    for i in 0..3 {
        chat_final(&client, send(format!("short turn {i}"))).await;
    }
    assert!(
        !t.fake.requests().iter().any(is_summary_request),
        "mode off never compacts on its own"
    );
    let done = client
        .call::<spec::ChatSend>(send("/compact"))
        .await
        .unwrap();
    let reply = done.reply.unwrap();
    assert!(reply.starts_with("Compacted: "), "{reply}");
    assert!(reply.contains("earlier messages summarised"), "{reply}");
    assert!(t.fake.requests().iter().any(is_summary_request));
    assert!(
        !t.fake.requests().iter().any(is_flush_request),
        "memoryFlush: false"
    );

    chat_final(&client, send("after the summary")).await;
    let last = t.fake.last_request().unwrap();
    let sent = messages_of(&last);
    assert!(text_of(&sent[1]).starts_with(SUMMARY_MARKER));
    assert!(!sent.iter().any(|m| text_of(m) == "short turn 0"));

    let result = client
        .call::<spec::SessionsCompact>(SessionKeyParams { key: "main".into() })
        .await
        .unwrap();
    assert_eq!(result.key, "agent:main:main");
    assert!(result.compacted);
    assert!(result.messages_summarised > 0);

    let missing = client
        .call::<spec::SessionsCompact>(SessionKeyParams {
            key: "nobody".into(),
        })
        .await
        .unwrap();
    assert!(!missing.compacted);
}

#[tokio::test]
async fn model_switches_per_session_and_persists() {
    let mut t = small_window_gateway(r#"mode: "off""#).await;
    let client = t.client().await;

    let shown = client
        .call::<spec::ChatSend>(send("/model"))
        .await
        .unwrap()
        .reply
        .unwrap();
    assert!(
        shown.contains("fake/small") && shown.contains("fake/other"),
        "{shown}"
    );

    let refused = client
        .call::<spec::ChatSend>(send("/model bogus/x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("bogus/x") && refused.contains("fake/other"),
        "{refused}"
    );

    let set = client
        .call::<spec::ChatSend>(send("/model fake/other"))
        .await
        .unwrap()
        .reply
        .unwrap();
    assert!(set.contains("fake/other"), "{set}");
    chat_final(&client, send("which model?")).await;
    assert_eq!(t.fake.last_request().unwrap().body["model"], "other");

    drop(client);
    t.restart().await;
    let client = t.client().await;
    chat_final(&client, send("still the same?")).await;
    assert_eq!(t.fake.last_request().unwrap().body["model"], "other");
    let status = client
        .call::<spec::ChatSend>(send("/status"))
        .await
        .unwrap()
        .reply
        .unwrap();
    assert!(status.contains("Model: fake/other"), "{status}");

    client
        .call::<spec::ChatSend>(send("/model default"))
        .await
        .unwrap();
    chat_final(&client, send("back?")).await;
    assert_eq!(t.fake.last_request().unwrap().body["model"], "small");
    // Another session never saw the switch.
    chat_final(
        &client,
        ChatSendParams {
            session_key: Some("elsewhere".into()),
            ..send("hello")
        },
    )
    .await;
    assert_eq!(t.fake.last_request().unwrap().body["model"], "small");
}
