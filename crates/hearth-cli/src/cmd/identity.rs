//! `hearth identity list|link|confirm|unlink`: one person's accounts on several channels.
//! Linking sends a code to each account's direct chat with the bot; the link is written once
//! every code came back.

use std::process::ExitCode;

use hearth_protocol::methods::{
    Empty, IdentityLinkConfirmParams, IdentityLinkStartParams, IdentityUnlinkParams, spec,
};

use crate::cli::{Global, IdentityCmd};
use crate::{connect, output};

pub(super) async fn run(g: &Global, cmd: IdentityCmd) -> anyhow::Result<ExitCode> {
    let client = connect::client(g).await?;
    match cmd {
        IdentityCmd::List => {
            let r = client.call::<spec::IdentityList>(Empty {}).await?;
            if g.json {
                output::json(&r)?;
            } else {
                println!("Owner: {}", r.owner);
                if r.links.is_empty() {
                    println!("No identities are linked.");
                }
                for (name, ids) in &r.links {
                    println!("{name}: {}", ids.join(", "));
                }
                for p in &r.pending {
                    let left = p.expires_at_ms - hearth_core::util::now_ms();
                    println!(
                        "pending {} `{}`: {} (verified: {}; expires in {})",
                        p.link_id,
                        p.name,
                        p.identities.join(", "),
                        if p.verified.is_empty() {
                            "none".to_owned()
                        } else {
                            p.verified.join(", ")
                        },
                        output::duration(u64::try_from(left).unwrap_or(0))
                    );
                }
            }
        }
        IdentityCmd::Link { name, identities } => {
            let r = client
                .call::<spec::IdentityLinkStart>(IdentityLinkStartParams { name, identities })
                .await?;
            if g.json {
                output::json(&r)?;
            } else {
                for d in &r.delivered {
                    match &d.error {
                        None => println!("code sent to {}", d.identity),
                        Some(e) => println!("no code for {}: {e}", d.identity),
                    }
                }
                println!(
                    "Then: hearth identity confirm {} <code>... (within 10 minutes)",
                    r.link_id
                );
            }
        }
        IdentityCmd::Confirm { link_id, codes } => {
            let write = client
                .call::<spec::IdentityLinkConfirm>(IdentityLinkConfirmParams { link_id, codes })
                .await?;
            if g.json {
                output::json(&write)?;
            } else {
                println!("linked; the config was written and applied");
            }
        }
        IdentityCmd::Unlink { identity } => {
            let write = client
                .call::<spec::IdentityUnlink>(IdentityUnlinkParams {
                    identity: identity.clone(),
                })
                .await?;
            if g.json {
                output::json(&write)?;
            } else {
                println!("{identity} unlinked");
            }
        }
    }
    client.close().await;
    Ok(ExitCode::SUCCESS)
}
