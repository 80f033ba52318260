//! Faithful local fakes of the remote services Hearth talks to.
//!
//! Each fake is a real server on a loopback port, speaking the vendor's wire protocol as its
//! public API reference documents it, so clients are tested over real sockets (HTTP framing,
//! streaming, connection drops) rather than against mocked traits. One module per vendor:
//!
//! - [`openai`]: [`FakeOpenAi`], OpenAI's Chat Completions (`/v1/chat/completions`, `/v1/models`).
//! - [`openai_responses`]: [`FakeOpenAiResponses`], OpenAI's Responses (`/v1/responses`, `/v1/models`).
//! - [`anthropic`]: [`FakeAnthropic`], Anthropic's Messages (`/v1/messages`, `/v1/models`).
//! - [`gemini`]: [`FakeGemini`], the Gemini API (`/v1beta/models/{model}:streamGenerateContent`,
//!   `/v1beta/models`).
//! - [`ollama`]: [`FakeOllama`], Ollama's native API (`/api/chat`, `/api/tags`).
//! - [`mcp_server`]: [`FakeMcpServer`], a real MCP server (Python, official SDK) over stdio or HTTP.
//! - [`telegram`]: [`FakeTelegram`], the Telegram Bot API (`/bot<token>/<method>`, file downloads).
//! - [`discord`]: [`FakeDiscord`], Discord's Gateway WebSocket and REST API.
//! - [`slack`]: [`FakeSlack`], Slack's Web API and Socket Mode WebSocket.
//! - [`synapse`]: [`synapse::Synapse`], not a fake but a real Matrix homeserver on loopback.
//!
//! Fakes are scripted with a queue of replies (model-list routes with a queue of their own, and
//! the models they list set with `set_models`), record every request they receive, and shut down
//! when dropped; that machinery is shared, in [`script`]. They are also used by `hearth-bench`,
//! so per-request work stays small.

pub mod anthropic;
pub mod chat;
pub mod discord;
pub mod gemini;
pub mod mcp_server;
pub mod ollama;
pub mod openai;
pub mod openai_responses;
pub mod script;
pub mod slack;
pub mod synapse;
pub mod telegram;

pub use anthropic::FakeAnthropic;
pub use chat::{Outbox, SentKind, SentMessage};
pub use discord::FakeDiscord;
pub use gemini::FakeGemini;
pub use mcp_server::FakeMcpServer;
pub use ollama::FakeOllama;
pub use openai::FakeOpenAi;
pub use openai_responses::FakeOpenAiResponses;
pub use script::{Failure, FakeToolCall, RecordedRequest, Reply, Script};
pub use slack::FakeSlack;
pub use telegram::FakeTelegram;
