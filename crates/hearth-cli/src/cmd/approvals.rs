//! `hearth approvals list|approve|deny`: deciding the shell commands agents wait to run.

use std::process::ExitCode;

use hearth_protocol::events::ExecApprovalDecision;
use hearth_protocol::methods::{Empty, ExecApprovalResolveParams, spec};

use crate::cli::{ApprovalsCmd, Global};
use crate::{connect, output};

pub(super) async fn run(g: &Global, cmd: ApprovalsCmd) -> anyhow::Result<ExitCode> {
    let client = connect::client(g).await?;
    match cmd {
        ApprovalsCmd::List => {
            let result = client.call::<spec::ExecApprovalList>(Empty {}).await?;
            if g.json {
                output::json(&result)?;
            } else if result.approvals.is_empty() {
                println!("No commands are waiting for approval.");
            } else {
                for a in &result.approvals {
                    let left_ms = a.expires_at_ms - hearth_core::util::now_ms();
                    println!(
                        "{}  agent {}  in {}  (expires in {})\n  $ {}",
                        a.id,
                        a.agent_id,
                        a.cwd,
                        output::duration(u64::try_from(left_ms).unwrap_or(0)),
                        a.command
                    );
                }
                println!(
                    "\nDecide with `hearth approvals approve <id>` (add --always to allow that exact command from now on) or `hearth approvals deny <id>`."
                );
            }
        }
        ApprovalsCmd::Approve { id, always } => {
            let decision = if always {
                ExecApprovalDecision::AllowAlways
            } else {
                ExecApprovalDecision::AllowOnce
            };
            resolve(g, &client, id, decision).await?;
        }
        ApprovalsCmd::Deny { id } => {
            resolve(g, &client, id, ExecApprovalDecision::Deny).await?;
        }
    }
    client.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn resolve(
    g: &Global,
    client: &hearth_client::Client,
    id: String,
    decision: ExecApprovalDecision,
) -> anyhow::Result<()> {
    let result = client
        .call::<spec::ExecApprovalResolve>(ExecApprovalResolveParams { id, decision })
        .await?;
    if g.json {
        output::json(&result)?;
    } else {
        let what = match decision {
            ExecApprovalDecision::AllowOnce => "approved",
            ExecApprovalDecision::AllowAlways => "approved, and allowed from now on",
            ExecApprovalDecision::Deny => "denied",
        };
        println!("{}: {what}", result.id);
    }
    Ok(())
}
