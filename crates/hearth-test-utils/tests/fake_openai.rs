//! `FakeOpenAi` speaks OpenAI's Chat Completions wire format, checked with a plain HTTP client.

use std::time::Duration;

use hearth_test_utils::{FakeOpenAi, FakeToolCall, Reply};
use serde_json::{Value, json};

async fn post(fake: &FakeOpenAi, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(&body)
        .send()
        .await
        .expect("the fake answers")
}

/// The JSON payloads of an SSE body, `[DONE]` included as a string.
fn sse_payloads(body: &str) -> Vec<Value> {
    assert!(body.ends_with("\n\n"), "events end with a blank line");
    body.split("\n\n")
        .filter(|event| !event.is_empty())
        .map(|event| {
            let data = event
                .strip_prefix("data: ")
                .expect("every event is one data line");
            serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()))
        })
        .collect()
}

fn hi(stream: bool) -> Value {
    json!({ "model": "gpt-4o-mini", "stream": stream, "messages": [{ "role": "user", "content": "hi there" }] })
}

#[tokio::test]
async fn a_non_streaming_answer_is_a_chat_completion_object() {
    let fake = FakeOpenAi::start().await;
    let response = post(&fake, hi(false)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["message"]["content"], "echo: hi there");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 2);
    assert_eq!(body["usage"]["completion_tokens"], 3);
    assert_eq!(body["usage"]["total_tokens"], 5);
}

#[tokio::test]
async fn a_streaming_answer_follows_the_chunk_protocol() {
    let fake = FakeOpenAi::start().await;
    fake.set_cached_tokens(1);
    fake.push(Reply::text_chunked("abcdefgh", 3));
    let mut request = hi(true);
    request["stream_options"] = json!({ "include_usage": true });
    let response = post(&fake, request).await;
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream; charset=utf-8"
    );
    let payloads = sse_payloads(&response.text().await.unwrap());
    let (done, chunks) = payloads.split_last().unwrap();
    assert_eq!(done, "[DONE]");
    for chunk in chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], chunks[0]["id"]);
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "abcdefgh");
    assert_eq!(chunks.len(), 1 + 3 + 1 + 1);
    let (usage_chunk, deltas) = chunks.split_last().unwrap();
    assert!(
        deltas
            .iter()
            .all(|c| c["usage"].is_null() && c.get("usage").is_some())
    );
    assert_eq!(
        deltas.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(
        usage_chunk["usage"]["prompt_tokens_details"]["cached_tokens"],
        1
    );
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 2);
}

#[tokio::test]
async fn without_include_usage_no_usage_is_streamed() {
    let fake = FakeOpenAi::start().await;
    let payloads = sse_payloads(&post(&fake, hi(true)).await.text().await.unwrap());
    assert!(payloads.iter().all(|p| p.get("usage").is_none()));
    assert!(
        payloads
            .iter()
            .all(|p| p == "[DONE]" || p["choices"].as_array().unwrap().len() == 1)
    );
}

#[tokio::test]
async fn tool_calls_stream_id_and_name_first_then_argument_fragments() {
    let fake = FakeOpenAi::start().await;
    let arguments = r#"{"query":"rust sse"}"#;
    fake.push(Reply::tool_calls([
        FakeToolCall::new("call_a", "search", arguments),
        FakeToolCall::new("call_b", "noop", "{}"),
    ]));
    let payloads = sse_payloads(&post(&fake, hi(true)).await.text().await.unwrap());
    let calls: Vec<&Value> = payloads
        .iter()
        .filter_map(|p| p["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(calls[0]["id"], "call_a");
    assert_eq!(calls[0]["function"]["name"], "search");
    assert_eq!(calls[0]["type"], "function");
    let fragments: String = calls
        .iter()
        .filter(|c| c["index"] == 0)
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect();
    assert_eq!(fragments, arguments);
    assert!(calls.iter().filter(|c| c["index"] == 0).count() > 3);
    assert!(calls.iter().any(|c| c["index"] == 1 && c["id"] == "call_b"));
    let finish = &payloads[payloads.len() - 2]["choices"][0]["finish_reason"];
    assert_eq!(finish, "tool_calls");

    fake.push(Reply::tool_calls([FakeToolCall::new(
        "call_c", "noop", "{}",
    )]));
    let body: Value = post(&fake, hi(false)).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "noop"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn thinking_streams_as_reasoning_content() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::thinking("pondering", "ok"));
    let payloads = sse_payloads(&post(&fake, hi(true)).await.text().await.unwrap());
    let reasoning: String = payloads
        .iter()
        .filter_map(|p| p["choices"][0]["delta"]["reasoning_content"].as_str())
        .collect();
    assert_eq!(reasoning, "pondering");
}

#[tokio::test]
async fn scripted_replies_are_used_in_order_then_the_default() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::text("first"));
    fake.push(Reply::server_error());
    let answer = |body: Value| body["choices"][0]["message"]["content"].clone();
    assert_eq!(
        answer(post(&fake, hi(false)).await.json().await.unwrap()),
        "first"
    );
    let failed = post(&fake, hi(false)).await;
    assert_eq!(failed.status(), 500);
    let error: Value = failed.json().await.unwrap();
    assert_eq!(error["error"]["type"], "server_error");
    assert_eq!(
        answer(post(&fake, hi(false)).await.json().await.unwrap()),
        "echo: hi there"
    );
    assert_eq!(fake.request_count(), 3);
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(fake.last_request().unwrap().body, hi(false));
}

#[tokio::test]
async fn error_replies_carry_their_headers() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::rate_limited(12));
    let response = post(&fake, hi(true)).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "12");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn a_required_key_is_checked_like_openai() {
    let fake = FakeOpenAi::start().await;
    fake.require_key("sk-right-key-123456");
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", fake.base_url());

    let missing = client.post(&url).json(&hi(false)).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let body: Value = missing.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("You didn't provide an API key")
    );

    let wrong = client
        .post(&url)
        .bearer_auth("sk-wrong-key-654321")
        .json(&hi(false))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wrong-key")
    );

    let right = client
        .post(&url)
        .bearer_auth("sk-right-key-123456")
        .json(&hi(false))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    let models = client
        .get(format!("{}/models", fake.base_url()))
        .bearer_auth("sk-right-key-123456")
        .send()
        .await
        .unwrap();
    let models: Value = models.json().await.unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["object"], "model");
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "gpt-4o-mini")
    );
    assert_eq!(fake.last_request().unwrap().path, "/v1/models");
}

#[tokio::test]
async fn unknown_routes_get_openais_404() {
    let fake = FakeOpenAi::start().await;
    let response = reqwest::get(format!("{}/nope", fake.base_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Invalid URL (GET /v1/nope)");
}

#[tokio::test]
async fn wait_for_requests_wakes_on_arrival_and_gives_up_at_the_timeout() {
    let fake = FakeOpenAi::start().await;
    assert!(!fake.wait_for_requests(1, Duration::from_millis(50)).await);
    let base_url = fake.base_url();
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        reqwest::get(format!("{base_url}/models")).await.unwrap();
    });
    assert!(fake.wait_for_requests(1, Duration::from_secs(5)).await);
    sender.await.unwrap();
}

#[tokio::test]
async fn a_cut_reply_drops_the_connection_mid_body() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::cut_after("partial answer"));
    let response = post(&fake, hi(true)).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.text().await.is_err(),
        "the body must not end cleanly"
    );
}

#[tokio::test]
async fn dropping_the_fake_shuts_it_down_even_with_a_stalled_response() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::Stall);
    let response = post(&fake, hi(true)).await;
    let url = fake.base_url();
    drop(fake);
    let body = tokio::time::timeout(Duration::from_secs(5), response.text()).await;
    assert!(body.is_ok(), "a stalled body ends when the fake shuts down");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(reqwest::get(format!("{url}/models")).await.is_err());
}

#[tokio::test]
async fn sixty_four_concurrent_streams_are_answered() {
    let fake = FakeOpenAi::start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", fake.base_url());
    let calls = (0..64).map(|i| {
        let client = client.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let body = json!({ "model": "m", "stream": true, "messages": [{ "role": "user", "content": format!("n{i}") }] });
            client.post(url).json(&body).send().await.unwrap().text().await.unwrap()
        })
    });
    let mut answered = 0;
    for (i, call) in calls.collect::<Vec<_>>().into_iter().enumerate() {
        let text = call.await.unwrap();
        assert!(text.contains(&format!("n{i}")) && text.ends_with("data: [DONE]\n\n"));
        answered += 1;
    }
    assert_eq!(answered, 64);
    assert_eq!(fake.request_count(), 64);
}
