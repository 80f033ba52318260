//! `config.validate`, `config.set`, `config.patch` and `secrets.*` through the real client: what
//! the Control UI's settings pages do.

use std::time::Duration;

use hearth_protocol::events::{ChatState, Event};
use hearth_protocol::frame::ErrorCode;
use hearth_protocol::methods::{
    ChatSendParams, ConfigPatchParams, ConfigSetParams, ConfigValidateParams, Empty, IssueSeverity,
    SecretsBackendKind, SecretsDeleteParams, SecretsSetParams, spec,
};
use serde_json::json;

use crate::harness::{TestGateway, chat_to_end};

const FILE_SECRETS: &str = r#"secrets: { backend: "file" },"#;

fn config_path(t: &TestGateway) -> std::path::PathBuf {
    t.home.path().join("hearth.json")
}

#[tokio::test]
async fn validate_reports_paths_and_syntax_positions() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let check = |raw: &str| {
        client.call::<spec::ConfigValidate>(ConfigValidateParams {
            raw: raw.to_owned(),
        })
    };

    let syntax = check("{\n  gateway: { port: 1 }\n  agents: {}\n}")
        .await
        .unwrap();
    assert!(!syntax.ok);
    assert_eq!(syntax.issues.len(), 1);
    assert_eq!(
        (syntax.issues[0].line, syntax.issues[0].column),
        (Some(3), Some(3))
    );
    assert_eq!(syntax.issues[0].path, "");

    let rules = check(r#"{ gateway: { prot: 1, bind: "lan", auth: { mode: "none" } } }"#)
        .await
        .unwrap();
    assert!(!rules.ok);
    let paths: Vec<&str> = rules.issues.iter().map(|i| i.path.as_str()).collect();
    assert!(paths.contains(&"gateway.prot"), "{paths:?}");
    let prot = &rules.issues[paths.iter().position(|p| *p == "gateway.prot").unwrap()];
    assert!(
        prot.message.contains("did you mean `port`?"),
        "{}",
        prot.message
    );
    assert_eq!(prot.severity, IssueSeverity::Error);
    assert_eq!(prot.line, None);

    let fine = check("{ channels: { defaults: { dmPolicy: \"open\" } } }")
        .await
        .unwrap();
    assert!(fine.ok);
    assert!(
        fine.issues
            .iter()
            .all(|i| i.severity == IssueSeverity::Warning)
    );
    assert!(
        fine.issues
            .iter()
            .any(|i| i.path == "channels.defaults.dmPolicy")
    );
    // Nothing was written.
    let raw = client.call::<spec::ConfigGet>(Empty {}).await.unwrap().raw;
    assert_eq!(raw, std::fs::read_to_string(config_path(&t)).unwrap());
}

#[tokio::test]
async fn set_writes_the_text_verbatim_and_applies_it_once() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let path = config_path(&t);
    let before = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    assert!(before.exists);
    assert_eq!(before.raw, std::fs::read_to_string(&path).unwrap());

    // Invalid: refused with the issues, and the file is untouched.
    let broken = before.raw.replace("gateway: {", "gateway: { prot: 1,");
    let err = client
        .call::<spec::ConfigSet>(ConfigSetParams {
            raw: broken,
            base_hash: before.hash.clone(),
        })
        .await
        .unwrap_err();
    let shape = err.shape().unwrap();
    assert_eq!(shape.code, ErrorCode::InvalidRequest);
    let issues = &shape.details.as_ref().unwrap()["issues"];
    assert_eq!(issues[0]["path"], "gateway.prot", "{issues}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before.raw);

    // Valid, with comments and a restart-only change: written byte for byte, applied now.
    let mut events = client.events();
    let raw = format!(
        "// edited in the Control UI\n{}",
        before
            .raw
            .replacen("{", "{ /* keep me */ logging: { level: \"debug\" },", 1)
            .replace("port: 0,", "port: 1,")
    );
    let written = client
        .call::<spec::ConfigSet>(ConfigSetParams {
            raw: raw.clone(),
            base_hash: before.hash.clone(),
        })
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), raw);
    assert_eq!(
        std::fs::read_to_string(t.home.path().join("hearth.json.bak")).unwrap(),
        before.raw
    );
    assert_eq!(written.hash, hearth_config::content_hash(raw.as_bytes()));
    assert_eq!(written.restart_required, ["gateway.port"]);
    let after = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    assert_eq!(after.hash, written.hash);
    assert_eq!(after.raw, raw);
    assert_eq!(after.config["logging"]["level"], "debug");
    // Still serving on the old port, and the watcher did not apply the file a second time.
    assert!(client.call::<spec::Health>(Empty {}).await.unwrap().ok);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut changes = Vec::new();
    while let Ok(frame) = events.try_recv() {
        if let Ok(Event::ConfigChanged(c)) = Event::parse(&frame.event, frame.payload) {
            changes.push(c);
        }
    }
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].hash, written.hash);

    // A stale hash: CONFLICT with both hashes, nothing written.
    let err = client
        .call::<spec::ConfigSet>(ConfigSetParams {
            raw: before.raw.clone(),
            base_hash: before.hash.clone(),
        })
        .await
        .unwrap_err();
    let shape = err.shape().unwrap();
    assert_eq!(shape.code, ErrorCode::Conflict);
    let details = shape.details.as_ref().unwrap();
    assert_eq!(details["expected"], before.hash.as_str());
    assert_eq!(details["actual"], written.hash.as_str());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), raw);
}

#[tokio::test]
async fn patch_merges_and_null_deletes() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let base = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    let patch = |patch: serde_json::Value, base_hash: String| {
        let serde_json::Value::Object(patch) = patch else {
            panic!("not an object")
        };
        client.call::<spec::ConfigPatch>(ConfigPatchParams { patch, base_hash })
    };
    let first = patch(
        json!({ "agents": { "defaults": { "timeoutSeconds": 42 } }, "desktop": { "notifications": { "budget": false } } }),
        base.hash.clone(),
    )
    .await
    .unwrap();
    let got = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    assert_eq!(got.config["agents"]["defaults"]["timeoutSeconds"], 42);
    assert_eq!(got.config["desktop"]["notifications"]["budget"], false);
    assert_eq!(got.config["desktop"]["notifications"]["pairing"], true);
    // The provider the patch did not touch is still there.
    assert_eq!(
        got.config["models"]["providers"]["fake"]["api"],
        "openai-completions"
    );

    patch(
        json!({ "agents": { "defaults": { "timeoutSeconds": null } } }),
        first.hash.clone(),
    )
    .await
    .unwrap();
    let got = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    assert!(!got.raw.contains("timeoutSeconds"), "{}", got.raw);
    assert_eq!(got.config["agents"]["defaults"]["timeoutSeconds"], 600);

    let err = patch(json!({ "gateway": { "prot": 1 } }), got.hash.clone())
        .await
        .unwrap_err();
    assert_eq!(err.shape().unwrap().code, ErrorCode::InvalidRequest);
    let err = patch(json!({}), first.hash).await.unwrap_err();
    assert_eq!(err.shape().unwrap().code, ErrorCode::Conflict);
}

#[tokio::test]
async fn secrets_round_trip_without_values_and_reach_providers() {
    let t = TestGateway::start_with(FILE_SECRETS).await;
    t.fake.require_key("sk-from-the-ui");
    let client = t.client().await;
    // The provider's key becomes a secret-store reference that is not stored yet: a warning.
    let base = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    let serde_json::Value::Object(patch) =
        json!({ "models": { "providers": { "fake": { "apiKey": { "secret": "fake-key" } } } } })
    else {
        unreachable!()
    };
    let written = client
        .call::<spec::ConfigPatch>(ConfigPatchParams {
            patch,
            base_hash: base.hash,
        })
        .await
        .unwrap();
    let warning = written
        .warnings
        .iter()
        .find(|w| w.path == "models.providers.fake")
        .expect("a warning about the missing secret");
    assert!(warning.message.contains("fake-key"), "{}", warning.message);

    let end = chat_to_end(
        &client,
        ChatSendParams {
            message: "hi".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(end.state, ChatState::Error, "no key yet");

    let set = client
        .call::<spec::SecretsSet>(SecretsSetParams {
            name: "fake-key".into(),
            value: "sk-from-the-ui".into(),
        })
        .await
        .unwrap();
    assert_eq!(set.name, "fake-key");
    let listed = client.request("secrets.list", json!({})).await.unwrap();
    assert!(!listed.to_string().contains("sk-from-the-ui"), "{listed}");
    let listed = client.call::<spec::SecretsList>(Empty {}).await.unwrap();
    assert_eq!(listed.backend, SecretsBackendKind::EncryptedFile);
    assert!(
        listed.names.contains(&"fake-key".to_owned()),
        "{:?}",
        listed.names
    );

    // The provider uses the new key at once.
    let end = chat_to_end(
        &client,
        ChatSendParams {
            message: "hi again".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(end.state, ChatState::Final, "{:?}", end.error);
    assert_eq!(
        t.fake.last_request().unwrap().header("authorization"),
        Some("Bearer sk-from-the-ui")
    );

    let deleted = client
        .call::<spec::SecretsDelete>(SecretsDeleteParams {
            name: "fake-key".into(),
        })
        .await
        .unwrap();
    assert!(deleted.deleted);
    let again = client
        .call::<spec::SecretsDelete>(SecretsDeleteParams {
            name: "fake-key".into(),
        })
        .await
        .unwrap();
    assert!(!again.deleted);
    let bad = client
        .call::<spec::SecretsSet>(SecretsSetParams {
            name: "no spaces".into(),
            value: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.shape().unwrap().code, ErrorCode::InvalidRequest);
}
