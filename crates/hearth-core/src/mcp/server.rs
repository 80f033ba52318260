//! The supervisor of one MCP server: connect, list its tools, keep the list current, and start
//! it again with backoff when it exits or fails. Its state is what `mcp.status` shows and what
//! the tool box offers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hearth_config::McpServerConfig;
use hearth_protocol::methods::{McpServerState, McpServerStatus};
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::client::{self, Session};
use super::tool::McpTool;

/// A server up for this long has its backoff reset when it fails.
const STABLE: Duration = Duration::from_secs(60);
/// Time allowed for a stopping server to close its session.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What the supervisor publishes about its server.
#[derive(Debug)]
pub(crate) struct ServerState {
    pub(crate) name: String,
    transport: &'static str,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: McpServerState,
    tools: Vec<Arc<McpTool>>,
    last_error: Option<String>,
    retry_at: Option<Instant>,
    restarts: u32,
}

impl ServerState {
    pub(crate) fn new(name: &str, config: &McpServerConfig) -> Self {
        Self {
            name: name.to_owned(),
            transport: if config.command.is_some() {
                "stdio"
            } else {
                "http"
            },
            inner: Mutex::new(Inner {
                state: if config.enabled {
                    McpServerState::Starting
                } else {
                    McpServerState::Disabled
                },
                tools: Vec::new(),
                last_error: None,
                retry_at: None,
                restarts: 0,
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The tools to offer: none unless the server is ready.
    pub(crate) fn tools(&self) -> Vec<Arc<McpTool>> {
        self.with(|s| {
            if s.state == McpServerState::Ready {
                s.tools.clone()
            } else {
                Vec::new()
            }
        })
    }

    pub(crate) fn status(&self) -> McpServerStatus {
        self.with(|s| McpServerStatus {
            name: self.name.clone(),
            transport: self.transport.to_owned(),
            state: s.state,
            tools: if s.state == McpServerState::Ready {
                s.tools.iter().map(|t| t.name().to_owned()).collect()
            } else {
                Vec::new()
            },
            last_error: s.last_error.clone(),
            retry_in_ms: s.retry_at.map(|at| {
                u64::try_from(at.saturating_duration_since(Instant::now()).as_millis())
                    .unwrap_or(u64::MAX)
            }),
            restarts: s.restarts,
        })
    }

    fn set_starting(&self) {
        self.with(|s| {
            s.state = McpServerState::Starting;
            s.tools.clear();
            s.retry_at = None;
        });
    }

    fn set_ready(&self, tools: Vec<Arc<McpTool>>) {
        tracing::info!(mcp_server = %self.name, tools = tools.len(), "MCP server ready");
        self.with(|s| {
            s.state = McpServerState::Ready;
            s.tools = tools;
        });
    }

    fn set_failed(&self, reason: String, retry_in: Duration) {
        tracing::warn!(mcp_server = %self.name, error = %reason, retry_in_ms = retry_in.as_millis() as u64, "MCP server failed; retrying");
        self.with(|s| {
            s.state = McpServerState::Failed;
            s.tools.clear();
            s.last_error = Some(reason);
            s.retry_at = Some(Instant::now() + retry_in);
        });
    }

    fn count_restart(&self) {
        self.with(|s| s.restarts += 1);
    }
}

/// Runs until `cancel`: keeps the server connected, restarting it after failures.
pub(crate) async fn supervise(
    state: Arc<ServerState>,
    config: McpServerConfig,
    backoff: Backoff,
    cancel: CancellationToken,
) {
    let timeout = Duration::from_secs(config.timeout_sec.max(1));
    let mut failures = 0u32;
    loop {
        state.set_starting();
        let connected = tokio::select! {
            () = cancel.cancelled() => return,
            c = tokio::time::timeout(timeout, client::connect(&state.name, &config)) => c,
        };
        let reason = match connected {
            Err(_) => format!("no MCP handshake within {} s", timeout.as_secs()),
            Ok(Err(e)) => e.to_string(),
            Ok(Ok(session)) => {
                let started = Instant::now();
                match run_session(&state, session, timeout, &cancel).await {
                    None => return,
                    Some(reason) => {
                        if started.elapsed() >= STABLE {
                            failures = 0;
                        }
                        reason
                    }
                }
            }
        };
        let delay = backoff.delay(failures);
        failures = failures.saturating_add(1);
        state.set_failed(reason, delay);
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        state.count_restart();
    }
}

/// Serves one connection; answers why it ended, or `None` when it was stopped.
async fn run_session(
    state: &ServerState,
    session: Session,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Option<String> {
    let Session {
        service,
        tools_changed,
        process_group,
    } = session;
    let peer = service.peer().clone();
    let stop = service.cancellation_token();
    let mut ended = std::pin::pin!(service.waiting());
    // Lists the tools, then again each time the server says they changed.
    let outcome = loop {
        {
            let listed = tokio::select! {
                () = cancel.cancelled() => break None,
                _ = &mut ended => break Some("the server closed the connection".to_owned()),
                listed = tokio::time::timeout(timeout, peer.list_all_tools()) => listed,
            };
            match listed {
                Err(_) => {
                    break Some(format!(
                        "tools/list got no answer within {} s",
                        timeout.as_secs()
                    ));
                }
                Ok(Err(e)) => break Some(format!("tools/list failed: {e}")),
                Ok(Ok(listed)) => {
                    let mut tools: Vec<Arc<McpTool>> = Vec::new();
                    for t in &listed {
                        let Some(tool) =
                            McpTool::from_listed(&state.name, t, peer.clone(), timeout)
                        else {
                            continue;
                        };
                        if tools.iter().any(|seen| seen.name() == tool.name()) {
                            tracing::warn!(mcp_server = %state.name, tool = %tool.name(), "two tools share a name once sanitised; offering the first");
                            continue;
                        }
                        tools.push(Arc::new(tool));
                    }
                    state.set_ready(tools);
                }
            }
        }
        tokio::select! {
            () = cancel.cancelled() => break None,
            _ = &mut ended => break Some("the server closed the connection".to_owned()),
            () = tools_changed.notified() => {}
        }
    };
    if outcome.is_none() {
        stop.cancel();
        let _ = tokio::time::timeout(CLOSE_GRACE, &mut ended).await;
    }
    client::kill_group(process_group);
    outcome
}
