//! `hearth sessions list|show`.

use std::process::ExitCode;

use hearth_protocol::methods::{ChatHistoryParams, SessionsForkParams, SessionsListParams, spec};
use hearth_protocol::transcript::{ContentBlock, Role};

use crate::cli::{Global, SessionsCmd};
use crate::{connect, output};

pub(super) async fn run(g: &Global, cmd: SessionsCmd) -> anyhow::Result<ExitCode> {
    let client = connect::client(g).await?;
    match cmd {
        SessionsCmd::List {
            agent,
            channel,
            sender,
            search,
            all,
            limit,
        } => {
            let result = client
                .call::<spec::SessionsList>(SessionsListParams {
                    agent_id: agent,
                    channel,
                    sender,
                    search,
                    include_archived: all,
                    limit: Some(limit),
                })
                .await?;
            if g.json {
                output::json(&result)?;
            } else if result.sessions.is_empty() {
                println!("No sessions yet. Start one with `hearth chat`.");
            } else {
                println!(
                    "{:<40} {:<9} {:>5} {:>9}  {:<16}  title",
                    "key", "channel", "msgs", "tokens", "updated (UTC)"
                );
                for s in &result.sessions {
                    let key = if s.archived {
                        format!("{} (archived)", s.key)
                    } else {
                        s.key.clone()
                    };
                    println!(
                        "{:<40} {:<9} {:>5} {:>9}  {:<16}  {}",
                        key,
                        s.channel,
                        s.message_count,
                        s.usage.total_tokens(),
                        output::time(s.updated_at),
                        s.title.as_deref().unwrap_or("")
                    );
                }
            }
        }
        SessionsCmd::Show { key, limit } => {
            let history = client
                .call::<spec::ChatHistory>(ChatHistoryParams {
                    session_key: Some(key),
                    limit: Some(limit),
                })
                .await?;
            if g.json {
                output::json(&history)?;
            } else if history.messages.is_empty() {
                println!("{}: no messages.", history.session_key);
            } else {
                println!(
                    "{} ({})",
                    history.session_key,
                    history.session_id.unwrap_or_default()
                );
                for m in &history.messages {
                    let who = match m.role {
                        Role::User => "you",
                        Role::Assistant => "assistant",
                        Role::Tool => "tool",
                        Role::System => "system",
                    };
                    let number = m.seq.map(|n| format!("#{n} ")).unwrap_or_default();
                    println!("\n{number}[{}] {who}:", output::time(m.timestamp));
                    for block in &m.content {
                        match block {
                            ContentBlock::Text { text } => println!("{text}"),
                            ContentBlock::Thinking { thinking, .. } => {
                                println!("(thinking) {thinking}")
                            }
                            ContentBlock::ToolCall {
                                name, arguments, ..
                            } => println!("→ {name}({arguments})"),
                            ContentBlock::Image { mime_type, .. } => {
                                println!("[image {mime_type}]")
                            }
                        }
                    }
                    if let Some(u) = &m.usage {
                        let cost = u.cost.map(|c| format!(", ${c:.4}")).unwrap_or_default();
                        println!("  ({} in, {} out{cost})", u.input, u.output);
                    }
                }
            }
        }
        SessionsCmd::Fork { key, at, new_key } => {
            let fork = client
                .call::<spec::SessionsFork>(SessionsForkParams {
                    key,
                    session_id: None,
                    at_seq: at,
                    new_key,
                })
                .await?;
            if g.json {
                output::json(&fork)?;
            } else {
                println!(
                    "Forked into {} ({} messages copied, up to #{}). Continue it with: hearth chat --session {}",
                    fork.key, fork.messages, fork.fork_seq, fork.key
                );
            }
        }
    }
    client.close().await;
    Ok(ExitCode::SUCCESS)
}
