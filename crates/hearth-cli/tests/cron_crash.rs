//! At most once under a crash, through the real `hearth` binary: a gateway killed with SIGKILL
//! between claiming a fire and finishing it reports the fire `interrupted` after a restart and
//! does not run it again, unless the job asks for that (`--rerun-interrupted`), in which case it
//! runs exactly once more. A webhook call cut short the same way is reported `interrupted`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Gateway, free_port, post_agent, run, text, write_config};
use hearth_test_utils::{FakeOpenAi, Reply};

const TOKEN: &str = "cron-crash-token";
const HOOK_TOKEN: &str = "cron-crash-webhook-token-0123456789";

fn cli(home: &Path, port: u16, args: &[&str]) -> String {
    let out = common::hearth(home)
        .env("HEARTH_GATEWAY_URL", format!("ws://127.0.0.1:{port}/"))
        .env("HEARTH_GATEWAY_TOKEN", TOKEN)
        .args(args)
        .output()
        .unwrap();
    let printed = text(&out);
    assert!(out.status.success(), "hearth {args:?}: {printed}");
    printed
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The job's fires as JSON, newest first.
fn fires(home: &Path, port: u16, job: &str) -> Vec<serde_json::Value> {
    let printed = cli(home, port, &["cron", "history", job, "--json"]);
    let start = printed.find(['[', '{']).unwrap_or(0);
    let value: serde_json::Value = serde_json::from_str(printed[start..].trim()).unwrap();
    match value {
        serde_json::Value::Array(items) => items,
        other => other["fires"].as_array().cloned().unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fire_killed_mid_run_is_reported_interrupted_and_not_run_twice() {
    let model = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    write_config(
        home.path(),
        port,
        TOKEN,
        &model.base_url(),
        &format!(
            r#"hooks: {{ enabled: true, token: "{HOOK_TOKEN}" }}, cron: {{ maxConcurrentRuns: 3 }},"#
        ),
    );
    let mut gateway = Gateway::start(home.path(), port);

    // Both jobs fall due in two seconds, and a webhook call comes in; the model holds all
    // three answers far longer.
    for _ in 0..3 {
        model.push(Reply::delayed(
            Duration::from_secs(60),
            Reply::text("too late"),
        ));
    }
    let call = post_agent(port, HOOK_TOKEN, "summarise the deploy").await;
    let at = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2))
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string();
    cli(
        home.path(),
        port,
        &[
            "cron",
            "add",
            "report",
            "--at",
            &at,
            "--tz",
            "UTC",
            "--prompt",
            "weekly report",
        ],
    );
    cli(
        home.path(),
        port,
        &[
            "cron",
            "add",
            "retry",
            "--at",
            &at,
            "--tz",
            "UTC",
            "--prompt",
            "retry me",
            "--rerun-interrupted",
        ],
    );
    until("both fires and the call with the model", || {
        model.request_count() >= 3
    })
    .await;
    // Claimed and running: the store says so before the crash.
    for job in ["report", "retry"] {
        let f = fires(home.path(), port, job);
        assert_eq!(f.len(), 1, "{job}: {f:?}");
        assert_eq!(f[0]["status"], "running", "{job}: {f:?}");
    }
    gateway.0.kill().unwrap();
    gateway.0.wait().unwrap();

    model.push(Reply::text("retried after the crash"));
    let _gateway = Gateway::start(home.path(), port);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (report, retry) = loop {
        let report = fires(home.path(), port, "report");
        let retry = fires(home.path(), port, "retry");
        if report[0]["status"] != "running" && retry[0]["status"] == "completed" {
            break (report, retry);
        }
        assert!(Instant::now() < deadline, "{report:?} {retry:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Anything run twice would show within a moment more.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0]["status"], "interrupted", "{report:?}");
    assert_eq!(retry.len(), 1, "the same fire, run again: {retry:?}");
    assert_eq!(retry[0]["trigger"], "rerun");
    assert_eq!(retry[0]["output"], "retried after the crash");
    assert_eq!(
        model.request_count(),
        4,
        "three before the crash, one rerun"
    );
    let call = cli(home.path(), port, &["hooks", "get", &call, "--json"]);
    let call: serde_json::Value = serde_json::from_str(&call[call.find('{').unwrap()..]).unwrap();
    assert_eq!(call["status"], "interrupted", "{call}");
    // The CLI finds the gateway from the home's config too.
    let listed = text(&run(home.path(), &["cron", "list"]));
    assert!(
        listed.contains("report") && listed.contains("retry"),
        "{listed}"
    );
}
