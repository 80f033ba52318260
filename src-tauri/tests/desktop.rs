//! The desktop app for real, as a person would use it: this build's `hearth-desktop` binary on a
//! virtual display (Xvfb) with a private session bus (dbus-run-session), a fresh home, and real
//! desktop services around it (a tray watcher and a notification daemon on the bus,
//! gnome-keyring's Secret Service, WebKitWebDriver through tauri-driver).
//!
//! Each test runs one scenario of `tests/desktop/run.py` (its docstring says what each checks)
//! and fails with the scenario's reason. Missing system packages fail the test with the command
//! that installs them; nothing is skipped. Screenshots and logs go to `$HEARTH_ARTIFACTS`
//! (default `target/artifacts/desktop/`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hearth_test_utils::{FakeOpenAi, FakeToolCall, Reply};

const APP: &str = env!("CARGO_BIN_EXE_hearth-desktop");
/// The system Python: the one with Debian's D-Bus bindings (python3-dbus, python3-gi).
const PYTHON: &str = "/usr/bin/python3";
/// Longer than the scenario's own deadline (240 s), which reports what it was waiting for.
const SCENARIO_DEADLINE: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("src-tauri is inside the repository")
        .to_path_buf()
}

fn artifacts() -> PathBuf {
    match std::env::var_os("HEARTH_ARTIFACTS") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| repo_root().join("target"), PathBuf::from);
            target.join("artifacts").join("desktop")
        }
    }
}

async fn run_scenario(name: &str, fake: Option<&FakeOpenAi>) {
    assert!(
        Path::new(PYTHON).exists(),
        "{PYTHON} is missing; install it with: sudo apt-get install -y python3 python3-dbus python3-gi"
    );
    let mut cmd = tokio::process::Command::new(PYTHON);
    cmd.arg(repo_root().join("tests/desktop/run.py"))
        .arg(name)
        .arg("--app")
        .arg(APP)
        .arg("--artifacts")
        .arg(artifacts())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(fake) = fake {
        cmd.arg("--fake-openai").arg(fake.base_url());
    }
    let out = tokio::time::timeout(SCENARIO_DEADLINE, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("the `{name}` scenario did not finish"))
        .expect("run.py starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the `{name}` desktop scenario failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_window_shows_the_control_ui() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::text("Hello from the fake model."));
    run_scenario("window", Some(&fake)).await;
    let shot = artifacts().join("window.png");
    let png = std::fs::read(&shot).expect("the screenshot was saved");
    assert!(
        png.starts_with(b"\x89PNG"),
        "{} is not a PNG",
        shot.display()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tray_menu_controls_the_gateway_autostart_and_quit() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::text("Hello from the fake model."));
    run_scenario("tray", Some(&fake)).await;
    assert_eq!(fake.request_count(), 1, "the chat that makes a session");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exec_approval_is_answered_from_its_notification() {
    let fake = FakeOpenAi::start().await;
    let command = "echo approved-by-notification > approved.txt";
    fake.push(Reply::tool_calls([FakeToolCall::new(
        "call-1",
        "exec",
        serde_json::json!({ "command": command }).to_string(),
    )]));
    fake.push(Reply::text("The command ran."));
    run_scenario("notification", Some(&fake)).await;
    // The model got the approved command's outcome back as the tool result.
    let last = fake.last_request().expect("the fake model was called");
    let messages = last.body["messages"].as_array().expect("messages");
    let tool = messages
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("a tool result");
    let result = tool["content"].to_string();
    assert!(result.contains("[exit code 0]"), "{result}");
}

#[tokio::test(flavor = "multi_thread")]
async fn headless_without_a_display_keeps_its_token_in_the_secret_service() {
    run_scenario("secret", None).await;
}
