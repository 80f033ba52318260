//! Connecting to one MCP server with the official SDK (`rmcp`): a child process speaking MCP
//! over stdio, or a streamable HTTP endpoint.
//!
//! A child runs in its own process group, so the servers it starts itself (`npx` starting
//! `node`) are stopped with it; its stderr goes to the gateway log at debug level.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;

use hearth_config::McpServerConfig;
use rmcp::model::{ClientConfig, Implementation};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use tokio::io::AsyncBufReadExt;
use tokio::sync::Notify;

use super::McpError;

/// Our side of the connection: answers the server's requests with the SDK's defaults and
/// wakes the supervisor when the server's tool list changes.
#[derive(Debug, Clone)]
pub(crate) struct Handler {
    pub(crate) tools_changed: Arc<Notify>,
}

impl ClientHandler for Handler {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_changed.notify_one();
    }

    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        info.client_info = Implementation::new("hearth", crate::VERSION);
        info
    }
}

/// A live connection.
pub(crate) struct Session {
    pub(crate) service: RunningService<RoleClient, Handler>,
    pub(crate) tools_changed: Arc<Notify>,
    /// The child's process group, for stdio servers.
    pub(crate) process_group: Option<u32>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("process_group", &self.process_group)
            .finish_non_exhaustive()
    }
}

/// Starts (stdio) or reaches (HTTP) the server and runs the MCP handshake.
pub(crate) async fn connect(name: &str, config: &McpServerConfig) -> Result<Session, McpError> {
    let tools_changed = Arc::new(Notify::new());
    let handler = Handler {
        tools_changed: tools_changed.clone(),
    };
    if let Some(command) = &config.command {
        let mut cmd = tokio::process::Command::new(command);
        cmd.args(&config.args)
            .envs(&config.env)
            .kill_on_drop(true)
            .process_group(0);
        if let Some(cwd) = &config.cwd {
            cmd.current_dir(expand_tilde(cwd));
        }
        let (transport, stderr) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| McpError::Spawn {
                command: command.clone(),
                source,
            })?;
        let process_group = transport.id();
        if let Some(stderr) = stderr {
            tokio::spawn(log_stderr(name.to_owned(), stderr));
        }
        let service = handler
            .serve(transport)
            .await
            .map_err(|e| McpError::Handshake(e.to_string()))?;
        return Ok(Session {
            service,
            tools_changed,
            process_group,
        });
    }
    let Some(url) = &config.url else {
        return Err(McpError::Config(
            "neither `command` nor `url` is set".to_owned(),
        ));
    };
    // rmcp's reqwest has rustls without a crypto provider; ring is already in the build.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut headers = HashMap::new();
    for (key, value) in &config.headers {
        let header =
            http::HeaderName::try_from(key.as_str()).map_err(|_| McpError::Header(key.clone()))?;
        // Never name the value: it is usually a credential.
        let mut value = http::HeaderValue::try_from(value.as_str())
            .map_err(|_| McpError::Header(key.clone()))?;
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(headers),
    );
    let service = handler
        .serve(transport)
        .await
        .map_err(|e| McpError::Handshake(e.to_string()))?;
    Ok(Session {
        service,
        tools_changed,
        process_group: None,
    })
}

fn expand_tilde(path: &str) -> std::path::PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => std::env::home_dir().unwrap_or_default().join(rest),
        None => std::path::PathBuf::from(path),
    }
}

async fn log_stderr(server: String, stderr: tokio::process::ChildStderr) {
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(mcp_server = %server, "{line}");
    }
}

/// Kills what is left of a stdio server's process group (the SDK stops the child itself).
pub(crate) fn kill_group(group: Option<u32>) {
    let Some(pid) = group.and_then(|g| i32::try_from(g).ok()) else {
        return;
    };
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}
