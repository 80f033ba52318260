//! `hearth channels list|status|add|remove|pause|resume` and `hearth pairing
//! list|approve|deny|revoke`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::bail;
use hearth_protocol::methods::{
    ChannelAccountStatus, ChannelsAddParams, ChannelsPauseParams, ChannelsRemoveParams, Empty,
    PairingCodeParams, PairingRevokeParams, spec,
};

use crate::cli::{ChannelsAddArgs, ChannelsCmd, Global, PairingCmd};
use crate::{connect, output};

pub(super) async fn run(g: &Global, cmd: ChannelsCmd) -> anyhow::Result<ExitCode> {
    let client = connect::client(g).await?;
    match cmd {
        ChannelsCmd::List | ChannelsCmd::Status => {
            let verbose = matches!(cmd, ChannelsCmd::Status);
            let result = client.call::<spec::ChannelsStatus>(Empty {}).await?;
            if g.json {
                output::json(&result)?;
            } else {
                if result.paused {
                    println!("All channels are paused (`hearth channels resume`).");
                }
                for c in &result.channels {
                    print_account(c, verbose);
                }
                if result.channels.len() <= 1 {
                    println!(
                        "\nNo messaging channel is set up. Add one with `hearth channels add telegram` (see docs/channels.md)."
                    );
                }
            }
        }
        ChannelsCmd::Add(args) => add(g, &client, args).await?,
        ChannelsCmd::Remove { channel, account } => {
            let write = client
                .call::<spec::ChannelsRemove>(ChannelsRemoveParams {
                    channel: channel.clone(),
                    account,
                    base_hash: None,
                })
                .await?;
            if g.json {
                output::json(&write)?;
            } else {
                println!("removed {channel} and its stored credentials");
            }
        }
        ChannelsCmd::Pause | ChannelsCmd::Resume => {
            let paused = matches!(cmd, ChannelsCmd::Pause);
            client
                .call::<spec::ChannelsPause>(ChannelsPauseParams { paused })
                .await?;
            println!(
                "{}",
                if paused {
                    "channels paused; messages wait on the platforms until `hearth channels resume`"
                } else {
                    "channels resumed"
                }
            );
        }
    }
    client.close().await;
    Ok(ExitCode::SUCCESS)
}

fn print_account(c: &ChannelAccountStatus, verbose: bool) {
    let state = serde_json::to_value(c.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    println!(
        "{:<9} {:<12} {:<12} {}",
        c.channel,
        c.account,
        state,
        c.identity.as_deref().unwrap_or("")
    );
    if let Some(error) = &c.last_error {
        println!("          last error: {error}");
    }
    if verbose {
        let n = &c.counts;
        println!(
            "          dm {} / groups {}; received {}, allowed {}, denied {}, ignored {}, pairing {}; sent {}, send failures {}",
            c.dm_policy,
            c.group_policy,
            n.received,
            n.allowed,
            n.denied,
            n.ignored,
            n.pairing,
            n.sent,
            n.send_failures
        );
        println!(
            "          queues: inbound pending {}, outbound pending {}, outbound failed {}; reconnects {}",
            n.inbound_pending, n.outbound_pending, n.outbound_failed, c.reconnects
        );
    }
}

fn default_credentials(
    channel: &str,
    settings: &serde_json::Map<String, serde_json::Value>,
) -> Vec<&'static str> {
    match channel {
        "telegram" => vec!["botToken"],
        "discord" => vec!["token"],
        "slack" if settings.get("mode").and_then(|m| m.as_str()) == Some("http") => {
            vec!["botToken", "signingSecret"]
        }
        "slack" => vec!["botToken", "appToken"],
        "matrix" => vec!["password"],
        _ => Vec::new(),
    }
}

/// Reads each credential hidden from the terminal, or one per line from stdin when piped.
fn read_credentials(keys: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if std::io::stdin().is_terminal() {
        for key in keys {
            let value = rpassword::prompt_password(format!("{key} (hidden): "))?;
            out.insert(key.clone(), value.trim().to_owned());
        }
    } else {
        let mut all = String::new();
        std::io::stdin().read_to_string(&mut all)?;
        let mut lines = all.lines();
        for key in keys {
            let Some(line) = lines.next() else {
                bail!(
                    "expected {} line(s) on stdin: {}",
                    keys.len(),
                    keys.join(", ")
                );
            };
            out.insert(key.clone(), line.trim().to_owned());
        }
    }
    if let Some((key, _)) = out.iter().find(|(_, v)| v.is_empty()) {
        bail!("`{key}` is empty: nothing saved");
    }
    Ok(out)
}

async fn add(
    g: &Global,
    client: &hearth_client::Client,
    args: ChannelsAddArgs,
) -> anyhow::Result<()> {
    let mut settings = serde_json::Map::new();
    for pair in &args.settings {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("`--set {pair}`: expected KEY=VALUE");
        };
        let value = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
        settings.insert(key.trim().to_owned(), value);
    }
    let keys: Vec<String> = if args.credentials.is_empty() {
        default_credentials(&args.channel, &settings)
            .into_iter()
            .map(str::to_owned)
            .collect()
    } else {
        args.credentials.clone()
    };
    let credentials = read_credentials(&keys)?;
    let result = client
        .call::<spec::ChannelsAdd>(ChannelsAddParams {
            channel: args.channel.clone(),
            account: args.account.clone(),
            credentials,
            settings,
            base_hash: None,
            test: !args.no_test,
        })
        .await?;
    if g.json {
        output::json(&result)?;
    } else {
        println!(
            "{} account `{}` saved{}; credentials are in the secret store ({}).",
            result.channel,
            result.account,
            result
                .identity
                .as_deref()
                .map(|i| format!(" — the bot is {i}"))
                .unwrap_or_default(),
            result.secrets.join(", ")
        );
        println!(
            "Send the bot a direct message: it answers with a pairing code; approve it with `hearth pairing approve <code>`."
        );
    }
    Ok(())
}

pub(super) async fn pairing(g: &Global, cmd: PairingCmd) -> anyhow::Result<ExitCode> {
    let client = connect::client(g).await?;
    match cmd {
        PairingCmd::List => {
            let result = client.call::<spec::PairingList>(Empty {}).await?;
            if g.json {
                output::json(&result)?;
            } else {
                if result.requests.is_empty() {
                    println!("No pairing requests are waiting.");
                }
                for r in &result.requests {
                    let left = r.expires_at_ms - hearth_core::util::now_ms();
                    println!(
                        "{}  {} {}  {}{}  (expires in {})",
                        r.code,
                        r.channel,
                        r.account,
                        r.sender_name
                            .as_deref()
                            .map(|n| format!("{n} "))
                            .unwrap_or_default(),
                        r.sender_id,
                        output::duration(u64::try_from(left).unwrap_or(0))
                    );
                }
                if !result.approved.is_empty() {
                    println!("\nApproved senders:");
                    for a in &result.approved {
                        println!(
                            "  {} {}  {}{}",
                            a.channel,
                            a.account,
                            a.sender_name
                                .as_deref()
                                .map(|n| format!("{n} "))
                                .unwrap_or_default(),
                            a.sender_id
                        );
                    }
                }
            }
        }
        PairingCmd::Approve { code } => {
            let d = client
                .call::<spec::PairingApprove>(PairingCodeParams { code })
                .await?;
            if g.json {
                output::json(&d)?;
            } else {
                println!(
                    "approved {} on {} ({}); they were told",
                    d.sender_name.as_deref().unwrap_or(&d.sender_id),
                    d.channel,
                    d.account
                );
            }
        }
        PairingCmd::Deny { code } => {
            let d = client
                .call::<spec::PairingDeny>(PairingCodeParams { code })
                .await?;
            if g.json {
                output::json(&d)?;
            } else {
                println!(
                    "denied {} on {}",
                    d.sender_name.as_deref().unwrap_or(&d.sender_id),
                    d.channel
                );
            }
        }
        PairingCmd::Revoke {
            channel,
            sender,
            account,
        } => {
            let r = client
                .call::<spec::PairingRevoke>(PairingRevokeParams {
                    channel,
                    account,
                    sender_id: sender,
                })
                .await?;
            println!(
                "{}",
                if r.revoked {
                    "revoked"
                } else {
                    "no such approved sender"
                }
            );
        }
    }
    client.close().await;
    Ok(ExitCode::SUCCESS)
}
