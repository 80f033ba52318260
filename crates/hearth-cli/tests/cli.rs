//! The `hearth` binary as a user runs it: real processes, real signals, a fake provider.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hearth_test_utils::{FakeOpenAi, Reply};

const TOKEN: &str = "cli-test-token";

fn hearth(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.env("HEARTH_HOME", home)
        .env("HEARTH_SECRETS_BACKEND", "file")
        .env_remove("HEARTH_SECRETS_KEY")
        .env_remove("HEARTH_SECRETS_PASSPHRASE")
        .env_remove("HEARTH_GATEWAY_URL")
        .env_remove("HEARTH_GATEWAY_TOKEN")
        .env("HEARTH_LOG", "warn");
    cmd
}

fn run(home: &Path, args: &[&str]) -> Output {
    hearth(home)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(home: &Path, port: u16, fake: &FakeOpenAi, token: Option<&str>) {
    let auth = token
        .map(|t| format!(r#"auth: {{ token: "{t}" }},"#))
        .unwrap_or_default();
    let cfg = format!(
        r#"{{
  // written by the CLI tests
  gateway: {{ port: {port}, {auth} shutdownTimeoutSeconds: 5 }},
  agents: {{ defaults: {{ model: {{ primary: "fake/fake-model" }} }} }},
  models: {{ providers: {{ fake: {{ baseUrl: "{}", apiKey: "sk-cli", models: [{{ id: "fake-model" }}] }} }} }},
}}"#,
        fake.base_url()
    );
    std::fs::write(home.join("hearth.json"), cfg).unwrap();
}

fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "gateway did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Foreground(Child);

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "process did not exit within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn config_validate_reports_every_problem() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("hearth.json"),
        r#"{ gateway: { prot: 1, bind: "everywhere" }, models: { providers: { x: { baseUrl: "ftp://x", api: "openai" } } } }"#,
    )
    .unwrap();
    let out = run(home.path(), &["config", "validate"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    for needle in [
        "gateway.prot",
        "did you mean `port`",
        "gateway.bind",
        "models.providers.x.api",
    ] {
        assert!(t.contains(needle), "missing {needle} in:\n{t}");
    }
    let out = run(home.path(), &["config", "validate", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert!(v["issues"].as_array().unwrap().len() >= 3);
}

#[test]
fn config_set_writes_only_valid_files() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["config", "set", "gateway.port", "18790"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(home.path(), &["config", "get", "gateway.port"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "18790");
    let before = std::fs::read_to_string(home.path().join("hearth.json")).unwrap();
    let out = run(home.path(), &["config", "set", "gateway.port", "\"abc\""]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("gateway.port"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(home.path().join("hearth.json")).unwrap(),
        before,
        "nothing written"
    );
    let out = run(
        home.path(),
        &[
            "config",
            "set",
            "agents.defaults.model.primary",
            "openai/gpt-4o",
        ],
    );
    // A warning (no such provider) is an error here: the ref must name a configured provider.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = run(home.path(), &["config", "schema"]);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema["properties"]["gateway"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_gateway_chat_sessions_and_graceful_stop() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    write_config(home.path(), port, &fake, Some(TOKEN));
    let mut gw = Foreground(
        hearth(home.path())
            .env_remove("HEARTH_LOG")
            .args(["gateway", "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(port);

    fake.push(Reply::text("Hi from the CLI test."));
    let out = run(home.path(), &["chat", "-m", "hello", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["text"], "Hi from the CLI test.");
    assert_eq!(v["sessionKey"], "agent:main:main");

    let out = run(home.path(), &["chat", "-m", "second"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "echo: second");

    let out = run(home.path(), &["sessions", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sessions"][0]["messageCount"], 4);
    let out = run(home.path(), &["sessions", "show", "main"]);
    assert!(
        text(&out).contains("Hi from the CLI test."),
        "{}",
        text(&out)
    );

    let out = run(home.path(), &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["defaultAgent"], "main");

    let out = run(home.path(), &["dashboard"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("http://127.0.0.1:{port}/#token={TOKEN}")
    );

    fake.push(Reply::text("x"));
    fake.set_default(Reply::Echo);
    signal(&gw.0, nix::sys::signal::Signal::SIGTERM);
    let status = wait_exit(&mut gw.0, Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    assert!(!home.path().join("gateway.pid").exists());
    // Logs went to the JSON log file.
    let logs: Vec<_> = std::fs::read_dir(home.path().join("logs"))
        .unwrap()
        .flatten()
        .collect();
    let log = logs
        .iter()
        .find(|e| e.file_name().to_string_lossy().starts_with("hearth"))
        .expect("a log file");
    let content = std::fs::read_to_string(log.path()).unwrap();
    assert!(content.contains("\"gateway ready\""), "{content}");
    assert!(
        !content.contains(TOKEN) && !content.contains("sk-cli"),
        "no secrets in logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_signal_quits_at_once() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::Stall);
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    write_config(home.path(), port, &fake, Some(TOKEN));
    let mut gw = Foreground(
        hearth(home.path())
            .args(["gateway", "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(port);
    let mut chat = hearth(home.path())
        .args(["chat", "-m", "never answered"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(fake.wait_for_requests(1, Duration::from_secs(20)).await);
    signal(&gw.0, nix::sys::signal::Signal::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    assert!(gw.0.try_wait().unwrap().is_none(), "still draining the run");
    signal(&gw.0, nix::sys::signal::Signal::SIGINT);
    let status = wait_exit(&mut gw.0, Duration::from_secs(3));
    assert_eq!(status.code(), Some(130));
    let _ = chat.kill();
    let _ = chat.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_start_status_stop() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    write_config(home.path(), port, &fake, None);
    let out = run(home.path(), &["gateway", "start"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!("http://127.0.0.1:{port}/#token=")),
        "{t}"
    );
    let pid: i32 = std::fs::read_to_string(home.path().join("gateway.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let out = run(home.path(), &["gateway", "status"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(home.path(), &["gateway", "start"]);
    assert!(text(&out).contains("already running"));
    // The generated token works for the CLI's own calls.
    let out = run(home.path(), &["chat", "-m", "ping"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "echo: ping",
        "{}",
        text(&out)
    );
    let out = run(home.path(), &["gateway", "stop"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err(),
        "process gone"
    );
    let out = run(home.path(), &["gateway", "status"]);
    assert_eq!(out.status.code(), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_moves_literal_secrets_into_the_store() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    write_config(home.path(), port, &fake, Some(TOKEN));
    let out = run(home.path(), &["doctor"]);
    let t = text(&out);
    assert!(
        t.contains("gateway.auth.token is written in the config file"),
        "{t}"
    );
    assert!(t.contains("models.providers.fake.apiKey"), "{t}");
    assert!(t.contains("encrypted-file"), "{t}");
    assert!(t.contains("provider fake"), "{t}");

    let out = run(home.path(), &["doctor", "--fix"]);
    assert!(
        text(&out).contains("moved models.providers.fake.apiKey"),
        "{}",
        text(&out)
    );
    let cfg = std::fs::read_to_string(home.path().join("hearth.json")).unwrap();
    assert!(!cfg.contains("sk-cli") && !cfg.contains(TOKEN), "{cfg}");
    assert!(
        cfg.contains(r#""secret": "models.providers.fake.apiKey""#),
        "{cfg}"
    );
    let out = run(home.path(), &["secrets", "list"]);
    assert!(text(&out).contains("gateway.auth.token"));

    // The gateway still starts and uses both secrets from the store.
    fake.require_key("sk-cli");
    let mut gw = Foreground(
        hearth(home.path())
            .args(["gateway", "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(port);
    let out = run(home.path(), &["chat", "-m", "with stored keys"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "echo: with stored keys",
        "{}",
        text(&out)
    );
    signal(&gw.0, nix::sys::signal::Signal::SIGTERM);
    wait_exit(&mut gw.0, Duration::from_secs(20));
}

#[test]
fn lan_bind_without_auth_is_refused() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("hearth.json"),
        r#"{ gateway: { port: 0, auth: { mode: "none" } } }"#,
    )
    .unwrap();
    let out = run(home.path(), &["gateway", "run", "--bind", "lan"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("without auth"), "{}", text(&out));
}

#[test]
fn completions_are_generated() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["completions", "bash"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("hearth"));
}

#[test]
fn gateway_install_writes_a_systemd_unit_and_uninstall_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("hearth");
    let xdg = dir.path().join("xdg");
    let install = hearth(&home)
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", &xdg)
        .args([
            "gateway",
            "install",
            "--no-start",
            "--manager",
            "systemd",
            "--port",
            "18795",
        ])
        .output()
        .unwrap();
    assert!(install.status.success(), "{}", text(&install));
    let unit_path = xdg.join("systemd/user/hearth-gateway.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_hearth")).unwrap();
    assert!(
        unit.contains(&format!(
            "ExecStart={} gateway run --port 18795",
            exe.display()
        )),
        "{unit}"
    );
    assert!(
        unit.contains(&format!("HEARTH_HOME={}", home.display())),
        "{unit}"
    );
    assert!(text(&install).contains("systemctl --user enable --now hearth-gateway.service"));

    // systemd's own parser accepts the unit where the tool exists.
    if Path::new("/usr/bin/systemd-analyze").exists() {
        let verify = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&unit_path)
            .output()
            .unwrap();
        let out = text(&verify);
        assert!(
            !out.contains("hearth-gateway.service:"),
            "systemd-analyze found problems in the unit:\n{out}"
        );
    }

    let uninstall = hearth(&home)
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["gateway", "uninstall", "--no-start", "--manager", "systemd"])
        .output()
        .unwrap();
    assert!(uninstall.status.success(), "{}", text(&uninstall));
    assert!(!unit_path.exists());
}

#[test]
fn gateway_install_writes_a_launchd_agent() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("hearth");
    let out = hearth(&home)
        .env("HOME", dir.path())
        .args(["gateway", "install", "--no-start", "--manager", "launchd"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let plist = std::fs::read_to_string(
        dir.path()
            .join("Library/LaunchAgents/dev.hearth.gateway.plist"),
    )
    .unwrap();
    assert!(plist.contains("<key>ProgramArguments</key>"), "{plist}");
    assert!(
        plist.contains(&format!("<string>{}</string>", home.display())),
        "{plist}"
    );
    // Well-formed XML: python's plist parser reads it back.
    let check = Command::new("python3")
        .args([
            "-c",
            "import plistlib,sys; d=plistlib.load(open(sys.argv[1],'rb')); \
             assert d['Label']=='dev.hearth.gateway'; assert d['ProgramArguments'][1:3]==['gateway','run']",
        ])
        .arg(dir.path().join("Library/LaunchAgents/dev.hearth.gateway.plist"))
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_asks_each_provider_for_its_models_with_the_configured_key() {
    let fake = FakeOpenAi::start().await;
    fake.set_models(vec!["fake-model".into(), "fake-large".into()]);
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), free_port(), &fake, Some(TOKEN));

    fake.require_key("sk-cli");
    let t = text(&run(home.path(), &["doctor"]));
    assert!(t.contains("answers; it lists 2 models"), "{t}");

    fake.require_key("sk-somebody-else");
    let t = text(&run(home.path(), &["doctor"]));
    assert!(t.contains("refused the API key"), "{t}");
    assert!(!t.contains("sk-cli"), "the key is never printed: {t}");
}
