//! `hearth mcp status`: the running gateway's MCP servers, through the WebSocket protocol.

use std::process::ExitCode;

use hearth_protocol::methods::{Empty, McpServerState, McpServerStatus, spec};

use crate::cli::{Global, McpCmd};
use crate::{connect, output};

pub(super) async fn run(g: &Global, cmd: McpCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        McpCmd::Status => status(g).await,
    }
}

async fn status(g: &Global) -> anyhow::Result<ExitCode> {
    let client = connect::client(g).await?;
    let result = client.call::<spec::McpStatus>(Empty {}).await?;
    client.close().await;
    if g.json {
        output::json(&result)?;
        return Ok(ExitCode::SUCCESS);
    }
    if result.servers.is_empty() {
        println!("No MCP servers configured. Add one under mcp.servers in hearth.json.");
        return Ok(ExitCode::SUCCESS);
    }
    for server in &result.servers {
        println!("{}", describe(server));
        if !server.tools.is_empty() {
            println!("    tools: {}", server.tools.join(", "));
        }
        if let Some(error) = &server.last_error {
            println!("    last error: {error}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `name (transport): state`, with the tool count or the time to the next retry.
fn describe(server: &McpServerStatus) -> String {
    let state = match server.state {
        McpServerState::Starting => "starting".to_owned(),
        McpServerState::Ready => format!("ready ({} tools)", server.tools.len()),
        McpServerState::Failed => match server.retry_in_ms {
            Some(ms) => format!("failed, retrying in {}", output::duration(ms)),
            None => "failed".to_owned(),
        },
        McpServerState::Disabled => "disabled".to_owned(),
    };
    let restarts = match server.restarts {
        0 => String::new(),
        n => format!(", restarted {n}×"),
    };
    format!("{} ({}): {state}{restarts}", server.name, server.transport)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_naturally() {
        let mut server = McpServerStatus {
            name: "fake".to_owned(),
            transport: "stdio".to_owned(),
            state: McpServerState::Ready,
            tools: vec!["fake__add".to_owned(), "fake__echo".to_owned()],
            last_error: None,
            retry_in_ms: None,
            restarts: 0,
        };
        assert_eq!(describe(&server), "fake (stdio): ready (2 tools)");
        server.state = McpServerState::Failed;
        server.tools.clear();
        server.retry_in_ms = Some(2000);
        server.restarts = 1;
        let text = describe(&server);
        assert!(
            text.starts_with("fake (stdio): failed, retrying in "),
            "{text}"
        );
        assert!(text.ends_with(", restarted 1×"), "{text}");
    }
}
