//! Channels through the real `hearth` binary: a gateway killed with SIGKILL while messages are in
//! flight answers every accepted message exactly once after a restart and delivers what was
//! queued; and the `hearth channels` / `hearth pairing` commands.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Gateway, free_port, run, text};
use hearth_test_utils::telegram::FakeTelegram;
use hearth_test_utils::{FakeOpenAi, Reply};

const TOKEN: &str = "channels-test-token";

fn write_config(home: &Path, port: u16, model: &FakeOpenAi, telegram: &FakeTelegram, policy: &str) {
    std::fs::write(
        home.join("hearth.json"),
        format!(
            r#"{{
  gateway: {{ port: {port}, auth: {{ token: "{TOKEN}" }}, shutdownTimeoutSeconds: 2 }},
  agents: {{ defaults: {{ model: {{ primary: "fake/fake-model" }} }} }},
  models: {{ providers: {{ fake: {{ baseUrl: "{}", apiKey: "sk-cli", models: [{{ id: "fake-model" }}] }} }} }},
  channels: {{ telegram: {{ botToken: "{}", apiRoot: "{}", streaming: false, {policy} }} }},
}}"#,
            model.base_url(),
            telegram.token(),
            telegram.url()
        ),
    )
    .unwrap();
}

fn start(home: &Path, port: u16) -> Gateway {
    Gateway::start(home, port)
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_gateway_answers_every_accepted_message_exactly_once() {
    let model = FakeOpenAi::start().await;
    let telegram = FakeTelegram::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    write_config(
        home.path(),
        port,
        &model,
        &telegram,
        r#"dmPolicy: "open", allowFrom: ["*"]"#,
    );
    let mut gateway = start(home.path(), port);

    // Two answers are ready but the platform says "slow down for a minute": they wait in the
    // outbound queue.
    telegram.rate_limit_next(2, 60);
    model.push(Reply::Echo);
    model.push(Reply::Echo);
    telegram.dm(6, "Fay", "msg 6");
    telegram.dm(7, "Gus", "msg 7");
    until("two refused sends", || {
        telegram.calls("sendMessage").len() >= 2
    })
    .await;
    // Five more are with the model when the gateway dies.
    for _ in 0..5 {
        model.push(Reply::delayed(Duration::from_secs(30), Reply::Echo));
    }
    for user in 1..=5 {
        telegram.dm(user, "User", &format!("msg {user}"));
    }
    until("five runs in flight", || model.request_count() >= 7).await;
    gateway.0.kill().unwrap();
    gateway.0.wait().unwrap();
    assert!(
        telegram.outbox().all().is_empty(),
        "nothing was delivered before the crash"
    );

    let _gateway = start(home.path(), port);
    let sent = telegram
        .outbox()
        .wait_until(Duration::from_secs(30), |all| all.len() >= 7)
        .await;
    // Anything doubled would show up within a moment more.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = if sent.len() >= 7 {
        telegram.outbox().all()
    } else {
        sent
    };
    for user in 1..=7 {
        let chat = user.to_string();
        let answers: Vec<_> = sent.iter().filter(|m| m.chat_id == chat).collect();
        assert_eq!(answers.len(), 1, "chat {chat}: {answers:?}");
        assert_eq!(answers[0].text, format!("echo: msg {user}"));
    }
    assert_eq!(sent.len(), 7, "{sent:?}");
    // The five interrupted runs ran again; the two answered ones did not.
    assert_eq!(model.request_count(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_and_pairing_from_the_command_line() {
    let model = FakeOpenAi::start().await;
    let telegram = FakeTelegram::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    write_config(home.path(), port, &model, &telegram, "");
    let _gateway = start(home.path(), port);

    let mut listed = String::new();
    until("telegram connected", || {
        listed = text(&run(home.path(), &["channels", "list"]));
        listed.contains("connected")
    })
    .await;
    assert!(
        listed.contains("telegram") && listed.contains("@hearth_test_bot"),
        "{listed}"
    );

    telegram.dm(4242, "Ann", "hello");
    let mut pending = String::new();
    until("a pairing request", || {
        pending = text(&run(home.path(), &["pairing", "list"]));
        pending.contains("4242")
    })
    .await;
    let code = pending.split_whitespace().next().unwrap().to_owned();
    assert_eq!(code.len(), 8, "{pending}");
    assert_eq!(model.request_count(), 0);

    let wrong = run(home.path(), &["pairing", "approve", "NOPE1234"]);
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("no pending pairing request"),
        "{}",
        text(&wrong)
    );
    let approved = run(home.path(), &["pairing", "approve", &code]);
    assert!(approved.status.success(), "{}", text(&approved));
    assert!(
        text(&approved).contains("approved Ann"),
        "{}",
        text(&approved)
    );
    let after = text(&run(home.path(), &["pairing", "list"]));
    assert!(
        after.contains("Approved senders") && after.contains("4242"),
        "{after}"
    );

    let status = text(&run(home.path(), &["channels", "status"]));
    assert!(status.contains("pairing 1"), "{status}");
    let paused = run(home.path(), &["channels", "pause"]);
    assert!(paused.status.success(), "{}", text(&paused));
    until("paused", || {
        text(&run(home.path(), &["channels", "list"])).contains("paused")
    })
    .await;
    run(home.path(), &["channels", "resume"]);
    until("connected again", || {
        text(&run(home.path(), &["channels", "list"])).contains("connected")
    })
    .await;
}
