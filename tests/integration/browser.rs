//! The Control UI in a real browser: each test starts a gateway (with the Control UI embedded)
//! and a fake provider, then runs one scenario of `tests/e2e/` in Debian's Chromium through
//! playwright-core, and checks what the scenario did from the gateway's side.
//!
//! Screenshots land in `$HEARTH_ARTIFACTS` (default `target/artifacts/e2e`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hearth_core::{Gateway, GatewayOptions, StateDir};
use hearth_test_utils::{FakeOpenAi, FakeToolCall, Reply};

use crate::harness::{TOKEN, TestGateway};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_owned()
}

fn artifacts() -> PathBuf {
    std::env::var_os("HEARTH_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/artifacts/e2e"))
}

/// The webhook token and the GitHub mapping's signing secret of the gateways with webhooks on.
const HOOK_TOKEN: &str = "e2e-hook-token-0123456789abcdef";
const GH_SECRET: &str = "e2e-github-signing-secret-4711";

/// Webhooks on, with a signed GitHub mapping and a wake mapping.
fn hooks_config() -> String {
    format!(
        r#"hooks: {{ enabled: true, token: "{HOOK_TOKEN}", mappings: [
            {{ name: "github", deliver: "telegram:123456", ratePerMinute: 30,
               signature: {{ style: "github", secret: "{GH_SECRET}" }} }},
            {{ name: "nudge", action: "wake" }},
        ] }},"#
    )
}

/// `POST /hooks/agent` with the webhook token; the accepted call's id.
async fn post_hook(t: &TestGateway, message: &str) -> String {
    let answer = t
        .http()
        .post(format!("{}/hooks/agent", t.http_base()))
        .bearer_auth(HOOK_TOKEN)
        .json(&serde_json::json!({ "message": message }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::ACCEPTED);
    let body: serde_json::Value = answer.json().await.unwrap();
    body["id"].as_str().expect("the call's id").to_owned()
}

/// Runs `tests/e2e/<name>.mjs` against the gateway at `base`; panics with its output when the
/// scenario fails.
async fn run_scenario(name: &str, base: &str, token: Option<&str>, fake: &FakeOpenAi) {
    run_scenario_with(name, base, token, fake, &[]).await;
}

/// [`run_scenario`] with extra environment variables for the scenario.
async fn run_scenario_with(
    name: &str,
    base: &str,
    token: Option<&str>,
    fake: &FakeOpenAi,
    vars: &[(&str, String)],
) {
    let e2e = repo().join("tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run `npm --prefix tests/e2e ci` (tests/run.sh does)"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: run `bash installers/deps.sh --test`"
    );
    let url = match token {
        Some(t) => format!("{base}/#token={t}"),
        None => format!("{base}/"),
    };
    let child = tokio::process::Command::new("node")
        .arg(e2e.join(format!("{name}.mjs")))
        .current_dir(&e2e)
        .env("HEARTH_URL", url)
        .env("HEARTH_BASE", base)
        .env("FAKE_BASE_URL", fake.base_url())
        .env("HEARTH_ARTIFACTS", artifacts())
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (installers/deps.sh installs it)");
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the scenario finished within two minutes")
        .expect("scenario output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "scenario {name} failed:\n{text}");
    println!("{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn onboarding_from_an_empty_home_ends_with_an_answered_message() {
    let fake = FakeOpenAi::start().await;
    fake.set_models(vec!["fake-large".into(), "fake-small".into()]);
    fake.require_key("sk-onboard-e2e");
    fake.set_default(Reply::text_chunked("Hello! I am ready to help.", 4));
    let home = tempfile::tempdir().unwrap();
    // Nothing in the home but what the browser test needs to reach the gateway: a fixed port 0
    // and the encrypted-file secret store (no keychain in the test environment).
    let mut opts = GatewayOptions::new(StateDir::new(home.path()));
    opts.port = Some(0);
    let gw = Gateway::start(opts).await.unwrap();
    let token = gw.token().expect("a token was generated");
    let base = format!("http://{}", gw.local_addr());

    run_scenario("onboarding", &base, Some(&token), &fake).await;

    let config = std::fs::read_to_string(home.path().join("hearth.json")).unwrap();
    assert!(
        !config.contains("sk-onboard-e2e"),
        "the key must be in the secret store, not the config:\n{config}"
    );
    assert!(config.contains("fake-large"), "{config}");
    let soul = std::fs::read_to_string(home.path().join("workspace/SOUL.md")).unwrap();
    assert!(soul.contains("calm and precise"), "{soul}");
    let chats: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .collect();
    assert!(
        chats
            .iter()
            .any(|r| r.header("authorization") == Some("Bearer sk-onboard-e2e")),
        "the test message went to the provider with the pasted key"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_streams_an_answer_with_a_tool_call_card() {
    let t = TestGateway::start_with(r#"tools: { allow: ["read"] }"#).await;
    std::fs::write(
        t.home.path().join("workspace/NOTES.md"),
        "The boiler was serviced in March.",
    )
    .unwrap();
    t.fake.push(Reply::tool_calls([FakeToolCall::new(
        "call_1",
        "read",
        r#"{"path":"NOTES.md"}"#,
    )]));
    t.fake.push(Reply::text_chunked(
        "Your notes say the **boiler** was serviced in March.",
        3,
    ));
    run_scenario("chat", &t.http_base(), Some(TOKEN), &t.fake).await;
    assert_eq!(
        t.fake.request_count(),
        2,
        "one call for the tool, one for the answer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_session_appears_live_in_sessions() {
    use hearth_protocol::methods::{SessionsListParams, spec};
    let t = TestGateway::start().await;
    t.fake.set_default(Reply::text("Noted."));
    run_scenario("sessions", &t.http_base(), Some(TOKEN), &t.fake).await;
    let client = t.client().await;
    let sessions = client
        .call::<spec::SessionsList>(SessionsListParams::default())
        .await
        .unwrap()
        .sessions;
    let parent = sessions
        .iter()
        .find(|s| s.key.ends_with(":garden-plans"))
        .expect("the session");
    let fork = sessions
        .iter()
        .find(|s| s.key.contains(":garden-plans:fork:"))
        .expect("the fork made from the page");
    assert_eq!(fork.parent_id.as_deref(), Some(parent.session_id.as_str()));
    assert_eq!(fork.fork_seq, Some(2), "forked at the answer");
    assert_eq!(fork.message_count, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_edit_shows_the_error_then_saves() {
    let t = TestGateway::start().await;
    let before = std::fs::read_to_string(t.home.path().join("hearth.json")).unwrap();
    run_scenario("config", &t.http_base(), Some(TOKEN), &t.fake).await;
    let after = std::fs::read_to_string(t.home.path().join("hearth.json")).unwrap();
    assert_ne!(before, after);
    assert!(
        after.contains("maxConcurrent: 3") || after.contains("\"maxConcurrent\": 3"),
        "{after}"
    );
    assert!(
        t.home.path().join("hearth.json.bak").exists(),
        "the previous file is kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_token_the_ui_asks_for_one_and_gets_nothing() {
    let t = TestGateway::start().await;
    run_scenario("auth", &t.http_base(), None, &t.fake).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_passes_the_wcag_aa_checks_in_light_and_dark() {
    use hearth_protocol::cron::{HookStatus, HooksGetParams};
    use hearth_protocol::methods::{CronAddParams, CronHistoryParams, CronIdParams, spec};
    let t = TestGateway::start_with(&hooks_config()).await;
    t.fake.set_default(Reply::text("Hello."));
    // The Cron page with a job that has fired, so its table, badges and history are checked too.
    let client = t.client().await;
    let job = serde_json::from_value(serde_json::json!({
        "name": "Morning briefing",
        "schedule": { "cron": "0 8 * * 1-5" },
        "tz": "Europe/Berlin",
        "prompt": "Give me my morning briefing."
    }))
    .unwrap();
    client
        .call::<spec::CronAdd>(CronAddParams { job })
        .await
        .unwrap();
    let id = CronIdParams {
        id: "Morning briefing".to_owned(),
    };
    let fired = client.call::<spec::CronRun>(id).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let history = client
            .call::<spec::CronHistory>(CronHistoryParams::default())
            .await
            .unwrap();
        let done = history.fires.iter().any(|f| {
            f.id == fired.fire_id && f.status != hearth_protocol::cron::FireStatus::Running
        });
        if done {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the fire did not end"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And its Webhooks card with a mapping table and a call that has ended.
    let call = post_hook(&t, "Deploy 42 finished.").await;
    while client
        .call::<spec::HooksGet>(HooksGetParams { id: call.clone() })
        .await
        .unwrap()
        .status
        != HookStatus::Completed
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the webhook call did not complete"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run_scenario("a11y", &t.http_base(), Some(TOKEN), &t.fake).await;
}

#[tokio::test]
async fn a_pairing_request_is_approved_from_the_channels_page() {
    use hearth_protocol::methods::{Empty, spec};
    let telegram = hearth_test_utils::FakeTelegram::start().await;
    let t = TestGateway::start_with(&format!(
        r#"channels: {{ telegram: {{ botToken: "{}", apiRoot: "{}" }} }}"#,
        telegram.token(),
        telegram.url()
    ))
    .await;
    let client = t.client().await;
    telegram.dm(4242, "Ann", "hello?");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while client
        .call::<spec::PairingList>(Empty {})
        .await
        .unwrap()
        .requests
        .is_empty()
    {
        assert!(tokio::time::Instant::now() < deadline, "no pairing request");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run_scenario_with(
        "channels",
        &t.http_base(),
        Some(TOKEN),
        &t.fake,
        &[
            ("HEARTH_E2E_TELEGRAM_URL", telegram.url()),
            (
                "HEARTH_E2E_TELEGRAM_IDENTITY",
                "@hearth_test_bot".to_owned(),
            ),
            ("HEARTH_E2E_PAIRING_SENDER", "Ann".to_owned()),
        ],
    )
    .await;
    let after = client.call::<spec::PairingList>(Empty {}).await.unwrap();
    assert!(after.requests.is_empty(), "{after:?}");
    assert_eq!(after.approved.len(), 1);
    assert_eq!(after.approved[0].sender_id, "4242");
    let sent = telegram.outbox().in_chat("4242");
    assert!(sent.iter().any(|m| m.text.contains("approved")), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_is_bound_explained_and_removed_from_the_agents_page() {
    use hearth_protocol::methods::{Empty, spec};
    let t = TestGateway::start().await;
    run_scenario("agents", &t.http_base(), Some(TOKEN), &t.fake).await;
    let client = t.client().await;
    let agents = client.call::<spec::AgentsList>(Empty {}).await.unwrap();
    assert!(
        agents.agents.iter().all(|a| a.id != "ops"),
        "ops was removed: {agents:?}"
    );
    let bindings = client.call::<spec::BindingsList>(Empty {}).await.unwrap();
    assert!(
        bindings.bindings.is_empty(),
        "its binding went with it: {bindings:?}"
    );
    assert!(
        t.home.path().join("hearth.json.bak").exists(),
        "the previous config is kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_is_added_run_switched_off_and_removed_from_the_cron_page() {
    use hearth_protocol::methods::{Empty, spec};
    let t = TestGateway::start().await;
    let answer = "Good morning! Three meetings today.\nNothing urgent in the inbox.";
    t.fake.set_default(Reply::text(answer));
    run_scenario_with(
        "cron",
        &t.http_base(),
        Some(TOKEN),
        &t.fake,
        &[("HEARTH_E2E_ANSWER", answer.to_owned())],
    )
    .await;
    let client = t.client().await;
    let list = client.call::<spec::CronList>(Empty {}).await.unwrap();
    assert!(list.jobs.is_empty(), "the job was removed: {list:?}");
    let prompts: Vec<String> = t
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .map(|r| r.body.to_string())
        .collect();
    // Run now's; a weekday 08:00 in Berlin could add its own while the scenario runs.
    assert!(!prompts.is_empty(), "Run now reached the model");
    assert!(
        prompts
            .iter()
            .all(|p| p.contains("Give me my morning briefing.")),
        "the job's prompt reached the model: {prompts:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_call_appears_live_on_the_cron_page() {
    use hearth_protocol::cron::{HookStatus, HooksListParams};
    use hearth_protocol::methods::spec;
    let t = TestGateway::start_with(&hooks_config()).await;
    let answer = "Deploy 42 is live.\nNo errors in the log.";
    t.fake.set_default(Reply::text(answer));
    let ready = t.home.path().join("e2e-hooks-ready");
    let vars = [
        ("HEARTH_E2E_ANSWER", answer.to_owned()),
        ("HEARTH_E2E_READY_FILE", ready.display().to_string()),
        ("HEARTH_E2E_SECRET", GH_SECRET.to_owned()),
    ];
    let base = t.http_base();
    let scenario = run_scenario_with("hooks", &base, Some(TOKEN), &t.fake, &vars);
    // Posts the call once the page shows the card, so it must arrive through the events; never
    // ends by itself.
    let driver = async {
        while !ready.exists() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        post_hook(&t, "Deploy 42 finished; summarise it").await;
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = scenario => {}
        () = driver => {}
    }
    let client = t.client().await;
    let listed = client
        .call::<spec::HooksList>(HooksListParams::default())
        .await
        .unwrap();
    assert_eq!(listed.calls.len(), 1, "{listed:?}");
    let call = &listed.calls[0];
    assert_eq!(call.hook, "agent");
    assert_eq!(call.status, HookStatus::Completed);
    assert_eq!(call.output.as_deref(), Some(answer));
    let prompts: Vec<String> = t
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .map(|r| r.body.to_string())
        .collect();
    assert!(
        prompts.iter().any(|p| p.contains("Deploy 42 finished")),
        "the call's message reached the model: {prompts:?}"
    );
}

/// The first run of exactly six digits in `text`: the code of an identity link.
fn six_digit_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        if !bytes[start].is_ascii_digit() {
            start += 1;
            continue;
        }
        let end = bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(bytes.len(), |n| start + n);
        if end - start == 6 {
            return Some(text[start..end].to_owned());
        }
        start = end;
    }
    None
}

#[tokio::test]
async fn the_owner_links_a_telegram_identity_from_the_people_page() {
    use hearth_protocol::methods::{Empty, spec};
    let telegram = hearth_test_utils::FakeTelegram::start().await;
    let t = TestGateway::start_with(&format!(
        r#"channels: {{ telegram: {{ botToken: "{}", apiRoot: "{}", dmPolicy: "allowlist", allowFrom: ["4242"] }} }}"#,
        telegram.token(),
        telegram.url()
    ))
    .await;
    t.fake.set_default(Reply::text("Hi Ann."));
    // The identity has written before, so the bot knows its direct chat to send the code to.
    telegram.dm(4242, "Ann", "hello?");
    let answered = telegram
        .outbox()
        .wait_for("4242", 1, Duration::from_secs(20))
        .await;
    assert!(!answered.is_empty(), "the bot answered Ann");
    let code_file = t.home.path().join("e2e-link-code");
    let base = t.http_base();
    let vars = [
        ("HEARTH_E2E_IDENTITY", "telegram:4242".to_owned()),
        ("HEARTH_E2E_CODE_FILE", code_file.display().to_string()),
    ];
    let scenario = run_scenario_with("people", &base, Some(TOKEN), &t.fake, &vars);
    // Hands the code to the scenario once the bot sent it to Ann's chat; never ends by itself.
    let relay = async {
        let sent = telegram
            .outbox()
            .wait_until(Duration::from_secs(60), |all| {
                all.iter()
                    .any(|m| m.chat_id == "4242" && six_digit_code(&m.text).is_some())
            })
            .await;
        if let Some(code) = sent
            .iter()
            .filter(|m| m.chat_id == "4242")
            .find_map(|m| six_digit_code(&m.text))
        {
            std::fs::write(&code_file, code).unwrap();
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = scenario => {}
        () = relay => {}
    }
    let client = t.client().await;
    let ids = client.call::<spec::IdentityList>(Empty {}).await.unwrap();
    let me = ids.links.get("me").expect("the link is written");
    assert!(
        me.contains(&"webchat:owner".to_owned()) && me.contains(&"telegram:4242".to_owned()),
        "{ids:?}"
    );
    assert_eq!(ids.owner, "me");
    assert!(ids.pending.is_empty(), "{ids:?}");
    let config = std::fs::read_to_string(t.home.path().join("hearth.json")).unwrap();
    assert!(config.contains("telegram:4242"), "{config}");
}

#[test]
fn six_digit_codes_are_found_in_text() {
    assert_eq!(
        six_digit_code("Your code: 123456 (10 min)").as_deref(),
        Some("123456")
    );
    assert_eq!(
        six_digit_code("4242 then 1234567 then 654321").as_deref(),
        Some("654321")
    );
    assert_eq!(six_digit_code("no code"), None);
}
