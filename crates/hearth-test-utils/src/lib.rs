//! Faithful local fakes of the remote services Hearth talks to.
//!
//! Each fake is a real server on a loopback port, speaking the vendor's wire protocol as its
//! public API reference documents it, so clients are tested over real sockets (HTTP framing,
//! streaming, connection drops) rather than against mocked traits. One module per vendor:
//!
//! - [`openai`]: [`FakeOpenAi`], OpenAI's Chat Completions (`/v1/chat/completions`, `/v1/models`).
//!
//! Fakes are scripted with a queue of replies, record every request they receive, and shut down
//! when dropped. They are also used by `hearth-bench`, so per-request work stays small.

pub mod openai;

pub use openai::{FakeOpenAi, FakeToolCall, RecordedRequest, Reply};
