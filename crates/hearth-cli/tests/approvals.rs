//! `hearth approvals` against a running gateway: a command an agent wants to run shows up in
//! `list` and runs once approved; an unknown id is an error.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Gateway, free_port, hearth, run, text};
use hearth_test_utils::{FakeOpenAi, FakeToolCall, Reply};

const TOKEN: &str = "approvals-test-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_command_is_listed_and_runs_once_approved() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        home.path().join("hearth.json"),
        format!(
            r#"{{
  gateway: {{ port: {port}, auth: {{ token: "{TOKEN}" }}, shutdownTimeoutSeconds: 2 }},
  agents: {{ defaults: {{ model: {{ primary: "fake/fake-model" }} }} }},
  models: {{ providers: {{ fake: {{ baseUrl: "{}", apiKey: "sk-cli", models: [{{ id: "fake-model" }}] }} }} }},
  tools: {{ profile: "coding" }},
}}"#,
            fake.base_url()
        ),
    )
    .unwrap();
    let _gateway = Gateway::start(home.path(), port);

    let out = run(home.path(), &["approvals", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("No commands are waiting"),
        "{}",
        text(&out)
    );

    fake.push(Reply::tool_calls([FakeToolCall::new(
        "c1",
        "exec",
        r#"{"command": "echo from-cli > cli.txt"}"#,
    )]));
    fake.push(Reply::text("Ran it."));
    // Ends on its own once the gateway is gone, if the test fails before it finishes.
    let chat = hearth(home.path())
        .args(["chat", "-m", "run it"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let id = loop {
        let out = run(home.path(), &["approvals", "list", "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if let Some(first) = v["approvals"].as_array().and_then(|a| a.first()) {
            assert_eq!(first["command"], "echo from-cli > cli.txt");
            break first["id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no approval request appeared");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = run(home.path(), &["approvals", "approve", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("approved"), "{}", text(&out));

    let finished = chat.wait_with_output().unwrap();
    assert!(finished.status.success(), "{}", text(&finished));
    assert!(text(&finished).contains("Ran it."), "{}", text(&finished));
    assert_eq!(
        std::fs::read_to_string(home.path().join("workspace/cli.txt")).unwrap(),
        "from-cli\n"
    );

    let out = run(home.path(), &["approvals", "deny", &id]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("no exec approval"), "{}", text(&out));
}
