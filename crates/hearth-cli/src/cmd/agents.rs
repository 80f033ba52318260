//! `hearth agents list|add|remove|bind|unbind|bindings`: the agents and the bindings that route
//! messages to them, changed through the running gateway (checked and applied like any config
//! write).

use std::process::ExitCode;

use anyhow::bail;
use hearth_protocol::methods::{
    AgentsAddParams, AgentsRemoveParams, BindingsAddParams, BindingsRemoveParams, ChatKind,
    ConfigWrite, Empty, PeerRef, RouteMatch, spec,
};

use crate::cli::{AgentsCmd, BindArgs, Global};
use crate::{connect, output};

pub(super) async fn run(g: &Global, cmd: AgentsCmd) -> anyhow::Result<ExitCode> {
    let client = connect::client(g).await?;
    match cmd {
        AgentsCmd::List => {
            let result = client.call::<spec::AgentsList>(Empty {}).await?;
            if g.json {
                output::json(&result)?;
            } else {
                for a in &result.agents {
                    println!(
                        "{}{:<12} {:<20} {:<28} {} binding(s){}",
                        a.identity
                            .emoji
                            .as_deref()
                            .map(|e| format!("{e} "))
                            .unwrap_or_default(),
                        a.id,
                        a.name,
                        a.model.as_deref().unwrap_or("(no model)"),
                        a.bindings,
                        if a.default { "  [default]" } else { "" }
                    );
                    println!("    workspace: {}", a.workspace);
                }
            }
        }
        AgentsCmd::Add {
            id,
            name,
            model,
            workspace,
            emoji,
            default,
        } => {
            let write = client
                .call::<spec::AgentsAdd>(AgentsAddParams {
                    id: id.clone(),
                    name,
                    model,
                    workspace,
                    emoji,
                    default,
                })
                .await?;
            done(g, &write, &format!("agent `{id}` added"))?;
        }
        AgentsCmd::Remove { id, force } => {
            let write = client
                .call::<spec::AgentsRemove>(AgentsRemoveParams {
                    id: id.clone(),
                    force,
                })
                .await?;
            done(g, &write, &format!("agent `{id}` removed"))?;
        }
        AgentsCmd::Bind(args) => {
            let agent = args.agent_id.clone();
            let params = bind_params(args)?;
            let write = client.call::<spec::BindingsAdd>(params).await?;
            done(g, &write, &format!("binding to `{agent}` added"))?;
        }
        AgentsCmd::Unbind { binding } => {
            let params = match binding.parse::<u32>() {
                Ok(index) => BindingsRemoveParams {
                    index: Some(index),
                    name: None,
                },
                Err(_) => BindingsRemoveParams {
                    index: None,
                    name: Some(binding.clone()),
                },
            };
            let write = client.call::<spec::BindingsRemove>(params).await?;
            done(g, &write, &format!("binding {binding} removed"))?;
        }
        AgentsCmd::Bindings => {
            let result = client.call::<spec::BindingsList>(Empty {}).await?;
            if g.json {
                output::json(&result)?;
            } else if result.bindings.is_empty() {
                println!(
                    "No bindings: every message goes to the default agent. Add one with `hearth agents bind`."
                );
            } else {
                for b in &result.bindings {
                    println!(
                        "{:>3}  {:<28} -> {:<12} ({}){}",
                        b.index,
                        b.name,
                        b.agent_id,
                        b.tier.as_str(),
                        if b.shared_memory {
                            ", shared memory"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
    }
    client.close().await;
    Ok(ExitCode::SUCCESS)
}

fn done(g: &Global, write: &ConfigWrite, what: &str) -> anyhow::Result<()> {
    if g.json {
        output::json(write)
    } else {
        println!("{what}; the config was written and applied");
        for w in &write.warnings {
            println!("  warning: {}: {}", w.path, w.message);
        }
        Ok(())
    }
}

/// `--peer kind:id` as a chat.
fn parse_peer(peer: &str) -> anyhow::Result<PeerRef> {
    let Some((kind, id)) = peer.split_once(':') else {
        bail!("`--peer {peer}`: write `direct:<id>`, `group:<id>` or `channel:<id>`");
    };
    let kind = match kind {
        "direct" => ChatKind::Direct,
        "group" => ChatKind::Group,
        "channel" => ChatKind::Channel,
        other => bail!("`{other}` is not a peer kind; use direct, group or channel"),
    };
    Ok(PeerRef {
        kind,
        id: id.to_owned(),
    })
}

fn bind_params(args: BindArgs) -> anyhow::Result<BindingsAddParams> {
    Ok(BindingsAddParams {
        agent_id: args.agent_id,
        matches: RouteMatch {
            channel: args.channel,
            account_id: args.account,
            peer: args.peer.as_deref().map(parse_peer).transpose()?,
            guild_id: args.guild,
            team_id: args.team,
            roles: args.roles,
        },
        name: args.name,
        shared_memory: args.shared_memory,
    })
}
