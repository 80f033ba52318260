//! Against a real model server that nobody here wrote: llama-cpp-python's OpenAI-compatible
//! server running SmolLM2-135M-Instruct, both installed by `tests/llm/setup.sh` (which
//! `tests/run.sh` runs). The answers are a real model's, so the checks are about the wire:
//! streaming, usage, stop reasons, persistence, history.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hearth_protocol::events::ChatState;
use hearth_protocol::methods::{ChatHistoryParams, ChatSendParams, spec};
use hearth_protocol::transcript::StopReason;

use crate::harness::{TOKEN, chat_to_end_within};

/// A real model generates on the CPU, which other tests share.
const MODEL_WAIT: Duration = Duration::from_secs(90);

struct LlamaServer {
    child: tokio::process::Child,
    port: u16,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn start_llama() -> LlamaServer {
    let cache = std::env::var("HEARTH_LLM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            std::env::home_dir()
                .unwrap_or_default()
                .join(".cache/hearth/llm")
        });
    let python = cache.join("venv/bin/python");
    let model = cache.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        python.exists() && model.exists(),
        "the real model server is missing: run `bash tests/llm/setup.sh`"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(python)
        .args(["-m", "llama_cpp.server", "--model"])
        .arg(&model)
        .args([
            "--model_alias",
            "smollm2",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .args(["--n_ctx", "2048", "--n_threads", "2", "--verbose", "false"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let server = LlamaServer { child, port };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let up = http
            .get(format!("http://127.0.0.1:{port}/v1/models"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if up {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "llama server did not come up in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_llama_cpp_server_answers_through_the_gateway() {
    let llama = start_llama().await;
    let home = tempfile::tempdir().unwrap();
    let cfg = format!(
        r#"{{
  gateway: {{ port: 0, auth: {{ token: "{TOKEN}" }}, http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
  agents: {{ defaults: {{ model: {{ primary: "llama/smollm2" }} }} }},
  models: {{ providers: {{ llama: {{ baseUrl: "http://127.0.0.1:{}/v1", api: "openai-completions",
    models: [{{ id: "smollm2", contextWindow: 2048, maxTokens: 48 }}] }} }} }},
}}"#,
        llama.port
    );
    std::fs::write(home.path().join("hearth.json"), cfg).unwrap();
    let gw = crate::harness::start_in(home.path()).await;
    let opts = hearth_client::ConnectOptions::new(
        format!("ws://{}/", gw.local_addr()),
        Some(TOKEN.to_owned()),
        "t",
    );
    let client = hearth_client::Client::connect(opts).await.unwrap();

    let ask = |text: &str| ChatSendParams {
        message: text.to_owned(),
        ..ChatSendParams::default()
    };
    let end =
        chat_to_end_within(&client, ask("Say hello in one short sentence."), MODEL_WAIT).await;
    assert_eq!(end.state, ChatState::Final, "{:?}", end.error);
    let message = end.message.unwrap();
    assert!(
        !message.plain_text().trim().is_empty(),
        "the model said something"
    );
    assert!(
        matches!(
            message.stop_reason,
            Some(StopReason::Stop | StopReason::Length)
        ),
        "{:?}",
        message.stop_reason
    );
    let usage = end.usage.unwrap();
    assert!(usage.input > 0 && usage.output > 0, "{usage:?}");

    // The second turn carries the first: the prompt grows.
    let end = chat_to_end_within(&client, ask("And now say goodbye."), MODEL_WAIT).await;
    assert_eq!(end.state, ChatState::Final, "{:?}", end.error);
    assert!(end.usage.unwrap().input > usage.input);
    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams::default())
        .await
        .unwrap();
    assert_eq!(history.messages.len(), 4);

    // The OpenAI-compatible endpoint streams the real model's chunks.
    let body = serde_json::json!({"model": "hearth", "stream": true, "messages": [{"role": "user", "content": "Count to three."}]});
    let text = reqwest::Client::new()
        .post(format!("http://{}/v1/chat/completions", gw.local_addr()))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let content: String = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(!content.trim().is_empty(), "{text}");
    gw.shutdown().await;
}
