//! Built-in tools end to end: a scripted model calls tools through the real turn loop; the
//! policy decides what is offered; exec approvals are decided over the WebSocket.

use hearth_protocol::events::{ChatState, Event, ExecApprovalDecision};
use hearth_protocol::methods::{ChatSendParams, Empty, ExecApprovalResolveParams, spec};
use hearth_test_utils::{FakeToolCall, Reply};
use serde_json::Value;

use crate::harness::{TestGateway, chat_final, next_event};

fn send(message: &str) -> ChatSendParams {
    ChatSendParams {
        message: message.to_owned(),
        ..ChatSendParams::default()
    }
}

fn call(id: &str, name: &str, arguments: Value) -> Reply {
    Reply::tool_calls([FakeToolCall::new(id, name, arguments.to_string())])
}

/// The tool results the model received in its last request, in order.
fn tool_results(t: &TestGateway) -> Vec<String> {
    let body = t.fake.last_request().unwrap().body;
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The tool names offered in the first request of the test.
fn offered_tools(t: &TestGateway) -> Vec<String> {
    let body = &t.fake.requests()[0].body;
    body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|tool| tool["function"]["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_model_writes_then_reads_a_file_then_answers() {
    let t = TestGateway::start_with(r#"tools: { profile: "coding" },"#).await;
    t.fake.push(call(
        "c1",
        "write",
        serde_json::json!({"path": "notes/plan.md", "content": "1. test the tools\n"}),
    ));
    t.fake.push(call(
        "c2",
        "read",
        serde_json::json!({"path": "notes/plan.md"}),
    ));
    t.fake.push(Reply::text("The plan is written."));
    let client = t.client().await;
    let answer = chat_final(&client, send("write the plan down")).await;
    assert_eq!(answer.plain_text(), "The plan is written.");

    let file = t.home.path().join("workspace/notes/plan.md");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "1. test the tools\n"
    );
    let results = tool_results(&t);
    assert_eq!(results.len(), 2);
    assert!(
        results[0].contains("wrote 18 bytes to notes/plan.md"),
        "{results:?}"
    );
    assert_eq!(results[1], "1. test the tools\n");
    // The stored tool results carry how long each tool ran, for the transcript views.
    let history = client
        .call::<hearth_protocol::methods::spec::ChatHistory>(Default::default())
        .await
        .unwrap();
    let timed: Vec<_> = history
        .messages
        .iter()
        .filter(|m| m.role == hearth_protocol::transcript::Role::Tool)
        .map(|m| m.duration_ms)
        .collect();
    assert_eq!(timed.len(), 2);
    assert!(timed.iter().all(Option::is_some), "{timed:?}");
    let offered = offered_tools(&t);
    for name in [
        "read",
        "write",
        "edit",
        "apply_patch",
        "exec",
        "memory_search",
    ] {
        assert!(
            offered.iter().any(|o| o == name),
            "{name} not in {offered:?}"
        );
    }
    assert!(!offered.iter().any(|o| o == "web_fetch"), "{offered:?}");
}

#[tokio::test]
async fn a_call_to_a_tool_the_agent_is_not_offered_is_refused_and_not_run() {
    // The default profile: memory and sessions only.
    let t = TestGateway::start().await;
    t.fake.push(call(
        "c1",
        "exec",
        serde_json::json!({"command": "touch pwned"}),
    ));
    t.fake.push(call(
        "c2",
        "write",
        serde_json::json!({"path": "pwned.txt", "content": "x"}),
    ));
    t.fake.push(Reply::text("I cannot do that."));
    let client = t.client().await;
    let answer = chat_final(&client, send("run something")).await;
    assert_eq!(answer.plain_text(), "I cannot do that.");
    let offered = offered_tools(&t);
    assert_eq!(
        offered,
        [
            "memory_get",
            "memory_search",
            "sessions_list",
            "sessions_history"
        ]
    );
    let results = tool_results(&t);
    assert_eq!(results.len(), 2);
    for r in &results {
        assert!(r.contains("not available to this agent"), "{r}");
    }
    let workspace = t.home.path().join("workspace");
    assert!(!workspace.join("pwned").exists() && !workspace.join("pwned.txt").exists());
    assert!(!t.home.path().join("pwned").exists());
}

/// Sends a message whose turn asks to run `command`, waits for the approval request and
/// answers the approval's id.
async fn request_approval(
    t: &TestGateway,
    client: &hearth_client::Client,
    events: &mut tokio::sync::broadcast::Receiver<hearth_protocol::frame::EventFrame>,
    command: &str,
) -> (String, String) {
    t.fake.push(call(
        "c1",
        "exec",
        serde_json::json!({ "command": command }),
    ));
    t.fake.push(Reply::text("Finished."));
    let run = client
        .call::<spec::ChatSend>(send("run the command"))
        .await
        .unwrap();
    let approval = next_event(events, |e| match e {
        Event::ExecApprovalRequested(a) => Some(a),
        _ => None,
    })
    .await;
    assert_eq!(approval.command, command);
    assert_eq!(approval.run_id, run.run_id);
    assert_eq!(approval.session_key, "agent:main:main");
    assert_eq!(approval.agent_id, "main");
    assert!(approval.expires_at_ms > approval.created_at_ms);
    let pending = client
        .call::<spec::ExecApprovalList>(Empty {})
        .await
        .unwrap();
    assert_eq!(pending.approvals, vec![approval.clone()]);
    (approval.id, run.run_id)
}

async fn run_end(
    events: &mut tokio::sync::broadcast::Receiver<hearth_protocol::frame::EventFrame>,
    run_id: &str,
) -> String {
    let end = next_event(events, |e| match e {
        Event::Chat(c) if c.run_id == run_id && c.state != ChatState::Delta => Some(c),
        _ => None,
    })
    .await;
    assert_eq!(end.state, ChatState::Final, "{:?}", end.error);
    end.message.unwrap().plain_text()
}

#[tokio::test]
async fn an_approved_command_runs_and_allow_always_is_remembered() {
    let t = TestGateway::start_with(r#"tools: { profile: "coding" },"#).await;
    let client = t.client().await;
    let mut events = client.events();
    let command = "echo approved >> out.txt";
    let (id, run_id) = request_approval(&t, &client, &mut events, command).await;
    let resolved = client
        .call::<spec::ExecApprovalResolve>(ExecApprovalResolveParams {
            id: id.clone(),
            decision: ExecApprovalDecision::AllowAlways,
        })
        .await
        .unwrap();
    assert_eq!(resolved.id, id);
    let announced = next_event(&mut events, |e| match e {
        Event::ExecApprovalResolved(r) => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(
        (announced.id.as_str(), announced.decision),
        (id.as_str(), ExecApprovalDecision::AllowAlways)
    );
    assert_eq!(run_end(&mut events, &run_id).await, "Finished.");
    let out = t.home.path().join("workspace/out.txt");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "approved\n");
    assert_eq!(tool_results(&t), ["[exit code 0]"]);

    // A second decision on the same id finds nothing.
    let again = client
        .call::<spec::ExecApprovalResolve>(ExecApprovalResolveParams {
            id,
            decision: ExecApprovalDecision::Deny,
        })
        .await
        .unwrap_err();
    assert_eq!(
        again.shape().map(|s| s.code),
        Some(hearth_protocol::frame::ErrorCode::NotFound)
    );

    // "Allow always" was stored: the same command now runs without asking.
    let stored = std::fs::read_to_string(t.home.path().join("exec-approvals.json")).unwrap();
    assert!(stored.contains(command), "{stored}");
    t.fake.push(call(
        "c2",
        "exec",
        serde_json::json!({ "command": command }),
    ));
    t.fake.push(Reply::text("Again."));
    let answer = chat_final(&client, send("once more")).await;
    assert_eq!(answer.plain_text(), "Again.");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "approved\napproved\n"
    );
}

#[tokio::test]
async fn a_denied_command_does_not_run() {
    let t = TestGateway::start_with(r#"tools: { profile: "coding" },"#).await;
    let client = t.client().await;
    let mut events = client.events();
    let (id, run_id) = request_approval(&t, &client, &mut events, "touch denied.txt").await;
    client
        .call::<spec::ExecApprovalResolve>(ExecApprovalResolveParams {
            id,
            decision: ExecApprovalDecision::Deny,
        })
        .await
        .unwrap();
    assert_eq!(run_end(&mut events, &run_id).await, "Finished.");
    assert!(!t.home.path().join("workspace/denied.txt").exists());
    let results = tool_results(&t);
    assert!(results[0].contains("denied"), "{results:?}");
}

#[tokio::test]
async fn an_unanswered_approval_times_out_as_a_denial() {
    let t = TestGateway::start_with(
        r#"tools: { profile: "coding", exec: { approvalTimeoutSec: 1 } },"#,
    )
    .await;
    let client = t.client().await;
    let mut events = client.events();
    let (id, run_id) = request_approval(&t, &client, &mut events, "touch late.txt").await;
    let resolved = next_event(&mut events, |e| match e {
        Event::ExecApprovalResolved(r) => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(resolved.id, id);
    assert_eq!(resolved.decision, ExecApprovalDecision::Deny);
    assert_eq!(resolved.reason.as_deref(), Some("timeout"));
    assert_eq!(run_end(&mut events, &run_id).await, "Finished.");
    assert!(!t.home.path().join("workspace/late.txt").exists());
    let results = tool_results(&t);
    assert!(results[0].contains("nobody approved"), "{results:?}");
    let pending = client
        .call::<spec::ExecApprovalList>(Empty {})
        .await
        .unwrap();
    assert!(pending.approvals.is_empty());
}
