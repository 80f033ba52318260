//! What the binary's tests share: running `hearth` against a private home, reading its output,
//! and a background gateway killed when the test ends.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `hearth` with `home` as its state directory, the encrypted-file secret store, and no gateway
/// address or token from the test runner's environment.
pub fn hearth(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.env("HEARTH_HOME", home)
        .env("HEARTH_SECRETS_BACKEND", "file")
        .env_remove("HEARTH_GATEWAY_URL")
        .env_remove("HEARTH_GATEWAY_TOKEN")
        .env("HEARTH_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

pub fn run(home: &Path, args: &[&str]) -> Output {
    hearth(home).args(args).output().expect("hearth runs")
}

/// Everything the command printed.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A `hearth gateway run` child, killed (SIGKILL) when dropped.
pub struct Gateway(pub Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Gateway {
    /// Starts `hearth gateway run` and waits until `port` accepts connections.
    pub fn start(home: &Path, port: u16) -> Gateway {
        let child = hearth(home)
            .args(["gateway", "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gateway spawns");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "gateway did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Gateway(child)
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Writes `hearth.json`: the gateway on `port` with `token`, the fake model at `base_url` as
/// the default, and `extra` (top-level keys, JSON5).
pub fn write_config(home: &Path, port: u16, token: &str, base_url: &str, extra: &str) {
    std::fs::write(
        home.join("hearth.json"),
        format!(
            r#"{{
  gateway: {{ port: {port}, auth: {{ token: "{token}" }}, shutdownTimeoutSeconds: 2 }},
  agents: {{ defaults: {{ model: {{ primary: "fake/fake-model" }} }} }},
  models: {{ providers: {{ fake: {{ baseUrl: "{base_url}", apiKey: "sk-cli", models: [{{ id: "fake-model", cost: {{ input: 1, output: 1 }} }}] }} }} }},
  {extra}
}}"#
        ),
    )
    .expect("write the config");
}

/// Runs `hearth <args>`, which must succeed; everything it printed.
pub fn ok(home: &Path, args: &[&str]) -> String {
    let out = run(home, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    text(&out)
}

/// `POST /hooks/agent` with the webhook token `token`; the id of the accepted call.
pub async fn post_agent(port: u16, token: &str, message: &str) -> String {
    let answer = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/hooks/agent"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "message": message }))
        .send()
        .await
        .expect("the webhook answers");
    assert_eq!(answer.status(), reqwest::StatusCode::ACCEPTED);
    let body: serde_json::Value = answer.json().await.expect("JSON");
    body["id"].as_str().expect("an id").to_owned()
}
