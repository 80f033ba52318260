//! `hearth route explain`: which agent, session and memory a message would get, which binding
//! won and why, and why each other binding did not.

use std::process::ExitCode;

use anyhow::bail;
use hearth_protocol::methods::{ChatKind, RouteExplainParams, spec};

use crate::cli::{Global, RouteCmd};
use crate::{connect, output};

pub(super) async fn run(g: &Global, cmd: RouteCmd) -> anyhow::Result<ExitCode> {
    let RouteCmd::Explain(args) = cmd;
    let peer_kind = match args.peer_kind.as_deref() {
        None => None,
        Some("direct") => Some(ChatKind::Direct),
        Some("group") => Some(ChatKind::Group),
        Some("channel") => Some(ChatKind::Channel),
        Some("thread") => Some(ChatKind::Thread),
        Some(other) => bail!("`{other}` is not a peer kind; use direct, group, channel or thread"),
    };
    let client = connect::client(g).await?;
    let r = client
        .call::<spec::RouteExplain>(RouteExplainParams {
            channel: args.channel,
            account_id: args.account,
            peer_kind,
            peer_id: args.peer,
            parent_peer_id: args.parent,
            thread_id: args.thread,
            sender_id: args.sender,
            guild_id: args.guild,
            team_id: args.team,
            roles: args.roles,
        })
        .await?;
    client.close().await;
    if g.json {
        output::json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    match &r.binding {
        Some(b) => println!(
            "Agent `{}`, by binding {} `{}` (matched by {}).",
            r.agent_id,
            b.index,
            b.name,
            r.matched_by.as_str()
        ),
        None => println!("Agent `{}`, the default: no binding matched.", r.agent_id),
    }
    println!("Session: {}", r.session_key);
    println!("Person:  {}", r.person);
    println!(
        "Memory:  {}",
        r.memory_dir
            .as_deref()
            .unwrap_or("the workspace's own (MEMORY.md, memory/)")
    );
    if !r.candidates.is_empty() {
        println!("\nBindings:");
        for c in &r.candidates {
            println!(
                "{:>3}  {:<28} -> {:<12} {}",
                c.index, c.name, c.agent_id, c.why
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
