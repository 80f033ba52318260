//! MCP client: the tools of Model Context Protocol servers, offered to agents.
//!
//! `mcp.servers` in the config names the servers: local commands speaking MCP over stdio, or
//! remote streamable HTTP endpoints. The [`McpManager`] (one per gateway, in the runtime)
//! starts each enabled server in the background when the gateway starts (start-up never waits
//! for them), supervises it ([`server`]: re-list its tools when it says they changed, start it
//! again with [`Backoff`] when it exits or fails, its tools withdrawn meanwhile) and stops it
//! on shutdown. A config reload starts, stops or restarts only the servers whose settings
//! changed.
//!
//! The tool box ([`crate::agent::tools::ToolBox`]) offers a ready server's tools as
//! `<server>__<tool>` ([`McpTool`]) where the tool policy allows them: no profile includes
//! them, so a user opts in with `group:mcp`, a glob such as `github__*`, or exact names.

mod backoff;
mod client;
mod server;
mod tool;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_config::{McpConfig, McpServerConfig};
use hearth_protocol::methods::McpStatusResult;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use backoff::Backoff;
pub use tool::{McpTool, tool_name};

use server::ServerState;

/// Time allowed for every server to stop on shutdown.
const STOP_GRACE: Duration = Duration::from_secs(8);

/// Why an MCP server could not be reached. Messages never contain header or environment
/// values.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("header `{0}` is not a valid HTTP header")]
    Header(String),
    #[error("the MCP handshake failed: {0}")]
    Handshake(String),
    #[error("{0}")]
    Config(String),
}

struct Entry {
    config: McpServerConfig,
    state: Arc<ServerState>,
    cancel: CancellationToken,
}

/// Every configured MCP server and its supervisor.
pub struct McpManager {
    servers: Mutex<BTreeMap<String, Entry>>,
    tasks: TaskTracker,
    root: CancellationToken,
    backoff: Mutex<Backoff>,
}

impl std::fmt::Debug for McpManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.lock().keys().cloned().collect();
        f.debug_struct("McpManager")
            .field("servers", &names)
            .finish_non_exhaustive()
    }
}

impl Default for McpManager {
    fn default() -> Self {
        Self::new()
    }
}

impl McpManager {
    /// A manager with no servers.
    pub fn new() -> Self {
        Self {
            servers: Mutex::new(BTreeMap::new()),
            tasks: TaskTracker::new(),
            root: CancellationToken::new(),
            backoff: Mutex::new(Backoff::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.servers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the restart schedule for servers started from now on (tests use short steps).
    pub fn set_backoff(&self, backoff: Backoff) {
        *self.backoff.lock().unwrap_or_else(|p| p.into_inner()) = backoff;
    }

    /// Makes the running servers match `config`: starts new and enabled ones, stops removed and
    /// disabled ones, restarts those whose settings changed, leaves the rest alone. Returns at
    /// once; servers connect in the background. Needs a Tokio runtime.
    pub fn apply(&self, config: &McpConfig) {
        if self.root.is_cancelled() {
            return;
        }
        let backoff = self
            .backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut servers = self.lock();
        servers.retain(|name, entry| {
            let keep = config.servers.get(name) == Some(&entry.config);
            if !keep {
                tracing::info!(mcp_server = %name, "stopping MCP server (config changed)");
                entry.cancel.cancel();
            }
            keep
        });
        for (name, server_config) in &config.servers {
            if servers.contains_key(name) {
                continue;
            }
            let state = Arc::new(ServerState::new(name, server_config));
            let cancel = self.root.child_token();
            if server_config.enabled {
                self.tasks.spawn(server::supervise(
                    state.clone(),
                    server_config.clone(),
                    backoff.clone(),
                    cancel.clone(),
                ));
            }
            servers.insert(
                name.clone(),
                Entry {
                    config: server_config.clone(),
                    state,
                    cancel,
                },
            );
        }
    }

    /// The tools of every ready server, by server name then the server's order.
    pub fn tools(&self) -> Vec<Arc<McpTool>> {
        self.lock()
            .values()
            .flat_map(|entry| entry.state.tools())
            .collect()
    }

    /// Every configured server's state, for `mcp.status`.
    pub fn status(&self) -> McpStatusResult {
        McpStatusResult {
            servers: self.lock().values().map(|e| e.state.status()).collect(),
        }
    }

    /// Stops every server and waits (a few seconds at most) for them to close.
    pub async fn shutdown(&self) {
        self.root.cancel();
        self.tasks.close();
        if tokio::time::timeout(STOP_GRACE, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some MCP servers did not stop in time");
        }
        self.lock().clear();
    }
}
