//! The Hearth gateway as a library.
//!
//! Everything a running Hearth is, without any desktop dependency: the state directory, config
//! loading and hot reload, the secret store glue, sessions and the agent loop, and the one
//! HTTP + WebSocket server. The `hearth` CLI and the Tauri shell both start it through
//! [`Gateway::start`] and stop it through [`RunningGateway::shutdown`].
//!
//! Module map (see ARCHITECTURE.md for the picture):
//! - [`home`]: `$HEARTH_HOME` and its files.
//! - [`runtime`]: the live state shared by every component ([`runtime::Runtime`]).
//! - [`agents`], [`models`]: agents and providers resolved from the config.
//! - [`sessions`]: session keys, per-session serialisation, run registry.
//! - [`routing`]: which agent, session and memory a message gets (bindings, dmScope).
//! - [`identity`]: identity links verified with codes (one person on several channels).
//! - [`agent`]: one agent turn, from the user's message to the stored answer.
//! - [`bus`]: events fanned out to WebSocket clients.
//! - [`gateway`]: the HTTP routes, the WebSocket protocol, auth and origin checks.
//! - [`mcp`]: MCP servers' tools, offered to agents.
//! - [`desktop`]: the hooks a desktop shell lends the gateway (start at login).
//! - [`reload`]: config file watching.
//! - [`logging`]: tracing setup (terminal and JSON files).
//! - [`foreground`]: the gateway in the foreground of a process (signals, pid file, the link).

pub mod agent;
pub mod agents;
pub mod audit;
pub mod budgets;
pub mod bus;
pub mod catalog;
pub mod channels;
pub mod clock;
pub mod commands;
pub mod cron;
pub mod desktop;
mod error;
pub mod foreground;
pub mod gateway;
pub mod home;
pub mod hooks;
pub mod identity;
pub mod logging;
pub mod mcp;
pub mod models;
pub mod proactive;
pub mod reload;
pub mod reset;
pub mod routing;
pub mod runtime;
pub mod sessions;
mod start;
pub mod util;

pub use error::CoreError;
pub use home::StateDir;
pub use start::{Gateway, GatewayOptions, RunningGateway, control_ui_url};

/// This build's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
