//! Incoming webhooks against a real gateway and the fake model: every refusal (token, query
//! string, signatures, body cap, rate, disabled, unknown), a GitHub-style push whose template
//! is the only thing of the body that reaches the model, polling a call to its end, an agent
//! call delivered to a Telegram chat, and a wake that runs the heartbeat.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearth_core::hooks::signature::{sign_github, sign_stripe};
use hearth_protocol::cron::{HookStatus, HooksGetParams};
use hearth_protocol::events::Event;
use hearth_protocol::methods::{ChannelState, Empty, SecretsSetParams, spec};
use hearth_test_utils::{FakeOpenAi, FakeTelegram, Reply};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TOKEN, TestGateway, config, next_event, start_in};

const HOOK_TOKEN: &str = "hook-token-abcdef0123456789";
const GH_SECRET: &str = "gh-signing-secret";
const STRIPE_SECRET: &str = "whsec_stripe_test";
const WAIT: Duration = Duration::from_secs(15);

fn hooks_config(extra_mappings: &str) -> String {
    format!(
        r#"hooks: {{ enabled: true, token: "{HOOK_TOKEN}", maxBodyBytes: 4096, mappings: [
            {{ name: "github", deliver: "none",
               messageTemplate: "Push to {{{{repository.full_name}}}}: {{{{head_commit.message}}}}",
               signature: {{ style: "github", secret: "{GH_SECRET}" }} }},
            {{ name: "stripe", deliver: "none",
               messageTemplate: "Stripe event {{{{type}}}} for {{{{data.object.id}}}}",
               signature: {{ style: "stripe", secret: "{STRIPE_SECRET}", toleranceSeconds: 300 }} }},
            {{ name: "limited", ratePerMinute: 2, maxBodyBytes: 512, deliver: "none" }},
            {extra_mappings}
        ] }},"#
    )
}

async fn gateway() -> TestGateway {
    TestGateway::start_with(&hooks_config("")).await
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

/// `POST <path>` with `headers` and `body`.
async fn post(
    t: &TestGateway,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Answer {
    let mut request = t.http().post(format!("{}{path}", t.http_base())).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.send().await.unwrap()).await
}

async fn get(t: &TestGateway, path: &str, token: Option<&str>) -> Answer {
    let mut request = t.http().get(format!("{}{path}", t.http_base()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request.send().await.unwrap()).await
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

fn bearer() -> String {
    format!("Bearer {HOOK_TOKEN}")
}

fn json_with_token() -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".to_owned()),
        ("authorization", bearer()),
    ]
}

fn as_refs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

fn assert_refused(a: &Answer, status: StatusCode, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.body["error"]["code"], code, "{}", a.body);
    assert!(a.body["error"]["message"].is_string(), "{}", a.body);
}

/// Polls `GET /hooks/runs/<id>` until the call has ended.
async fn poll_to_end(t: &TestGateway, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let a = get(t, &format!("/hooks/runs/{id}"), Some(HOOK_TOKEN)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.body["id"], id);
        let status = a.body["status"].as_str().unwrap().to_owned();
        if status != "queued" && status != "running" {
            return a.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ended: {}",
            a.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now_s() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn push_event() -> String {
    json!({
        "ref": "refs/heads/main",
        "repository": { "full_name": "acme/api", "private": true },
        "head_commit": { "id": "c0ffee", "message": "Fix the flaky build" },
        "pusher": { "name": "ann", "email": "ann@example.org" },
        "secret_field": "do-not-leak-4711",
    })
    .to_string()
}

#[tokio::test]
async fn token_refusals_and_the_lockout() {
    let t = gateway().await;
    let body = json!({ "message": "hello" }).to_string();
    let json_only = [("content-type", "application/json")];

    // A browser page elsewhere cannot reach the webhooks, nor count failures against this
    // address to lock its owner out.
    for _ in 0..4 {
        let a = post(
            &t,
            "/hooks/agent",
            &[
                ("content-type", "application/json"),
                ("origin", "https://evil.example"),
            ],
            body.clone(),
        )
        .await;
        assert_refused(&a, StatusCode::FORBIDDEN, "origin_not_allowed");
    }

    let none = post(&t, "/hooks/agent", &json_only, body.clone()).await;
    assert_refused(&none, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        none.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-hearth-token"),
        "{}",
        none.body
    );
    let wrong = post(
        &t,
        "/hooks/agent",
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer nope"),
        ],
        body.clone(),
    )
    .await;
    assert_refused(&wrong, StatusCode::UNAUTHORIZED, "unauthorized");
    // The gateway's own token is not the webhook token.
    let gateway_token = format!("Bearer {TOKEN}");
    let other = post(
        &t,
        "/hooks/agent",
        &[
            ("content-type", "application/json"),
            ("authorization", &gateway_token),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(
        other.status,
        StatusCode::TOO_MANY_REQUESTS,
        "third failure locks out: {}",
        other.body
    );
    assert_eq!(other.body["error"]["code"], "auth_locked_out");
    assert!(other.headers.get("retry-after").is_some());
    // Locked out: even the right token waits.
    let locked = post(&t, "/hooks/agent", &as_refs(&json_with_token()), body).await;
    assert_refused(&locked, StatusCode::TOO_MANY_REQUESTS, "auth_locked_out");
    assert!(!format!("{}", locked.body).contains(HOOK_TOKEN));
}

#[tokio::test]
async fn the_token_in_either_header_never_in_the_query() {
    let t = gateway().await;
    t.fake.set_default(Reply::text("ok"));
    let body = json!({ "message": "hello" }).to_string();
    let via_header = post(
        &t,
        "/hooks/agent",
        &[
            ("content-type", "application/json"),
            ("x-hearth-token", HOOK_TOKEN),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(
        via_header.status,
        StatusCode::ACCEPTED,
        "{}",
        via_header.body
    );
    let via_bearer = post(
        &t,
        "/hooks/agent",
        &as_refs(&json_with_token()),
        body.clone(),
    )
    .await;
    assert_eq!(
        via_bearer.status,
        StatusCode::ACCEPTED,
        "{}",
        via_bearer.body
    );
    assert_ne!(via_header.body["id"], via_bearer.body["id"]);

    // Refused even when correct, and even with the header as well.
    for path in [
        format!("/hooks/agent?token={HOOK_TOKEN}"),
        format!("/hooks/agent?x=1&access_token={HOOK_TOKEN}"),
    ] {
        let a = post(&t, &path, &as_refs(&json_with_token()), body.clone()).await;
        assert_refused(&a, StatusCode::BAD_REQUEST, "token_in_query");
        assert!(
            a.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("header"),
            "{}",
            a.body
        );
    }
    let a = get(&t, &format!("/hooks/runs/x?token={HOOK_TOKEN}"), None).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, "token_in_query");

    // Polling needs the webhook token too.
    let id = via_bearer.body["id"].as_str().unwrap();
    let a = get(&t, &format!("/hooks/runs/{id}"), None).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    let a = get(&t, &format!("/hooks/runs/{id}"), Some(TOKEN)).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    let done = poll_to_end(&t, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let a = get(&t, "/hooks/runs/no-such-call", Some(HOOK_TOKEN)).await;
    assert_refused(&a, StatusCode::NOT_FOUND, "not_found");

    // Unknown routes and methods.
    let a = post(&t, "/hooks/nope", &as_refs(&json_with_token()), "{}").await;
    assert_refused(&a, StatusCode::NOT_FOUND, "not_found");
    let a = post(
        &t,
        "/hooks/nope",
        &[("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    let a = get(&t, "/hooks/wake", Some(HOOK_TOKEN)).await;
    assert_refused(&a, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let a = post(&t, "/hooks/a/b", &as_refs(&json_with_token()), "{}").await;
    assert_refused(&a, StatusCode::NOT_FOUND, "not_found");

    // Bodies /hooks/agent refuses.
    for body in [
        r#"{"mesage":"typo"}"#,
        r#"{"message":"hi","agentId":"ghost"}"#,
        r#"{"message":"hi","deliver":"telegram"}"#,
    ] {
        let a = post(&t, "/hooks/agent", &as_refs(&json_with_token()), body).await;
        assert_refused(&a, StatusCode::BAD_REQUEST, "invalid_request");
    }
    let a = post(
        &t,
        "/hooks/agent",
        &[("content-type", "text/plain"), ("authorization", &bearer())],
        "hello",
    )
    .await;
    assert_refused(
        &a,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}

#[tokio::test]
async fn disabled_webhooks_are_not_found() {
    let t = TestGateway::start_with(&format!(
        r#"hooks: {{ enabled: false, token: "{HOOK_TOKEN}" }},"#
    ))
    .await;
    for headers in [vec![], json_with_token()] {
        let a = post(&t, "/hooks/wake", &as_refs(&headers), "{}").await;
        assert_refused(&a, StatusCode::NOT_FOUND, "not_found");
    }
    let a = get(&t, "/hooks/runs/x", Some(HOOK_TOKEN)).await;
    assert_refused(&a, StatusCode::NOT_FOUND, "not_found");
    // The rest of the gateway is as before.
    let a = get(&t, "/v1/models", Some(TOKEN)).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn a_github_push_reaches_the_model_only_through_its_template() {
    let t = gateway().await;
    t.fake.push(Reply::text("acme/api: the build is fixed."));
    let client = t.client().await;
    let mut events = client.events();
    let body = push_event();
    let signature = sign_github(GH_SECRET.as_bytes(), body.as_bytes());

    // GitHub sends no token: the signature is the proof.
    let accepted = post(
        &t,
        "/hooks/github",
        &[
            ("content-type", "application/json"),
            ("x-github-event", "push"),
            ("x-hub-signature-256", &signature),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    assert_eq!(accepted.body["poll"], format!("/hooks/runs/{id}"));
    let seen = next_event(&mut events, |e| match e {
        Event::Hook(run) if run.id == id => Some(run),
        _ => None,
    })
    .await;
    assert_eq!(seen.hook, "github");

    let done = poll_to_end(&t, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["hook"], "github");
    assert_eq!(done["output"], "acme/api: the build is fixed.");
    assert!(
        done["sessionKey"]
            .as_str()
            .unwrap()
            .starts_with("agent:main:hook:github:"),
        "{done}"
    );
    assert!(done.get("deliveredTo").is_none(), "{done}");

    // The model saw exactly the template's fields, and nothing else of the body.
    let request = t.fake.last_request().unwrap();
    let messages = request.body["messages"].as_array().unwrap();
    assert_eq!(
        messages.last().unwrap()["content"],
        "Push to acme/api: Fix the flaky build"
    );
    let everything = request.body.to_string();
    for hidden in [
        "do-not-leak-4711",
        "refs/heads/main",
        "ann@example.org",
        "c0ffee",
    ] {
        assert!(!everything.contains(hidden), "{hidden} reached the model");
    }

    // The same call through the WebSocket method.
    let run = client
        .call::<spec::HooksGet>(HooksGetParams { id: id.clone() })
        .await
        .unwrap();
    assert_eq!(run.status, HookStatus::Completed);
    assert_eq!(run.output.as_deref(), Some("acme/api: the build is fixed."));
    let missing = client
        .call::<spec::HooksGet>(HooksGetParams { id: "nope".into() })
        .await;
    assert!(missing.is_err());
}

#[tokio::test]
async fn signatures_are_checked_in_githubs_and_stripes_styles() {
    let t = gateway().await;
    t.fake.set_default(Reply::text("noted"));
    let body = push_event();
    let json = ("content-type", "application/json");
    let good = sign_github(GH_SECRET.as_bytes(), body.as_bytes());
    let other_secret = sign_github(b"not the secret", body.as_bytes());
    let tampered = format!("{body} ");

    let a = post(
        &t,
        "/hooks/github",
        &[json, ("x-hub-signature-256", &other_secret)],
        body.clone(),
    )
    .await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "bad_signature");
    assert!(!a.body.to_string().contains(GH_SECRET));
    let a = post(
        &t,
        "/hooks/github",
        &[json, ("x-hub-signature-256", &good)],
        tampered.clone(),
    )
    .await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "bad_signature");
    // A right signature resets the failures the wrong ones counted.
    let a = post(
        &t,
        "/hooks/github",
        &[json, ("x-hub-signature-256", &good)],
        body.clone(),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    // The token does not replace the signature, and a missing one is refused.
    let a = post(
        &t,
        "/hooks/github",
        &[json, ("authorization", &bearer())],
        body.clone(),
    )
    .await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "bad_signature");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no signature"),
        "{}",
        a.body
    );
    // A wrong token is refused even with a right signature.
    let a = post(
        &t,
        "/hooks/github",
        &[
            json,
            ("authorization", "Bearer wrong"),
            ("x-hub-signature-256", &good),
        ],
        body.clone(),
    )
    .await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    let a = post(
        &t,
        "/hooks/github",
        &[
            json,
            ("authorization", &bearer()),
            ("x-hub-signature-256", &good),
        ],
        body,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);

    let event = json!({ "id": "evt_1", "type": "invoice.paid", "data": { "object": { "id": "in_42", "customer_email": "x@y.z" } } }).to_string();
    let fresh = sign_stripe(STRIPE_SECRET.as_bytes(), event.as_bytes(), now_s());
    let stale = sign_stripe(STRIPE_SECRET.as_bytes(), event.as_bytes(), now_s() - 600);
    let wrong = sign_stripe(b"whsec_other", event.as_bytes(), now_s());
    let a = post(
        &t,
        "/hooks/stripe",
        &[json, ("stripe-signature", &stale)],
        event.clone(),
    )
    .await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "bad_signature");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("timestamp"),
        "{}",
        a.body
    );
    let a = post(
        &t,
        "/hooks/stripe",
        &[json, ("stripe-signature", &wrong)],
        event.clone(),
    )
    .await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "bad_signature");
    let a = post(
        &t,
        "/hooks/stripe",
        &[json, ("stripe-signature", &fresh)],
        event,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();
    let done = poll_to_end(&t, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let request = t.fake.last_request().unwrap();
    let last = &request.body["messages"].as_array().unwrap().last().unwrap()["content"];
    assert_eq!(last, "Stripe event invoice.paid for in_42");
    assert!(!request.body.to_string().contains("x@y.z"));
}

#[tokio::test]
async fn body_caps_and_the_rate_limit() {
    let t = gateway().await;
    t.fake.set_default(Reply::text("ok"));
    let headers = json_with_token();
    let headers = as_refs(&headers);

    // The mapping's own cap (512), with and without a declared length.
    let big = json!({ "pad": "x".repeat(600) }).to_string();
    let a = post(&t, "/hooks/limited", &headers, big.clone()).await;
    assert_refused(&a, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert!(
        a.body["error"]["message"].as_str().unwrap().contains("512"),
        "{}",
        a.body
    );
    let chunks: Vec<Result<String, std::io::Error>> =
        vec![Ok(big[..300].to_owned()), Ok(big[300..].to_owned())];
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let a = post(&t, "/hooks/limited", &headers, streamed).await;
    assert_refused(&a, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    // `hooks.maxBodyBytes` (4096) for the rest.
    let huge = json!({ "message": "y".repeat(5000) }).to_string();
    let a = post(&t, "/hooks/agent", &headers, huge).await;
    assert_refused(&a, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");

    // Two calls a minute; the third waits. Refused calls above used none.
    for _ in 0..2 {
        let a = post(&t, "/hooks/limited", &headers, r#"{"n":1}"#).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    }
    let a = post(&t, "/hooks/limited", &headers, r#"{"n":3}"#).await;
    assert_refused(&a, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let wait: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    // Other webhooks have their own rate.
    let a = post(&t, "/hooks/agent", &headers, r#"{"message":"still fine"}"#).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);

    // Without a template the model gets the body as JSON.
    let id = a.body["id"].as_str().unwrap().to_owned();
    poll_to_end(&t, &id).await;
    let limited = t
        .fake
        .requests()
        .into_iter()
        .map(|r| r.body["messages"].as_array().unwrap().last().unwrap()["content"].clone())
        .find(|c| c.as_str().is_some_and(|s| s.contains("\"n\"")))
        .expect("a limited call reached the model");
    assert_eq!(limited, "{\n  \"n\": 1\n}");
}

#[tokio::test]
async fn the_token_is_read_from_the_secret_store() {
    let t = TestGateway::start_with(
        r#"secrets: { backend: "file" }, hooks: { enabled: true, token: { secret: "hooks-token" } },"#,
    )
    .await;
    let body = r#"{"message":"hello"}"#;
    let a = post(&t, "/hooks/agent", &as_refs(&json_with_token()), body).await;
    assert_refused(&a, StatusCode::SERVICE_UNAVAILABLE, "hooks_misconfigured");
    assert!(!a.body.to_string().contains("hooks-token"), "{}", a.body);
    let client = t.client().await;
    client
        .call::<spec::SecretsSet>(SecretsSetParams {
            name: "hooks-token".into(),
            value: HOOK_TOKEN.into(),
        })
        .await
        .unwrap();
    let a = post(&t, "/hooks/agent", &as_refs(&json_with_token()), body).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let a = post(
        &t,
        "/hooks/agent",
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer x"),
        ],
        body,
    )
    .await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn an_agent_call_is_delivered_to_a_telegram_chat() {
    let tg = FakeTelegram::start().await;
    let extra = format!(
        r#"channels: {{ telegram: {{ botToken: "{}", apiRoot: "{}" }} }}, {}"#,
        tg.token(),
        tg.url(),
        hooks_config("")
    );
    let t = TestGateway::start_with(&extra).await;
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
        assert!(
            tokio::time::Instant::now() < deadline,
            "telegram never connected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    t.fake.push(Reply::text("Deploy finished: all green."));
    let a = post(
        &t,
        "/hooks/agent",
        &as_refs(&json_with_token()),
        json!({ "message": "Summarise: deploy 42 finished", "deliver": "telegram:4242", "sessionKey": "deploys", "timeoutSeconds": 60 }).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();
    let done = poll_to_end(&t, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["deliveredTo"], "telegram:4242");
    assert_eq!(done["sessionKey"], "agent:main:deploys");
    let sent = tg.outbox().wait_for("4242", 1, WAIT).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].text, "Deploy finished: all green.");
    let request = t.fake.last_request().unwrap();
    assert_eq!(
        request.body["messages"].as_array().unwrap().last().unwrap()["content"],
        "Summarise: deploy 42 finished"
    );
}

#[tokio::test]
async fn wake_runs_the_heartbeat() {
    // The heartbeat keeps its answers (`target: "none"`), so no chat is needed.
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let plain = r#"agents: { defaults: { model: { primary: "fake/fake-model" } } }"#;
    let config = config(&fake, &hooks_config(r#"{ name: "ping", action: "wake" }"#));
    assert!(config.contains(plain));
    let config = config.replace(
        plain,
        r#"agents: { defaults: { model: { primary: "fake/fake-model" }, heartbeat: { target: "none" } } }"#,
    );
    std::fs::write(home.path().join("hearth.json"), config).unwrap();
    let t = TestGateway {
        gateway: Some(start_in(home.path()).await),
        fake,
        home,
    };
    // Nothing to check yet: the call is recorded as failed, with why.
    let workspace = t.home.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(workspace.join("HEARTBEAT.md"), "# Heartbeat\n").unwrap();
    let a = post(&t, "/hooks/wake", &as_refs(&json_with_token()), "").await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    assert_eq!(a.body["status"], "failed");
    assert!(
        a.body["error"].as_str().unwrap().contains("HEARTBEAT.md"),
        "{}",
        a.body
    );

    std::fs::write(
        workspace.join("HEARTBEAT.md"),
        "# Heartbeat\n\n- check the build queue for stuck jobs\n",
    )
    .unwrap();
    t.fake
        .push(Reply::text("Two jobs are stuck in the build queue."));
    let a = post(&t, "/hooks/wake", &[("x-hearth-token", HOOK_TOKEN)], "").await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    assert_eq!(a.body["status"], "running", "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();
    let done = poll_to_end(&t, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["hook"], "wake");
    assert_eq!(done["output"], "Two jobs are stuck in the build queue.");
    let request = t.fake.last_request().unwrap();
    let prompt = request.body["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        prompt.contains("check the build queue for stuck jobs"),
        "{prompt}"
    );

    // A mapping with `action: "wake"` does the same (its body need not be JSON).
    t.fake.push(Reply::text("HEARTBEAT_OK"));
    let a = post(&t, "/hooks/ping", &[("authorization", &bearer())], "ping").await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let done = poll_to_end(&t, a.body["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["hook"], "ping");
}
