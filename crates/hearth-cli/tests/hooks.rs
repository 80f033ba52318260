//! `hearth hooks` against a running gateway with webhooks on: a call posted with the webhook
//! token is listed with its status and the fake model's answer, `get` prints it in full, the
//! mappings are shown without their signing secret, and `--hook` filters the calls.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Gateway, free_port, ok, post_agent, run, text, write_config};
use hearth_test_utils::{FakeOpenAi, Reply};
use serde_json::Value;

const TOKEN: &str = "hooks-cli-gateway-token";
const HOOK_TOKEN: &str = "hooks-cli-webhook-token-0123456789";
const GH_SECRET: &str = "gh-signing-secret-4711";

fn hooks_section() -> String {
    format!(
        r#"  hooks: {{ enabled: true, token: "{HOOK_TOKEN}", mappings: [
    {{ name: "github", deliver: "none", ratePerMinute: 30,
       signature: {{ style: "github", secret: "{GH_SECRET}" }} }},
    {{ name: "nudge", action: "wake" }},
  ] }},"#
    )
}

/// Reads the call with `hearth hooks get --json` until it has ended.
fn wait_for_end(home: &std::path::Path, id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let call: Value = serde_json::from_str(&ok(home, &["hooks", "get", id, "--json"])).unwrap();
        if call["status"] != "queued" && call["status"] != "running" {
            return call;
        }
        assert!(std::time::Instant::now() < deadline, "never ended: {call}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_calls_from_the_command_line() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::text("Deploy 42 is live.\nNo errors in the log."));
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let port = free_port();
    write_config(h, port, TOKEN, &fake.base_url(), &hooks_section());
    let _gateway = Gateway::start(h, port);

    let empty = ok(h, &["hooks", "list"]);
    assert!(
        empty.starts_with("Webhooks are on at /hooks"),
        "the header says where: {empty}"
    );
    assert!(empty.contains("No webhook calls yet."), "{empty}");
    let github = empty
        .lines()
        .find(|l| l.starts_with("github"))
        .expect("the mapping is listed");
    for part in ["agent", "none", "github", "30/min"] {
        assert!(github.contains(part), "{part}: {github}");
    }
    let nudge = empty.lines().find(|l| l.starts_with("nudge")).unwrap();
    assert!(nudge.contains("wake"), "{nudge}");
    assert!(!empty.contains(GH_SECRET) && !empty.contains(HOOK_TOKEN));

    let id = post_agent(port, HOOK_TOKEN, "Deploy 42 finished; summarise it").await;
    let call = wait_for_end(h, &id);
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(call["hook"], "agent");

    let listed = ok(h, &["hooks", "list"]);
    assert!(
        listed.contains("RECEIVED") && listed.contains("DELIVERED"),
        "{listed}"
    );
    let row = listed
        .lines()
        .find(|l| l.contains("completed"))
        .expect("the call is listed");
    assert!(
        row.contains("agent") && row.ends_with("Deploy 42 is live."),
        "the first line of the answer: {row}"
    );

    let got = ok(h, &["hooks", "get", &id]);
    assert!(got.contains("call:") && got.contains(&id), "{got}");
    assert!(got.contains("completed"), "{got}");
    assert!(
        got.ends_with("Deploy 42 is live.\nNo errors in the log.\n"),
        "the whole answer: {got}"
    );

    let json: Value = serde_json::from_str(&ok(h, &["hooks", "list", "--json"])).unwrap();
    assert_eq!(json["enabled"], true);
    assert_eq!(json["path"], "/hooks");
    assert_eq!(json["calls"][0]["id"], id.as_str(), "{json}");
    assert_eq!(json["mappings"][0]["signature"], "github", "{json}");
    assert!(!json.to_string().contains(GH_SECRET), "{json}");

    let filtered = ok(h, &["hooks", "list", "--hook", "github"]);
    assert!(filtered.contains("No calls to `github`."), "{filtered}");
    let only: Value = serde_json::from_str(&ok(
        h,
        &["hooks", "list", "--hook", "agent", "-n", "1", "--json"],
    ))
    .unwrap();
    assert_eq!(only["calls"].as_array().unwrap().len(), 1, "{only}");

    let missing = run(h, &["hooks", "get", "nope"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("no webhook call `nope`"),
        "{}",
        text(&missing)
    );
}
