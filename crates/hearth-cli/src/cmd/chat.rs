//! `hearth chat`: one message with `-m`, or an interactive conversation, streamed.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use hearth_client::Client;
use hearth_protocol::events::{ChatState, Event};
use hearth_protocol::methods::{ChatAbortParams, ChatSendParams, spec};
use tokio::io::AsyncBufReadExt;

use crate::cli::{ChatArgs, Global};
use crate::connect;

pub(super) async fn run(g: &Global, args: ChatArgs) -> anyhow::Result<ExitCode> {
    let client = connect::client(g).await?;
    if let Some(message) = args.message {
        let ok = send(&client, &args.session, &args.agent, message, g.json).await?;
        client.close().await;
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    println!("Chatting with Hearth. Type a message; /quit to leave; Ctrl-C stops an answer.");
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        print!("> ");
        std::io::stdout().flush()?;
        let Some(line) = lines.next_line().await? else {
            break;
        };
        let line = line.trim().to_owned();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" || line == "/exit" {
            break;
        }
        send(&client, &args.session, &args.agent, line, false).await?;
    }
    client.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Sends one message and prints the answer as it streams. Answers false when the run failed.
async fn send(
    client: &Client,
    session: &Option<String>,
    agent: &Option<String>,
    message: String,
    json: bool,
) -> anyhow::Result<bool> {
    let mut events = client.events();
    let accepted = client
        .call::<spec::ChatSend>(ChatSendParams {
            session_key: session.clone(),
            message,
            agent_id: agent.clone(),
            idempotency_key: Some(uuid_like()),
            ..Default::default()
        })
        .await?;
    if let Some(reply) = &accepted.reply {
        // A slash command the gateway answered itself.
        if json {
            crate::output::json(
                &serde_json::json!({ "sessionKey": accepted.session_key, "text": reply }),
            )?;
        } else {
            println!("{reply}");
        }
        return Ok(true);
    }
    let mut out = std::io::stdout();
    let mut printed = false;
    loop {
        let frame = tokio::select! {
            frame = events.recv() => frame?,
            _ = tokio::signal::ctrl_c() => {
                client.call::<spec::ChatAbort>(ChatAbortParams { session_key: Some(accepted.session_key.clone()), run_id: Some(accepted.run_id.clone()) }).await?;
                continue;
            }
        };
        let Ok(Event::Chat(chat)) = Event::parse(&frame.event, frame.payload) else {
            continue;
        };
        if chat.run_id != accepted.run_id {
            continue;
        }
        match chat.state {
            ChatState::Delta => {
                if !json {
                    print!("{}", chat.delta.unwrap_or_default());
                    out.flush()?;
                    printed = true;
                }
            }
            ChatState::Final => {
                let message = chat.message.map_or_else(
                    || hearth_protocol::transcript::Message::assistant(""),
                    |m| *m,
                );
                if json {
                    crate::output::json(&serde_json::json!({
                        "runId": accepted.run_id,
                        "sessionKey": accepted.session_key,
                        "text": message.plain_text(),
                        "usage": chat.usage,
                    }))?;
                } else {
                    if !printed {
                        print!("{}", message.plain_text());
                    }
                    println!();
                }
                return Ok(true);
            }
            ChatState::Aborted => {
                println!("\n(stopped)");
                return Ok(false);
            }
            ChatState::Error => {
                let msg = chat
                    .error
                    .map(|e| e.message)
                    .unwrap_or_else(|| "the run failed".into());
                if printed {
                    println!();
                }
                if json {
                    bail!("{msg}");
                }
                eprintln!("error: {msg}");
                return Ok(false);
            }
        }
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("cli-{}-{nanos}", std::process::id())
}
