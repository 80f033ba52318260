//! First run through the Control UI: `status.onboarding`, `providers.test`, `onboarding.apply`
//! (all or nothing), then chat; and the `desktop.*` methods with and without a shell.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hearth_core::desktop::{DesktopError, DesktopHooks};
use hearth_core::{Gateway, GatewayOptions, StateDir};
use hearth_protocol::frame::ErrorCode;
use hearth_protocol::methods::{
    ChatSendParams, DesktopAutostartSetParams, DmPolicyChoice, Empty, OnboardingApplyParams,
    OnboardingProvider, ProviderDraft, ProvidersTestParams, spec,
};
use hearth_test_utils::{FakeAnthropic, FakeGemini, FakeOllama, FakeOpenAi, Reply};
use serde_json::json;

use crate::harness::{TOKEN, chat_final, start_in};

const BARE: &str = r#"{ gateway: { port: 0, auth: { mode: "token", token: "test-token-0123456789" } }, secrets: { backend: "file" } }
"#;

fn params(fake: &FakeOpenAi, base_hash: &str) -> OnboardingApplyParams {
    OnboardingApplyParams {
        provider: OnboardingProvider {
            id: "local".into(),
            api: "openai-completions".into(),
            base_url: Some(fake.base_url()),
            api_key: Some("sk-onboarded".into()),
            models: None,
        },
        model: "local/fake-model".into(),
        assistant_name: Some("Ember".into()),
        soul: Some("You are Ember, warm and brief.".into()),
        user: Some("The user is Sam.".into()),
        dm_policy: Some(DmPolicyChoice::Allowlist),
        base_hash: base_hash.to_owned(),
        ..OnboardingApplyParams::default()
    }
}

async fn client_of(gw: &hearth_core::RunningGateway) -> hearth_client::Client {
    let opts = hearth_client::ConnectOptions::new(
        format!("ws://{}/", gw.local_addr()),
        Some(TOKEN.to_owned()),
        "test",
    );
    hearth_client::Client::connect(opts).await.unwrap()
}

async fn secret_names(client: &hearth_client::Client) -> Vec<String> {
    client
        .call::<spec::SecretsList>(Empty {})
        .await
        .unwrap()
        .names
}

#[tokio::test]
async fn onboarding_applies_everything_then_chat_works() {
    let fake = FakeOpenAi::start().await;
    fake.require_key("sk-onboarded");
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("hearth.json"), BARE).unwrap();
    let gw = start_in(home.path()).await;
    let client = client_of(&gw).await;
    let status = client.call::<spec::Status>(Empty {}).await.unwrap();
    assert!(status.onboarding.needed);
    assert!(!status.desktop.available);

    let base = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    let written = client
        .call::<spec::OnboardingApply>(params(&fake, &base.hash))
        .await
        .unwrap();
    let text = std::fs::read_to_string(home.path().join("hearth.json")).unwrap();
    assert_eq!(written.hash, hearth_config::content_hash(text.as_bytes()));
    assert!(!text.contains("sk-onboarded"), "{text}");
    let config = client
        .call::<spec::ConfigGet>(Empty {})
        .await
        .unwrap()
        .config;
    assert_eq!(
        config["models"]["providers"]["local"]["apiKey"],
        json!({ "secret": "local-api-key" })
    );
    assert_eq!(
        config["agents"]["defaults"]["model"]["primary"],
        "local/fake-model"
    );
    assert_eq!(config["agents"]["list"][0]["name"], "Ember");
    assert_eq!(config["channels"]["defaults"]["dmPolicy"], "allowlist");
    assert!(
        secret_names(&client)
            .await
            .contains(&"local-api-key".to_owned())
    );
    let workspace = home.path().join("workspace");
    assert_eq!(
        std::fs::read_to_string(workspace.join("SOUL.md")).unwrap(),
        "You are Ember, warm and brief."
    );
    assert_eq!(
        std::fs::read_to_string(workspace.join("USER.md")).unwrap(),
        "The user is Sam."
    );
    assert!(
        workspace.join("AGENTS.md").exists(),
        "the other starter files too"
    );

    let status = client.call::<spec::Status>(Empty {}).await.unwrap();
    assert!(!status.onboarding.needed);
    assert_eq!(status.agents[0].name, "Ember");
    fake.push(Reply::text("Hello Sam!"));
    let answer = chat_final(
        &client,
        ChatSendParams {
            message: "hi".into(),
            ..ChatSendParams::default()
        },
    )
    .await;
    assert_eq!(answer.plain_text(), "Hello Sam!");
    let request = fake.last_request().unwrap();
    assert_eq!(request.header("authorization"), Some("Bearer sk-onboarded"));
    assert!(
        request.body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("You are Ember, warm and brief.")
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn a_failed_onboarding_leaves_nothing_behind() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    // The workspace cannot be created: a file stands where its directory would be, so the
    // failure comes after the key was stored.
    std::fs::write(home.path().join("blocker"), "").unwrap();
    let config = BARE.replace(
        "secrets:",
        &format!(
            "agents: {{ defaults: {{ workspace: {:?} }} }}, secrets:",
            home.path().join("blocker/ws").display().to_string()
        ),
    );
    std::fs::write(home.path().join("hearth.json"), &config).unwrap();
    let gw = start_in(home.path()).await;
    let client = client_of(&gw).await;
    let base = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    let before = std::fs::read(home.path().join("hearth.json")).unwrap();

    let stale = client
        .call::<spec::OnboardingApply>(params(&fake, "0000"))
        .await
        .unwrap_err();
    assert_eq!(stale.shape().unwrap().code, ErrorCode::Conflict);

    let bad_model = client
        .call::<spec::OnboardingApply>(OnboardingApplyParams {
            model: "not-a-ref".into(),
            ..params(&fake, &base.hash)
        })
        .await
        .unwrap_err();
    assert_eq!(bad_model.shape().unwrap().code, ErrorCode::InvalidRequest);
    assert!(bad_model.shape().unwrap().details.is_some());

    let midway = client
        .call::<spec::OnboardingApply>(params(&fake, &base.hash))
        .await
        .unwrap_err();
    assert!(midway.to_string().contains("workspace"), "{midway}");
    assert!(!midway.to_string().contains("sk-onboarded"));

    assert_eq!(
        std::fs::read(home.path().join("hearth.json")).unwrap(),
        before
    );
    assert!(!home.path().join("hearth.json.bak").exists());
    assert!(
        !secret_names(&client)
            .await
            .contains(&"local-api-key".to_owned())
    );
    assert!(
        client
            .call::<spec::Status>(Empty {})
            .await
            .unwrap()
            .onboarding
            .needed
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn providers_test_lists_models_and_pings_every_api_kind() {
    let home = tempfile::tempdir().unwrap();
    let openai = FakeOpenAi::start().await;
    std::fs::write(
        home.path().join("hearth.json"),
        crate::harness::config(&openai, ""),
    )
    .unwrap();
    let gw = start_in(home.path()).await;
    let client = client_of(&gw).await;
    let test = |p: ProvidersTestParams| client.call::<spec::ProvidersTest>(p);

    // The configured provider, with its own client and key.
    let configured = test(ProvidersTestParams {
        provider: Some("fake".into()),
        model: Some("fake-model".into()),
        ..ProvidersTestParams::default()
    })
    .await
    .unwrap();
    assert!(configured.ok, "{:?}", configured.error);
    assert!(configured.models.iter().any(|m| m.id == "gpt-4o"));
    let paths: Vec<String> = openai.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/models", "/v1/chat/completions"]);
    assert_eq!(
        openai.last_request().unwrap().body["messages"][0]["content"],
        "Reply with OK"
    );

    // Drafts of every API kind against their fakes.
    let anthropic = FakeAnthropic::start().await;
    let gemini = FakeGemini::start().await;
    let ollama = FakeOllama::start().await;
    for (api, base_url) in [
        ("openai-completions", openai.base_url()),
        ("anthropic-messages", anthropic.base_url()),
        ("google-generative-ai", gemini.base_url()),
        ("ollama", ollama.base_url()),
    ] {
        let r = test(ProvidersTestParams {
            draft: Some(ProviderDraft {
                api: api.into(),
                base_url: Some(base_url),
                api_key: Some("sk-draft".into()),
                ..ProviderDraft::default()
            }),
            ..ProvidersTestParams::default()
        })
        .await
        .unwrap();
        assert!(r.ok, "{api}: {:?}", r.error);
        assert!(!r.models.is_empty(), "{api}");
    }

    // A wrong key is a failed test, not a protocol error, and the key is not echoed.
    openai.require_key("sk-right");
    let wrong = test(ProvidersTestParams {
        draft: Some(ProviderDraft {
            api: "openai-completions".into(),
            base_url: Some(openai.base_url()),
            api_key: Some("sk-wrong-key-42".into()),
            ..ProviderDraft::default()
        }),
        ..ProvidersTestParams::default()
    })
    .await
    .unwrap();
    assert!(!wrong.ok);
    let error = wrong.error.unwrap();
    assert_eq!(error.kind, "auth");
    assert!(
        !error.message.contains("sk-wrong-key-42"),
        "{}",
        error.message
    );

    let unknown = test(ProvidersTestParams {
        provider: Some("nope".into()),
        ..ProvidersTestParams::default()
    })
    .await
    .unwrap_err();
    assert_eq!(unknown.shape().unwrap().code, ErrorCode::NotFound);
    let neither = test(ProvidersTestParams::default()).await.unwrap_err();
    assert_eq!(neither.shape().unwrap().code, ErrorCode::InvalidRequest);
    gw.shutdown().await;
}

#[tokio::test]
async fn desktop_methods_headless_and_with_a_shell() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("hearth.json"),
        crate::harness::config(&fake, ""),
    )
    .unwrap();
    let gw = start_in(home.path()).await;
    let client = client_of(&gw).await;
    let got = client.call::<spec::DesktopGet>(Empty {}).await.unwrap();
    assert!(!got.available);
    assert_eq!(got.autostart, None);
    let raw = client.request("desktop.get", json!({})).await.unwrap();
    assert_eq!(raw, json!({ "available": false, "autostart": null }));
    let err = client
        .call::<spec::DesktopAutostartSet>(DesktopAutostartSetParams { enabled: true })
        .await
        .unwrap_err();
    assert_eq!(err.shape().unwrap().code, ErrorCode::Unavailable);
    gw.shutdown().await;

    struct Shell(AtomicBool);
    impl DesktopHooks for Shell {
        fn autostart(&self) -> Result<bool, DesktopError> {
            Ok(self.0.load(Ordering::SeqCst))
        }
        fn set_autostart(&self, enabled: bool) -> Result<bool, DesktopError> {
            self.0.store(enabled, Ordering::SeqCst);
            Ok(enabled)
        }
    }
    let shell = Arc::new(Shell(AtomicBool::new(false)));
    let gw = Gateway::start(GatewayOptions {
        desktop: Some(shell.clone()),
        ..GatewayOptions::new(StateDir::new(home.path()))
    })
    .await
    .unwrap();
    let mut events = gw.events();
    let client = client_of(&gw).await;
    assert!(
        client
            .call::<spec::Status>(Empty {})
            .await
            .unwrap()
            .desktop
            .available
    );
    let set = client
        .call::<spec::DesktopAutostartSet>(DesktopAutostartSetParams { enabled: true })
        .await
        .unwrap();
    assert!(set.autostart);
    assert!(shell.0.load(Ordering::SeqCst));
    let got = client.call::<spec::DesktopGet>(Empty {}).await.unwrap();
    assert_eq!((got.available, got.autostart), (true, Some(true)));
    // The shell sees the gateway's events in-process.
    let run = client
        .call::<spec::ChatSend>(ChatSendParams {
            message: "hi".into(),
            ..ChatSendParams::default()
        })
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap()
            .unwrap();
        if event.name.name() == "chat" && event.payload_json.contains(&run.run_id) {
            break;
        }
    }
    gw.shutdown().await;
}
