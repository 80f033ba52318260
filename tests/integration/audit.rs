//! The audit trail end to end: a Telegram message routed by a binding leaves `inbound`, `route`,
//! `model.request` and `outbound` in that binding's log; a `config.patch` leaves `config.change`
//! in `gateway.jsonl`; message text is recorded only with `audit.content: true`. Read back
//! through `audit.tail` and `audit.search`, and checked in the files themselves.

use std::time::Duration;

use hearth_client::Client;
use hearth_protocol::methods::{
    AuditSearchParams, AuditTailParams, ChannelState, ConfigPatchParams, Empty, spec,
};
use hearth_test_utils::{FakeTelegram, Reply};
use serde_json::{Value, json};

use crate::harness::TestGateway;

const WAIT: Duration = Duration::from_secs(15);

/// A gateway with Telegram open to everyone and a binding `tg` for the whole channel.
async fn telegram_gateway(extra: &str) -> (TestGateway, FakeTelegram) {
    let telegram = FakeTelegram::start().await;
    let config = format!(
        r#"channels: {{ telegram: {{ botToken: "{}", apiRoot: "{}", dmPolicy: "open", allowFrom: ["*"] }} }},
  bindings: [ {{ agentId: "main", match: {{ channel: "telegram" }}, name: "tg" }} ],
  {extra}"#,
        telegram.token(),
        telegram.url()
    );
    let t = TestGateway::start_with(&config).await;
    let client = t.client().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = client.call::<spec::ChannelsStatus>(Empty {}).await.unwrap();
        if status
            .channels
            .iter()
            .any(|c| c.channel == "telegram" && c.state == ChannelState::Connected)
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (t, telegram)
}

/// Waits until `log` holds an entry of `kind`; answers the whole log.
async fn wait_for_kind(client: &Client, log: &str, kind: &str) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let tail = client
            .call::<spec::AuditTail>(AuditTailParams {
                log: Some(log.to_owned()),
                limit: Some(1000),
            })
            .await
            .unwrap();
        if tail.entries.iter().any(|e| e["kind"] == kind) {
            return tail.entries;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no `{kind}` in {log}: {:?}",
            tail.entries
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn of_kind<'a>(entries: &'a [Value], kind: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no `{kind}` in {entries:?}"))
}

#[tokio::test]
async fn a_telegram_message_is_audited_in_its_bindings_log() {
    let (t, telegram) = telegram_gateway("").await;
    t.fake.push(Reply::text("Hello, Ann."));
    telegram.dm(4242, "Ann", "hi there, secret plans");
    let sent = telegram.outbox().wait_for("4242", 1, WAIT).await;
    assert_eq!(sent[0].text, "Hello, Ann.");

    let client = t.client().await;
    let entries = wait_for_kind(&client, "tg", "outbound").await;
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["inbound", "route", "model.request", "outbound"],
        "{entries:?}"
    );
    let inbound = of_kind(&entries, "inbound");
    assert_eq!(inbound["channel"], "telegram");
    assert_eq!(inbound["account"], "default");
    assert_eq!(inbound["chatId"], "4242");
    assert_eq!(inbound["peerKind"], "direct");
    assert_eq!(inbound["sender"], "telegram:4242");
    assert_eq!(inbound["chars"], "hi there, secret plans".len());
    assert!(
        inbound.get("text").is_none(),
        "text without audit.content: {inbound}"
    );
    let route = of_kind(&entries, "route");
    assert_eq!(route["binding"], "tg");
    assert_eq!(route["matchedBy"], "channel");
    assert_eq!(route["agentId"], "main");
    assert_eq!(route["person"], "telegram:4242");
    let session_key = route["sessionKey"].as_str().unwrap();
    let request = of_kind(&entries, "model.request");
    assert_eq!(request["sessionKey"], session_key);
    assert_eq!(request["provider"], "fake");
    assert_eq!(request["model"], "fake-model");
    assert_eq!(request["status"], "ok");
    assert!(request["inputTokens"].as_u64().unwrap() > 0);
    assert!(request["cost"].as_f64().unwrap() > 0.0);
    let outbound = of_kind(&entries, "outbound");
    assert_eq!(outbound["status"], "sent");
    assert_eq!(outbound["attempts"], 1);
    assert_eq!(outbound["chatId"], "4242");
    let ts: Vec<i64> = entries.iter().map(|e| e["ts"].as_i64().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{ts:?}");

    // The file itself: one JSON object a line, owner-only, and no message text anywhere.
    let path = t.home.path().join("audit").join("tg.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 4);
    for line in text.lines() {
        assert!(serde_json::from_str::<Value>(line).unwrap().is_object());
    }
    assert!(!text.contains("secret plans") && !text.contains("Hello, Ann"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Found again by a search across logs, newest first, each entry with its log.
    let found = client
        .call::<spec::AuditSearch>(AuditSearchParams {
            kind: Some("route".into()),
            ..AuditSearchParams::default()
        })
        .await
        .unwrap();
    assert_eq!(found.entries.len(), 1);
    assert_eq!(found.entries[0]["log"], "tg");
    let none = client
        .call::<spec::AuditSearch>(AuditSearchParams {
            query: Some("SECRET PLANS".into()),
            ..AuditSearchParams::default()
        })
        .await
        .unwrap();
    assert!(none.entries.is_empty());
    let tail = client
        .call::<spec::AuditTail>(AuditTailParams::default())
        .await
        .unwrap();
    assert_eq!(tail.log, "gateway");
    assert!(tail.logs.contains(&"tg".to_owned()), "{:?}", tail.logs);
    let refused = client
        .call::<spec::AuditTail>(AuditTailParams {
            log: Some("../hearth".into()),
            limit: None,
        })
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("not an audit log name"),
        "{refused}"
    );
}

#[tokio::test]
async fn message_text_is_recorded_with_audit_content_on() {
    let (t, telegram) = telegram_gateway("audit: { content: true },").await;
    t.fake.push(Reply::text("Noted."));
    telegram.dm(7, "Bo", "please remember the blue door");
    telegram.outbox().wait_for("7", 1, WAIT).await;
    let client = t.client().await;
    let entries = wait_for_kind(&client, "tg", "inbound").await;
    assert_eq!(
        of_kind(&entries, "inbound")["text"],
        "please remember the blue door"
    );
    let found = client
        .call::<spec::AuditSearch>(AuditSearchParams {
            query: Some("BLUE DOOR".into()),
            ..AuditSearchParams::default()
        })
        .await
        .unwrap();
    assert_eq!(found.entries.len(), 1);
    assert_eq!(found.entries[0]["kind"], "inbound");
}

#[tokio::test]
async fn a_config_patch_is_audited_with_its_paths_hashes_and_actor() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let before = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    let patch = json!({ "agents": { "defaults": { "timeoutSeconds": 77 } } });
    let written = client
        .call::<spec::ConfigPatch>(ConfigPatchParams {
            patch: patch.as_object().unwrap().clone(),
            base_hash: before.hash.clone(),
        })
        .await
        .unwrap();
    let entries = wait_for_kind(&client, "gateway", "config.change").await;
    let change = of_kind(&entries, "config.change");
    assert_eq!(change["paths"], json!(["agents.defaults.timeoutSeconds"]));
    assert_eq!(change["oldHash"], before.hash.as_str());
    assert_eq!(change["newHash"], written.hash.as_str());
    // The test client connects in `cli` mode.
    assert_eq!(change["actor"], "cli");

    // An edit of the file itself is the file's.
    let path = t.home.path().join("hearth.json");
    let text = std::fs::read_to_string(&path).unwrap().replace("77", "78");
    std::fs::write(&path, text).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = client
            .call::<spec::AuditSearch>(AuditSearchParams {
                kind: Some("config.change".into()),
                log: Some("gateway".into()),
                ..AuditSearchParams::default()
            })
            .await
            .unwrap();
        if found.entries.len() == 2 {
            assert_eq!(found.entries[0]["actor"], "file");
            assert_eq!(found.entries[1]["actor"], "cli");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{found:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
