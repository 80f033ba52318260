//! `hearth approvals` against a running gateway: a command an agent wants to run shows up in
//! `list` and runs once approved; an unknown id is an error.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hearth_test_utils::{FakeOpenAi, FakeToolCall, Reply};

const TOKEN: &str = "approvals-test-token";

fn hearth(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.env("HEARTH_HOME", home)
        .env("HEARTH_SECRETS_BACKEND", "file")
        .env_remove("HEARTH_GATEWAY_URL")
        .env_remove("HEARTH_GATEWAY_TOKEN")
        .env("HEARTH_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

fn run(home: &Path, args: &[&str]) -> Output {
    hearth(home).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_command_is_listed_and_runs_once_approved() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
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
    let _gateway = Killed(
        hearth(home.path())
            .args(["gateway", "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "gateway did not start");
        std::thread::sleep(Duration::from_millis(20));
    }

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
