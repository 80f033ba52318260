//! End-to-end tests of the gateway: the real server on `127.0.0.1:0`, driven over its real
//! WebSocket and HTTP interfaces, with the fake OpenAI provider from `hearth-test-utils`.
//! One binary, a module per area.

#![allow(clippy::unwrap_used)]

mod harness;

mod audit;
mod auth;
mod branching;
mod browser;
mod budgets;
mod channels;
mod chat;
mod compaction;
mod config_methods;
mod cron;
mod cron_api;
mod failover;
mod hooks;
mod insights;
mod lifecycle;
#[cfg(feature = "matrix")]
mod matrix;
mod mcp;
mod onboarding;
mod openai_http;
mod queue;
mod real_model;
mod reload;
mod routing;
mod sessions;
mod skills;
mod tools;
mod ws_protocol;
