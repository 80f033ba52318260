//! `hearth usage` and `hearth audit` against a running gateway: a chat's cost shows up per
//! sender and against a budget, and its model call and a config change are in the audit trail.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Gateway, free_port, run, text};
use hearth_test_utils::{FakeOpenAi, Reply};
use serde_json::Value;

const TOKEN: &str = "usage-audit-test-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_budgets_and_the_audit_trail_from_the_command_line() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        home.path().join("hearth.json"),
        format!(
            r#"{{
  gateway: {{ port: {port}, auth: {{ token: "{TOKEN}" }}, shutdownTimeoutSeconds: 2 }},
  agents: {{ defaults: {{ model: {{ primary: "fake/fake-model" }} }} }},
  models: {{ providers: {{ fake: {{ baseUrl: "{}", apiKey: "sk-cli", models: [{{ id: "fake-model", cost: {{ input: 1, output: 1 }} }}] }} }} }},
  budgets: [ {{ scope: "agent:main", daily: 100 }} ],
}}"#,
            fake.base_url()
        ),
    )
    .unwrap();
    let _gateway = Gateway::start(home.path(), port);
    fake.push(Reply::text("Hi from the fake."));
    let out = run(home.path(), &["chat", "-m", "hello"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = run(home.path(), &["usage", "--days", "2", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["totals"]["runs"], 1, "{report}");
    assert_eq!(report["summary"]["bySender"][0]["key"], "webchat:owner");
    let budget = &report["budgets"][0];
    assert_eq!(budget["scope"], "agent:main");
    assert_eq!(budget["period"], "day");
    assert_eq!(budget["exceeded"], false);
    assert!(budget["spent"].as_f64().unwrap() > 0.0, "{budget}");

    let out = run(home.path(), &["usage", "--by", "sender"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("SENDER") && shown.contains("webchat:owner"),
        "{shown}"
    );
    assert!(
        shown.contains("agent:main") && shown.contains("% used"),
        "{shown}"
    );

    let out = run(
        home.path(),
        &["config", "set", "agents.defaults.timeoutSeconds", "99"],
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = run(home.path(), &["audit", "tail", "-n", "10"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("model.request") && shown.contains("provider=fake"),
        "{shown}"
    );

    // `config set` edits the file; the gateway's watcher applies it.
    let deadline = Instant::now() + Duration::from_secs(15);
    let found = loop {
        let out = run(
            home.path(),
            &[
                "audit",
                "search",
                "--kind",
                "config.change",
                "--since",
                "1h",
                "--json",
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        let found: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        if !found.is_empty() || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["paths"][0], "agents.defaults.timeoutSeconds");
    assert_eq!(found[0]["actor"], "file");
    assert_eq!(found[0]["log"], "gateway");

    let out = run(home.path(), &["audit", "search", "--since", "soon"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--since takes"), "{}", text(&out));
}
