//! MCP servers end to end: a real MCP server (the official Python SDK, stdio or streamable
//! HTTP) started by the gateway, its tools offered under the tool policy, called by a scripted
//! model, restarted after a crash, and followed through config reloads.

use std::time::{Duration, Instant};

use hearth_client::Client;
use hearth_protocol::methods::{
    ChatSendParams, Empty, McpServerState, McpServerStatus, McpStatusResult, spec,
};
use hearth_test_utils::{FakeMcpServer, FakeToolCall, Reply};
use serde_json::{Value, json};

use crate::harness::{TestGateway, chat_final};

fn send(message: &str) -> ChatSendParams {
    ChatSendParams {
        message: message.to_owned(),
        ..ChatSendParams::default()
    }
}

fn call(id: &str, name: &str, arguments: Value) -> Reply {
    Reply::tool_calls([FakeToolCall::new(id, name, arguments.to_string())])
}

/// `mcp: { servers: { fake: <stdio server> } }` plus `extra` top-level settings.
fn config_with(servers: Value, extra: &str) -> String {
    format!("mcp: {{ servers: {servers} }},\n{extra}")
}

fn fake_stdio() -> Value {
    FakeMcpServer::locate().stdio_config()
}

/// Polls `mcp.status` until `done` holds for the server `name`.
async fn wait_for(
    client: &Client,
    name: &str,
    what: &str,
    done: impl Fn(&McpServerStatus) -> bool,
) -> McpServerStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status: McpStatusResult = client.call::<spec::McpStatus>(Empty {}).await.unwrap();
        if let Some(server) = status.servers.iter().find(|s| s.name == name)
            && done(server)
        {
            return server.clone();
        }
        assert!(
            Instant::now() < deadline,
            "MCP server `{name}` never became {what}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ready(client: &Client, name: &str) -> McpServerStatus {
    wait_for(client, name, "ready", |s| s.state == McpServerState::Ready).await
}

/// The tool names offered in request `index` of the test.
fn offered(t: &TestGateway, index: usize) -> Vec<String> {
    t.fake.requests()[index].body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|tool| tool["function"]["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn tool_results(t: &TestGateway) -> Vec<String> {
    let body = t.fake.last_request().unwrap().body;
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn allowed_mcp_tools_are_offered_and_their_results_reach_the_model() {
    let servers = json!({ "fake": fake_stdio() });
    let t = TestGateway::start_with(&config_with(
        servers,
        r#"tools: { allow: ["group:mcp"], deny: ["fake__crash"] },"#,
    ))
    .await;
    let client = t.client().await;
    let status = ready(&client, "fake").await;
    assert_eq!(status.transport, "stdio");
    for name in ["fake__add", "fake__echo", "fake__crash", "fake__grow"] {
        assert!(status.tools.contains(&name.to_owned()), "{status:?}");
    }
    t.fake
        .push(call("c1", "fake__add", json!({ "a": 2, "b": 40 })));
    t.fake.push(call("c2", "fake__picture", json!({})));
    t.fake.push(call("c3", "fake__fail", json!({})));
    t.fake.push(Reply::text("It is 42."));
    let answer = chat_final(&client, send("add 2 and 40")).await;
    assert_eq!(answer.plain_text(), "It is 42.");

    let tools = offered(&t, 0);
    assert!(tools.contains(&"fake__add".to_owned()), "{tools:?}");
    assert!(tools.contains(&"fake__echo".to_owned()), "{tools:?}");
    assert!(
        !tools.contains(&"fake__crash".to_owned()),
        "denied: {tools:?}"
    );
    let first = t.fake.requests();
    let add = &first[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["function"]["name"] == "fake__add")
        .unwrap()["function"];
    assert_eq!(add["description"], "Adds two integers.");
    assert_eq!(add["parameters"]["properties"]["a"]["type"], "integer");

    let results = tool_results(&t);
    assert_eq!(results[0], "42");
    assert_eq!(results[1], "[image: image/png, 3 bytes]");
    assert!(
        results[2].contains("Error executing tool fail"),
        "{results:?}"
    );
}

#[tokio::test]
async fn mcp_tools_are_not_offered_unless_allowed() {
    let servers = json!({ "fake": fake_stdio() });
    let t = TestGateway::start_with(&config_with(servers, r#"tools: { profile: "full" },"#)).await;
    let client = t.client().await;
    ready(&client, "fake").await;
    t.fake
        .push(call("c1", "fake__echo", json!({ "text": "sneaky" })));
    t.fake.push(Reply::text("done"));
    chat_final(&client, send("hi")).await;
    let tools = offered(&t, 0);
    assert!(tools.iter().all(|n| !n.starts_with("fake__")), "{tools:?}");
    assert!(tools.contains(&"read".to_owned()));
    let results = tool_results(&t);
    assert!(results[0].contains("not available"), "{results:?}");
}

#[tokio::test]
async fn a_crashed_server_is_withdrawn_then_restarted() {
    let servers = json!({ "fake": fake_stdio() });
    let t =
        TestGateway::start_with(&config_with(servers, r#"tools: { allow: ["fake__*"] },"#)).await;
    let client = t.client().await;
    ready(&client, "fake").await;
    t.fake.push(call("c1", "fake__crash", json!({})));
    t.fake.push(Reply::text("it crashed"));
    let crashed_at = Instant::now();
    chat_final(&client, send("crash it")).await;
    let results = tool_results(&t);
    assert!(results[0].contains("fake"), "{results:?}");

    let failed = wait_for(&client, "fake", "failed", |s| {
        s.state == McpServerState::Failed
    })
    .await;
    assert!(failed.tools.is_empty(), "{failed:?}");
    assert!(failed.last_error.is_some(), "{failed:?}");
    let retry = failed.retry_in_ms.unwrap();
    assert!(
        retry <= 1200,
        "the first retry comes after about 1 s: {failed:?}"
    );

    // Meanwhile the model is not offered its tools.
    t.fake.push(Reply::text("no tools"));
    chat_final(&client, send("anything?")).await;
    let during = offered(&t, t.fake.requests().len() - 1);
    assert!(
        during.iter().all(|n| !n.starts_with("fake__")),
        "{during:?}"
    );

    let back = wait_for(&client, "fake", "restarted", |s| {
        s.state == McpServerState::Ready && s.restarts >= 1
    })
    .await;
    assert!(crashed_at.elapsed() >= Duration::from_secs(1));
    assert!(back.tools.contains(&"fake__add".to_owned()));
    assert!(
        back.last_error.is_some(),
        "the last error is kept: {back:?}"
    );
}

#[tokio::test]
async fn a_changed_tool_list_is_followed() {
    let servers = json!({ "fake": fake_stdio() });
    let t =
        TestGateway::start_with(&config_with(servers, r#"tools: { allow: ["group:mcp"] },"#)).await;
    let client = t.client().await;
    let before = ready(&client, "fake").await;
    assert!(!before.tools.contains(&"fake__extra".to_owned()));
    t.fake.push(call("c1", "fake__grow", json!({})));
    t.fake.push(Reply::text("grown"));
    chat_final(&client, send("grow")).await;
    assert_eq!(tool_results(&t), ["grown"]);
    wait_for(&client, "fake", "grown", |s| {
        s.tools.contains(&"fake__extra".to_owned())
    })
    .await;
}

#[tokio::test]
async fn failing_and_disabled_servers_are_reported() {
    let servers = json!({
        "missing": { "command": "/nonexistent/hearth-mcp-server" },
        "off": { "command": "/nonexistent/other", "enabled": false },
    });
    let t = TestGateway::start_with(&config_with(servers, "")).await;
    let client = t.client().await;
    let missing = wait_for(&client, "missing", "failed", |s| {
        s.state == McpServerState::Failed
    })
    .await;
    let error = missing.last_error.unwrap();
    assert!(error.contains("/nonexistent/hearth-mcp-server"), "{error}");
    let status = client.call::<spec::McpStatus>(Empty {}).await.unwrap();
    let off = status.servers.iter().find(|s| s.name == "off").unwrap();
    assert_eq!(off.state, McpServerState::Disabled);
}

#[tokio::test]
async fn reloads_start_and_stop_servers() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let status = client.call::<spec::McpStatus>(Empty {}).await.unwrap();
    assert!(status.servers.is_empty());
    let path = t.home.path().join("hearth.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let with_server = original.replacen(
        "gateway: {",
        &format!(
            "mcp: {{ servers: {{ fake: {} }} }},\n  gateway: {{",
            fake_stdio()
        ),
        1,
    );
    std::fs::write(&path, &with_server).unwrap();
    ready(&client, "fake").await;
    std::fs::write(&path, &original).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = client.call::<spec::McpStatus>(Empty {}).await.unwrap();
        if status.servers.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "not stopped: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_streamable_http_server_works_with_headers() {
    let fake_mcp = FakeMcpServer::locate();
    let (_child, url) = fake_mcp.start_http().await.unwrap();
    let servers = json!({ "web": { "url": url, "headers": { "X-Test": "secret-value" } } });
    let t =
        TestGateway::start_with(&config_with(servers, r#"tools: { allow: ["web__echo"] },"#)).await;
    let client = t.client().await;
    let status = ready(&client, "web").await;
    assert_eq!(status.transport, "http");
    t.fake
        .push(call("c1", "web__echo", json!({ "text": "over http" })));
    t.fake.push(Reply::text("ok"));
    chat_final(&client, send("echo")).await;
    assert_eq!(tool_results(&t), ["over http"]);
    assert_eq!(
        offered(&t, 0)
            .iter()
            .filter(|n| n.starts_with("web__"))
            .count(),
        1
    );
    let config = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    assert!(!config.config.to_string().contains("secret-value"));
}
