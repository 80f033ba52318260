use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use hearth_protocol::transcript::Message;
use hearth_providers::ToolSpec;
use hearth_test_utils::{FakeOpenAi, FakeToolCall, Reply};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::agent::tools::{Tool, ToolBox, ToolContext, testing};
use crate::agent::{TurnContext, TurnSession, run_turn};

fn settings(max_file_bytes: u64, max_files: u32) -> AuditConfig {
    AuditConfig {
        max_file_bytes,
        max_files,
        ..AuditConfig::default()
    }
}

fn inbound_event(text: &str) -> AuditEvent {
    AuditEvent::Inbound(InboundRecord {
        channel: "telegram".into(),
        account: "default".into(),
        chat_id: "42".into(),
        peer_kind: "direct".into(),
        sender: "telegram:42".into(),
        message_id: "7".into(),
        chars: text.chars().count() as u64,
        attachments: 0,
        text: Some(text.to_owned()),
    })
}

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_kind_is_one_flat_json_line() {
    let cases: Vec<(AuditEvent, Value)> = vec![
        (
            inbound_event("hi"),
            json!({"ts": 5, "kind": "inbound", "channel": "telegram", "account": "default",
                "chatId": "42", "peerKind": "direct", "sender": "telegram:42", "messageId": "7",
                "chars": 2, "attachments": 0, "text": "hi"}),
        ),
        (
            AuditEvent::Route(RouteRecord {
                channel: "telegram".into(),
                account: "default".into(),
                sender: "telegram:42".into(),
                person: "ann".into(),
                agent_id: "work".into(),
                binding: None,
                matched_by: "default".into(),
                session_key: "agent:work:direct:ann".into(),
            }),
            json!({"ts": 5, "kind": "route", "channel": "telegram", "account": "default",
                "sender": "telegram:42", "person": "ann", "agentId": "work", "binding": null,
                "matchedBy": "default", "sessionKey": "agent:work:direct:ann"}),
        ),
        (
            AuditEvent::ModelRequest(ModelRequestRecord {
                run_id: "r1".into(),
                session_key: "agent:main:main".into(),
                agent_id: "main".into(),
                provider: "openai".into(),
                model: "gpt-x".into(),
                request_id: Some("req_1".into()),
                input_tokens: 10,
                output_tokens: 2,
                cache_read_tokens: 1,
                cache_write_tokens: 0,
                cost: Some(0.5),
                status: RequestStatus::Ok,
                error: None,
            }),
            json!({"ts": 5, "kind": "model.request", "runId": "r1", "sessionKey": "agent:main:main",
                "agentId": "main", "provider": "openai", "model": "gpt-x", "requestId": "req_1",
                "inputTokens": 10, "outputTokens": 2, "cacheReadTokens": 1, "cacheWriteTokens": 0,
                "cost": 0.5, "status": "ok", "error": null}),
        ),
        (
            AuditEvent::ToolCall(ToolCallRecord {
                run_id: "r1".into(),
                session_key: "agent:main:main".into(),
                tool: "exec".into(),
                args_sha256: sha256_hex("{}"),
                status: ToolStatus::Refused,
                approval: None,
                duration_ms: 0,
            }),
            json!({"ts": 5, "kind": "tool.call", "runId": "r1", "sessionKey": "agent:main:main",
                "tool": "exec",
                "argsSha256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
                "status": "refused", "durationMs": 0}),
        ),
        (
            AuditEvent::Outbound(OutboundRecord {
                channel: "telegram".into(),
                account: "default".into(),
                chat_id: "42".into(),
                status: OutboundStatus::GaveUp,
                attempts: 6,
                error: Some("refused (HTTP 403)".into()),
            }),
            json!({"ts": 5, "kind": "outbound", "channel": "telegram", "account": "default",
                "chatId": "42", "status": "gaveUp", "attempts": 6, "error": "refused (HTTP 403)"}),
        ),
        (
            AuditEvent::ConfigChange(ConfigChangeRecord {
                actor: Actor::Cli,
                paths: vec!["agents.defaults.model.primary".into()],
                old_hash: "a".into(),
                new_hash: "b".into(),
            }),
            json!({"ts": 5, "kind": "config.change", "actor": "cli",
                "paths": ["agents.defaults.model.primary"], "oldHash": "a", "newHash": "b"}),
        ),
        (
            AuditEvent::Budget(BudgetRecord {
                scope: "agent:main".into(),
                period: BudgetPeriod::Day,
                spent: 1.25,
                limit: 1.0,
                action: BudgetActionKind::Stop,
            }),
            json!({"ts": 5, "kind": "budget", "scope": "agent:main", "period": "day",
                "spent": 1.25, "limit": 1.0, "action": "stop"}),
        ),
        (
            AuditEvent::IdentityLink(IdentityLinkRecord {
                name: "ann".into(),
                identities: vec!["telegram:42".into(), "webchat:owner".into()],
                action: "linked".into(),
            }),
            json!({"ts": 5, "kind": "identity.link", "name": "ann",
                "identities": ["telegram:42", "webchat:owner"], "action": "linked"}),
        ),
    ];
    for (event, expected) in cases {
        let line = files::line(5, &event).unwrap();
        assert!(!line.contains('\n'), "{line}");
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value, expected, "{}", event.kind());
        assert_eq!(value["kind"], event.kind());
        // `ts` and `kind` lead, so a line reads well in a terminal.
        assert!(
            line.starts_with(&format!(r#"{{"ts":5,"kind":"{}""#, event.kind())),
            "{line}"
        );
    }
}

#[tokio::test]
async fn files_rotate_at_the_size_limit_and_keep_max_files() {
    let dir = tempfile::tempdir().unwrap();
    let audit = Audit::new(dir.path().to_path_buf(), &settings(1_000, 2));
    for i in 0..40 {
        audit.record(None, inbound_event(&format!("message {i}")));
    }
    audit.flush().await;
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["gateway.1.jsonl", "gateway.2.jsonl", "gateway.jsonl"]
    );
    let mut kept = 0;
    for name in &names {
        let path = dir.path().join(name);
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size <= 1_000, "{name}: {size} bytes");
        kept += read_lines(&path).len();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }
    assert!(kept < 40, "older files were deleted: {kept} lines kept");
    // Reading back spans the rotated files, in order, ending with the newest record.
    let all = files::tail(dir.path(), GATEWAY_LOG, 1000);
    assert_eq!(all.len(), kept);
    let ts: Vec<i64> = all.iter().map(|e| e["ts"].as_i64().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{ts:?}");
    assert_eq!(all.last().unwrap()["chars"], "message 39".len());
    let last_three = files::tail(dir.path(), GATEWAY_LOG, 3);
    assert_eq!(last_three, all[all.len() - 3..]);
    assert_eq!(files::list_logs(dir.path()), ["gateway"]);
    // No rotated file at all: the full file is emptied instead.
    audit.configure(&settings(1_000, 0));
    for i in 0..20 {
        audit.record(Some("solo"), inbound_event(&format!("message {i}")));
    }
    audit.close().await;
    assert!(!dir.path().join("solo.1.jsonl").exists());
    assert!(
        std::fs::metadata(dir.path().join("solo.jsonl"))
            .unwrap()
            .len()
            <= 1_000
    );
    // Closed: later records are dropped and counted.
    audit.record(None, inbound_event("late"));
    assert_eq!(audit.dropped(), 1);
}

#[tokio::test]
async fn text_is_recorded_only_with_content_on_and_nothing_when_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let audit = Audit::new(dir.path().to_path_buf(), &AuditConfig::default());
    audit.record(Some("telegram-peer-42"), inbound_event("secret plans"));
    audit.configure(&AuditConfig {
        content: true,
        ..AuditConfig::default()
    });
    audit.record(Some("telegram-peer-42"), inbound_event("shared plans"));
    audit.configure(&AuditConfig {
        enabled: false,
        content: true,
        ..AuditConfig::default()
    });
    audit.record(Some("telegram-peer-42"), inbound_event("unrecorded"));
    audit.flush().await;
    let lines = read_lines(&dir.path().join("telegram-peer-42.jsonl"));
    assert_eq!(lines.len(), 2);
    assert!(lines[0].get("text").is_none(), "{}", lines[0]);
    assert_eq!(lines[0]["chars"], 12);
    assert_eq!(lines[1]["text"], "shared plans");
    assert!(!dir.path().join("gateway.jsonl").exists());
}

#[test]
fn a_writer_that_cannot_keep_up_drops_and_counts() {
    // No async runtime here: the writer cannot start, so the channel fills.
    let dir = tempfile::tempdir().unwrap();
    let audit = Audit::new(dir.path().to_path_buf(), &AuditConfig::default());
    for _ in 0..CHANNEL_CAPACITY + 3 {
        audit.record(None, inbound_event("x"));
    }
    assert_eq!(audit.dropped(), 3);
}

#[test]
fn binding_names_become_safe_log_names() {
    assert_eq!(log_name(None), "gateway");
    assert_eq!(log_name(Some("  ")), "gateway");
    assert_eq!(log_name(Some("telegram-peer-123")), "telegram-peer-123");
    assert_eq!(log_name(Some("../etc/passwd")), "___etc_passwd");
    assert_eq!(log_name(Some("team.v2")), "team_v2");
}

#[test]
fn config_paths_name_what_changed_and_nothing_else() {
    let before = json!({"a": {"b": 1, "c": [1, 2], "d": [1]}, "e": "x", "gone": true});
    let after = json!({"a": {"b": 2, "c": [1, 3], "d": [1, 2]}, "e": "x", "new": null, "added": 1});
    assert_eq!(
        changed_paths(&before, &after),
        ["a.b", "a.c[1]", "a.d", "gone", "added"]
    );
    assert!(changed_paths(&before, &before).is_empty());
    assert_eq!(changed_paths(&json!(1), &json!(2)), ["$"]);
}

#[test]
fn outbound_records_find_the_binding_of_their_conversation() {
    let mut routes = Routes::default();
    let chat = |c: &str| ("telegram".to_owned(), "default".to_owned(), c.to_owned());
    routes.remember("in-1", chat("42"), Some("vip".into()));
    routes.remember("in-2", chat("43"), None);
    assert_eq!(
        routes.binding_of(Some("in-1"), &chat("0")),
        Some("vip".into())
    );
    // A message not answering an inbound one (a pairing code) goes by its chat.
    assert_eq!(routes.binding_of(None, &chat("42")), Some("vip".into()));
    assert_eq!(routes.binding_of(None, &chat("43")), None);
    assert_eq!(routes.binding_of(Some("unknown"), &chat("99")), None);
    for i in 0..REMEMBERED_ROUTES {
        routes.remember(&format!("x-{i}"), chat("44"), None);
    }
    assert_eq!(routes.binding_of(Some("in-1"), &chat("0")), None);
    assert_eq!(routes.binding_of(None, &chat("42")), None);
    assert!(routes.by_inbound.len() <= REMEMBERED_ROUTES);
}

/// Echoes its argument: a tool whose arguments carry the marker.
#[derive(Debug)]
struct Echo;

#[async_trait]
impl Tool for Echo {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "echo".into(),
            description: "echoes".into(),
            parameters: json!({
                "type": "object",
                "properties": { "text": { "type": "string" } },
                "required": ["text"]
            }),
        }
    }
    async fn call(&self, _ctx: &ToolContext, arguments: Value) -> crate::agent::tools::ToolOutput {
        crate::agent::tools::ToolOutput::ok(arguments["text"].as_str().unwrap_or_default())
    }
}

#[tokio::test]
async fn a_turn_leaves_no_secret_in_any_audit_file() {
    const MARKER: &str = "Zq9MARKERx7";
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let config: hearth_config::Config = serde_json::from_value(json!({
        "agents": { "defaults": { "model": { "primary": "fake/fake-model" } } },
        "models": { "providers": { "fake": {
            "baseUrl": fake.base_url(), "apiKey": format!("sk-{MARKER}"), "api": "openai-completions",
            "models": [ { "id": "fake-model", "cost": { "input": 1, "output": 2 } } ]
        } } }
    }))
    .unwrap();
    let rt = testing::runtime(home.path(), config).await;
    let arguments = json!({"text": format!("the password is {MARKER}")}).to_string();
    fake.push(Reply::tool_calls([FakeToolCall::new(
        "c1",
        "echo",
        arguments.clone(),
    )]));
    fake.push(Reply::text("done"));
    let live = rt.live();
    let request = crate::agent::TurnRequest {
        run_id: "run-1".into(),
        agent: live.agents.default_agent().clone(),
        session: TurnSession::Persistent {
            key: "agent:main:main".into(),
            channel: "webchat".into(),
            sender: None,
        },
        input: Message::user(format!("remember {MARKER}")),
        extra_system: None,
        tools: ToolBox::new(vec![Arc::new(Echo)]),
        cancel: CancellationToken::new(),
        observer: None,
        context: TurnContext {
            binding: Some("vip".into()),
            ..TurnContext::default()
        },
    };
    let outcome = run_turn(&rt, request).await.unwrap();
    assert_eq!(outcome.message.plain_text(), "done");
    // The key did reach the provider: the marker is there to be leaked.
    let sent = fake.requests()[0]
        .header("authorization")
        .map(str::to_owned);
    assert!(sent.is_some_and(|h| h.contains(MARKER)));
    rt.audit.flush().await;

    let dir = home.path().join("audit");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(MARKER), "{} leaks: {text}", path.display());
        files += 1;
    }
    assert_eq!(files, 1, "only the binding's log");
    let lines = read_lines(&dir.join("vip.jsonl"));
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["model.request", "tool.call", "model.request"]);
    let call = &lines[1];
    assert_eq!(call["tool"], "echo");
    assert_eq!(call["status"], "ok");
    // The hash of the arguments as the model sent them (compact JSON), so equal calls match.
    let args: Value = serde_json::from_str(&arguments).unwrap();
    assert_eq!(call["argsSha256"], sha256_hex(&args.to_string()));
    let request = &lines[0];
    assert_eq!(request["provider"], "fake");
    assert_eq!(request["model"], "fake-model");
    assert_eq!(request["status"], "ok");
    assert_eq!(request["runId"], "run-1");
    assert!(request["inputTokens"].as_u64().unwrap() > 0);
    assert!(request["cost"].as_f64().unwrap() > 0.0);
}
