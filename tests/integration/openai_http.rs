//! The OpenAI-compatible HTTP endpoints.

use hearth_protocol::methods::{ChatHistoryParams, spec};
use hearth_test_utils::Reply;
use serde_json::{Value, json};

use crate::harness::{TOKEN, TestGateway};

async fn post(t: &TestGateway, body: Value) -> reqwest::Response {
    t.http()
        .post(format!("{}/v1/chat/completions", t.http_base()))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn plain_completion_in_openai_shape() {
    let t = TestGateway::start().await;
    t.fake.push(Reply::text("Paris."));
    let r = post(&t, json!({"model": "hearth", "messages": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Capital of France?"}]})).await;
    assert_eq!(r.status(), 200);
    let timing = r.headers()["server-timing"].to_str().unwrap().to_owned();
    assert!(timing.starts_with("gateway;dur="), "{timing}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["message"]["content"], "Paris.");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(body["model"], "hearth");
    // The request's system message joins the system prompt.
    let sent = t.fake.last_request().unwrap().body;
    assert!(
        sent["messages"][0]["content"]
            .as_str()
            .unwrap()
            .ends_with("Answer briefly.")
    );
}

#[tokio::test]
async fn streaming_completion_as_sse_chunks() {
    let t = TestGateway::start().await;
    t.fake.push(Reply::text_chunked("one two three", 4));
    let r = post(&t, json!({"model": "hearth:main", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "count"}]})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let text = r.text().await.unwrap();
    let events: Vec<&str> = text
        .split("\n\n")
        .filter(|s| !s.is_empty())
        .map(|s| s.strip_prefix("data: ").unwrap())
        .collect();
    assert_eq!(*events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "one two three");
    let finish: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, vec![&json!("stop")]);
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
    }
}

#[tokio::test]
async fn user_field_keeps_a_session() {
    let t = TestGateway::start().await;
    t.fake.push(Reply::text("Nice to meet you, Ada."));
    t.fake.push(Reply::text("You are Ada."));
    let r = post(&t, json!({"model": "hearth", "user": "ada", "messages": [{"role": "user", "content": "I am Ada."}]})).await;
    assert_eq!(r.status(), 200);
    let r = post(&t, json!({"model": "hearth", "user": "ada", "messages": [{"role": "user", "content": "Who am I?"}]})).await;
    assert_eq!(r.status(), 200);
    // The second call carried the first turn from the store.
    let sent = t.fake.last_request().unwrap().body;
    let contents: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        vec!["I am Ada.", "Nice to meet you, Ada.", "Who am I?"]
    );
    let client = t.client().await;
    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams {
            session_key: Some("agent:main:openai:ada".into()),
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(history.messages.len(), 4);
}

#[tokio::test]
async fn stateless_requests_use_their_own_history() {
    let t = TestGateway::start().await;
    let r = post(&t, json!({"model": "hearth", "messages": [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]})).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "echo: c");
    let sent = t.fake.last_request().unwrap().body;
    assert_eq!(sent["messages"].as_array().unwrap().len(), 4);
    let client = t.client().await;
    let list = client
        .call::<spec::SessionsList>(Default::default())
        .await
        .unwrap();
    assert!(
        list.sessions.is_empty(),
        "stateless requests create no session"
    );
}

#[tokio::test]
async fn errors_in_openai_shape() {
    let t = TestGateway::start().await;
    let r = post(
        &t,
        json!({"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_found");

    let r = post(&t, json!({"model": "hearth", "messages": []})).await;
    assert_eq!(r.status(), 400);
    let r = t
        .http()
        .post(format!("{}/v1/chat/completions", t.http_base()))
        .bearer_auth(TOKEN)
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");

    t.fake.push(Reply::server_error());
    let r = post(
        &t,
        json!({"model": "hearth", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 502);
    t.fake.push(Reply::rate_limited(30));
    let r = post(
        &t,
        json!({"model": "hearth", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "30");

    let r = t
        .http()
        .post(format!("{}/v1/chat/completions", t.http_base()))
        .json(&json!({"model": "hearth", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn models_lists_agents() {
    let t = TestGateway::start().await;
    let r = t
        .http()
        .get(format!("{}/v1/models", t.http_base()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["hearth", "hearth:main"]);
}

#[tokio::test]
async fn endpoint_is_off_unless_enabled() {
    let fake = hearth_test_utils::FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let cfg = crate::harness::config(&fake, "").replace(
        "chatCompletions: { enabled: true }",
        "chatCompletions: { enabled: false }",
    );
    std::fs::write(home.path().join("hearth.json"), cfg).unwrap();
    let gw = crate::harness::start_in(home.path()).await;
    let r = reqwest::Client::new()
        .post(format!("http://{}/v1/chat/completions", gw.local_addr()))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "hearth", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("chatCompletions.enabled")
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn control_ui_page_is_served_without_a_token() {
    let t = TestGateway::start().await;
    let r = t
        .http()
        .get(format!("{}/", t.http_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("<title>Hearth</title>"));
    assert!(!html.contains(TOKEN));
}

/// The official OpenAI Python SDK (installed by `installers/deps.sh --test`) against the gateway.
#[tokio::test]
async fn the_official_openai_sdk_works() {
    let venv = std::env::var("HEARTH_TEST_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::env::home_dir()
                .unwrap_or_default()
                .join(".cache/hearth/test-venv")
        });
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash installers/deps.sh --test`",
        python.display()
    );
    let t = TestGateway::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk/openai_sdk.py");
    let out = tokio::process::Command::new(&python)
        .arg(script)
        .env("HEARTH_BASE_URL", format!("{}/v1", t.http_base()))
        .env("HEARTH_TOKEN", TOKEN)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("openai sdk: ok"));
}
