//! Messages that arrive while a run is going (`agents.*.queue.mode`: followup, collect, steer,
//! interrupt) through `chat.send` over WebSocket, and sub-agents (`sessions_spawn`): the
//! child's answer, the depth and children limits, and aborting a parent with its child.

use std::time::Duration;

use hearth_client::Client;
use hearth_protocol::events::{ChatEvent, ChatState, Event};
use hearth_protocol::methods::{
    ChatAbortParams, ChatHistoryParams, ChatSendParams, ChatSendResult, RunAcceptance, spec,
};
use hearth_protocol::transcript::Role;
use hearth_store::{RunRecord, RunStatus};
use hearth_test_utils::{FakeOpenAi, FakeToolCall, RecordedRequest, Reply};
use serde_json::{Value, json};

use crate::harness::{TOKEN, TestGateway, chat_final, next_event, start_in};

/// A gateway whose default agent uses `agent_defaults` (spliced into `agents.defaults`).
async fn gateway(agent_defaults: &str) -> TestGateway {
    gateway_with(agent_defaults, "").await
}

/// A gateway offering `sessions_spawn` (not in the default profile), with `agent_defaults`.
async fn spawning_gateway(agent_defaults: &str) -> TestGateway {
    gateway_with(agent_defaults, r#"tools: { allow: ["sessions_spawn"] },"#).await
}

/// [`gateway`] with `extra` spliced into the top-level object.
async fn gateway_with(agent_defaults: &str, extra: &str) -> TestGateway {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().expect("tempdir");
    let config = format!(
        r#"{{
  gateway: {{ port: 0, auth: {{ mode: "token", token: "{TOKEN}" }} }},
  agents: {{ defaults: {{ model: {{ primary: "fake/m" }}, skipBootstrap: true, {agent_defaults} }} }},
  {extra}
  models: {{ providers: {{ fake: {{
    baseUrl: "{base}", apiKey: "sk-fake", api: "openai-completions",
    models: [ {{ id: "m", contextWindow: 128000, maxTokens: 4096 }} ] }} }} }}
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

fn send(message: &str) -> ChatSendParams {
    ChatSendParams {
        message: message.to_owned(),
        ..ChatSendParams::default()
    }
}

async fn submit(client: &Client, message: &str) -> ChatSendResult {
    client
        .call::<spec::ChatSend>(send(message))
        .await
        .expect("chat.send accepted")
}

/// Waits for the end (final, error or aborted) of run `run_id`.
async fn end_of(
    events: &mut tokio::sync::broadcast::Receiver<hearth_protocol::frame::EventFrame>,
    run_id: &str,
) -> ChatEvent {
    next_event(events, |e| match e {
        Event::Chat(c) if c.run_id == run_id && c.state != ChatState::Delta => Some(c),
        _ => None,
    })
    .await
}

fn final_text(end: &ChatEvent) -> String {
    assert_eq!(end.state, ChatState::Final, "run failed: {:?}", end.error);
    end.message.as_ref().expect("final message").plain_text()
}

/// The texts of the main session's user and assistant messages (tool results left out).
async fn history(client: &Client) -> Vec<String> {
    client
        .call::<spec::ChatHistory>(ChatHistoryParams::default())
        .await
        .unwrap()
        .messages
        .iter()
        .filter(|m| m.role != Role::Tool)
        .map(|m| m.plain_text())
        .collect()
}

fn messages(request: &RecordedRequest) -> Vec<Value> {
    request.body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn text(message: &Value) -> String {
    match &message["content"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn spawn_call(id: &str, args: Value) -> FakeToolCall {
    FakeToolCall::new(id, "sessions_spawn", args.to_string())
}

/// The tool results the model saw in `request`, in order.
fn tool_results(request: &RecordedRequest) -> Vec<String> {
    messages(request)
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(text)
        .collect()
}

/// The runs a sub-agent of `parent` recorded, once there are `n` of them.
async fn child_runs(t: &TestGateway, parent: &str, n: usize) -> Vec<RunRecord> {
    let store = &t.gw().runtime().store;
    for _ in 0..200 {
        let children: Vec<RunRecord> = store
            .recent_runs(50)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.parent_run_id.as_deref() == Some(parent))
            .collect();
        if children.len() >= n {
            return children;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{n} sub-agent runs of {parent} were never recorded");
}

#[tokio::test]
async fn followup_answers_two_messages_in_order() {
    let t = gateway(r#"queue: { mode: "followup" }"#).await;
    t.fake.push(Reply::delayed(
        Duration::from_millis(300),
        Reply::text("answer one"),
    ));
    let client = t.client().await;
    let mut events = client.events();
    let one = submit(&client, "one").await;
    let two = submit(&client, "two").await;
    assert_eq!(
        (one.status, two.status),
        (RunAcceptance::Started, RunAcceptance::Queued)
    );
    assert_eq!(
        final_text(&end_of(&mut events, &one.run_id).await),
        "answer one"
    );
    assert_eq!(
        final_text(&end_of(&mut events, &two.run_id).await),
        "echo: two"
    );
    assert_eq!(
        history(&client).await,
        ["one", "answer one", "two", "echo: two"]
    );
}

#[tokio::test]
async fn collect_merges_messages_sent_while_busy_into_one_model_request() {
    let t = gateway(r#"queue: { mode: "collect" }"#).await;
    t.fake.push(Reply::delayed(
        Duration::from_millis(500),
        Reply::text("first answer"),
    ));
    let client = t.client().await;
    let mut events = client.events();
    let first = submit(&client, "first").await;
    assert!(t.fake.wait_for_requests(1, Duration::from_secs(10)).await);
    let mut later = Vec::new();
    for m in ["milk", "eggs", "bread"] {
        let accepted = submit(&client, m).await;
        assert_eq!(accepted.status, RunAcceptance::Queued);
        later.push(accepted);
    }
    assert_eq!(
        final_text(&end_of(&mut events, &first.run_id).await),
        "first answer"
    );
    let merged = end_of(&mut events, &later[2].run_id).await;
    assert_eq!(final_text(&merged), "echo: milk\n\neggs\n\nbread");
    assert_eq!(t.fake.request_count(), 2, "one model request for the three");
    let last = t.fake.last_request().unwrap();
    let users: Vec<String> = messages(&last)
        .iter()
        .filter(|m| m["role"] == "user")
        .map(text)
        .collect();
    assert_eq!(users, ["first", "milk\n\neggs\n\nbread"]);
    assert_eq!(
        history(&client).await,
        [
            "first",
            "first answer",
            "milk\n\neggs\n\nbread",
            "echo: milk\n\neggs\n\nbread"
        ]
    );
}

#[tokio::test]
async fn steer_puts_the_message_into_the_running_turns_next_model_call() {
    let t = gateway(r#"queue: { mode: "steer" }"#).await;
    t.fake.push(Reply::delayed(
        Duration::from_millis(500),
        Reply::tool_calls([FakeToolCall::new(
            "c1",
            "memory_search",
            r#"{"query":"shopping"}"#,
        )]),
    ));
    t.fake.push(Reply::text("Added oat milk to the list."));
    let client = t.client().await;
    let mut events = client.events();
    let first = submit(&client, "add milk to the list").await;
    assert!(t.fake.wait_for_requests(1, Duration::from_secs(10)).await);
    let steered = submit(&client, "make it oat milk").await;
    assert_eq!(steered.status, RunAcceptance::Queued);
    assert_eq!(
        final_text(&end_of(&mut events, &first.run_id).await),
        "Added oat milk to the list."
    );
    let requests = t.fake.requests();
    assert_eq!(
        requests.len(),
        2,
        "the steered message ran no turn of its own"
    );
    let second = messages(&requests[1]);
    let roles: Vec<&str> = second.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
    assert_eq!(text(&second[4]), "make it oat milk");
    assert_eq!(
        history(&client).await,
        [
            "add milk to the list",
            "",
            "make it oat milk",
            "Added oat milk to the list."
        ]
    );
}

#[tokio::test]
async fn interrupt_aborts_the_running_run_and_answers_the_new_message() {
    let t = gateway(r#"queue: { mode: "interrupt" }"#).await;
    t.fake.push(Reply::Stall);
    let client = t.client().await;
    let mut events = client.events();
    let first = submit(&client, "a poem about cats").await;
    assert!(t.fake.wait_for_requests(1, Duration::from_secs(10)).await);
    let second = submit(&client, "no, about dogs").await;
    assert_eq!(
        end_of(&mut events, &first.run_id).await.state,
        ChatState::Aborted
    );
    assert_eq!(
        final_text(&end_of(&mut events, &second.run_id).await),
        "echo: a poem about cats\n\nno, about dogs"
    );
    let store = &t.gw().runtime().store;
    let aborted = store.get_run(&first.run_id).await.unwrap().unwrap();
    assert_eq!(aborted.status, RunStatus::Aborted);
    assert_eq!(aborted.input, "a poem about cats");
    assert_eq!(
        history(&client).await,
        [
            "a poem about cats\n\nno, about dogs",
            "echo: a poem about cats\n\nno, about dogs"
        ]
    );
}

#[tokio::test]
async fn a_sub_agent_answers_its_parent() {
    let t = spawning_gateway("").await;
    t.fake.push(Reply::tool_calls([spawn_call(
        "s1",
        json!({"task": "Count the sheep in field 7.", "label": "sheep"}),
    )]));
    t.fake.push(Reply::text("There are 42 sheep."));
    t.fake.push(Reply::text("The sub-agent counted 42 sheep."));
    let client = t.client().await;
    let mut events = client.events();
    let run = submit(&client, "How many sheep?").await;
    assert_eq!(
        final_text(&end_of(&mut events, &run.run_id).await),
        "The sub-agent counted 42 sheep."
    );
    let requests = t.fake.requests();
    assert_eq!(requests.len(), 3);
    let child = messages(&requests[1]);
    assert!(text(&child[0]).contains("sub-agent"), "{}", text(&child[0]));
    assert_eq!(text(&child[1]), "Count the sheep in field 7.");
    assert_eq!(tool_results(&requests[2]), ["There are 42 sheep."]);

    let runs = child_runs(&t, &run.run_id, 1).await;
    assert_eq!(runs[0].status, RunStatus::Completed);
    let parent = t
        .gw()
        .runtime()
        .store
        .get_run(&run.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(runs[0].sender, parent.sender, "spent for the same person");
    assert!(
        runs[0].session_key.starts_with("agent:main:subagent:"),
        "{}",
        runs[0].session_key
    );
    // The parent's conversation holds only its own turn.
    assert_eq!(
        history(&client).await,
        ["How many sheep?", "", "The sub-agent counted 42 sheep."]
    );
}

#[tokio::test]
async fn a_grandchild_is_refused_at_the_depth_limit() {
    let t = spawning_gateway("subagents: { maxDepth: 1 }").await;
    t.fake.push(Reply::tool_calls([spawn_call(
        "p1",
        json!({"task": "Plan the trip."}),
    )]));
    t.fake.push(Reply::tool_calls([spawn_call(
        "c1",
        json!({"task": "Book the hotel."}),
    )]));
    t.fake.push(Reply::text("Planned it myself."));
    t.fake.push(Reply::text("The trip is planned."));
    let client = t.client().await;
    let answer = chat_final(&client, send("Plan my trip")).await;
    assert_eq!(answer.plain_text(), "The trip is planned.");
    let requests = t.fake.requests();
    assert_eq!(requests.len(), 4, "no grandchild ever called the model");
    let refusal = tool_results(&requests[2]);
    assert_eq!(refusal.len(), 1);
    assert!(refusal[0].contains("maxDepth"), "{}", refusal[0]);
    assert_eq!(tool_results(&requests[3]), ["Planned it myself."]);
}

#[tokio::test]
async fn a_run_starts_at_most_max_children() {
    let t = spawning_gateway("subagents: { maxChildren: 1 }").await;
    t.fake.push(Reply::tool_calls([
        spawn_call("s1", json!({"task": "Task one."})),
        spawn_call("s2", json!({"task": "Task two."})),
    ]));
    t.fake.push(Reply::text("One is done."));
    t.fake.push(Reply::text("Did what I could."));
    let client = t.client().await;
    let answer = chat_final(&client, send("Do both")).await;
    assert_eq!(answer.plain_text(), "Did what I could.");
    let requests = t.fake.requests();
    assert_eq!(requests.len(), 3);
    let results = tool_results(&requests[2]);
    assert_eq!(results[0], "One is done.");
    assert!(results[1].contains("maxChildren"), "{}", results[1]);
}

#[tokio::test]
async fn aborting_the_parent_aborts_its_sub_agent() {
    let t = spawning_gateway("").await;
    t.fake.push(Reply::tool_calls([spawn_call(
        "s1",
        json!({"task": "Think for a very long time."}),
    )]));
    t.fake.push(Reply::Stall);
    let client = t.client().await;
    let mut events = client.events();
    let run = submit(&client, "Go deep").await;
    assert!(t.fake.wait_for_requests(2, Duration::from_secs(10)).await);
    let aborted = client
        .call::<spec::ChatAbort>(ChatAbortParams {
            session_key: None,
            run_id: None,
        })
        .await
        .unwrap();
    assert_eq!(aborted.run_ids, std::slice::from_ref(&run.run_id));
    assert_eq!(
        end_of(&mut events, &run.run_id).await.state,
        ChatState::Aborted
    );
    let children = child_runs(&t, &run.run_id, 1).await;
    assert_eq!(children[0].status, RunStatus::Aborted);
    assert_eq!(
        children[0].parent_run_id.as_deref(),
        Some(run.run_id.as_str())
    );
    let parent = t
        .gw()
        .runtime()
        .store
        .get_run(&run.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parent.status, RunStatus::Aborted);
    assert_eq!(parent.parent_run_id, None);
}

#[tokio::test]
async fn a_sub_agent_that_takes_too_long_is_stopped() {
    let t = spawning_gateway("subagents: { timeoutSeconds: 1 }").await;
    t.fake.push(Reply::tool_calls([spawn_call(
        "s1",
        json!({"task": "Never finish."}),
    )]));
    t.fake.push(Reply::Stall);
    t.fake.push(Reply::text("It timed out, sorry."));
    let client = t.client().await;
    let mut events = client.events();
    let run = submit(&client, "Try it").await;
    assert_eq!(
        final_text(&end_of(&mut events, &run.run_id).await),
        "It timed out, sorry."
    );
    let results = tool_results(&t.fake.requests()[2]);
    assert!(results[0].contains("timeoutSeconds"), "{}", results[0]);
    let children = child_runs(&t, &run.run_id, 1).await;
    assert_eq!(children[0].status, RunStatus::Aborted);
}
