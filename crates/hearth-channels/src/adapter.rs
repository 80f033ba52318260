//! The trait every platform implements, and what the gateway lends it while it runs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::{ChannelError, Identity, Inbound, Outbound, Sent, Target};

/// What a platform can do, so the gateway only asks for what works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Sent messages can be edited (streaming by editing in place).
    pub edits: bool,
    /// Least time between two edits of one message, from the platform's rate limits.
    pub edit_interval: Duration,
    pub reactions: bool,
    /// A typing indicator exists; `typing_every` is how often it must be renewed.
    pub typing: bool,
    pub typing_every: Duration,
    pub threads: bool,
    pub media: bool,
    /// Longest text of one message, in characters, after rendering.
    pub max_text_len: usize,
    /// Name of the markup [`ChannelAdapter::render`] produces (`telegram-html`, `mrkdwn`,
    /// `discord-markdown`, `matrix-html`), for status and tests.
    pub format: &'static str,
}

/// A message the gateway decides what to do with. Implemented by `hearth-core`.
#[async_trait]
pub trait InboundSink: Send + Sync + 'static {
    /// Takes one inbound message. Returns once it is stored durably (or deliberately dropped by
    /// policy): only then may the adapter acknowledge it to the platform (advance Telegram's
    /// offset, ack a Slack envelope, answer a webhook with 200). On `Err`, the adapter must not
    /// acknowledge, so the platform delivers it again. Storing twice is harmless: the gateway
    /// recognises a message it already has by channel, account and `message_id`.
    async fn accept(&self, inbound: Inbound) -> Result<(), SinkError>;
}

/// The gateway could not store a message (database unavailable, shutting down).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the gateway could not take the message: {0}")]
pub struct SinkError(pub String);

/// What an adapter's [`ChannelAdapter::run`] gets from the gateway.
#[derive(Clone)]
pub struct RunContext {
    /// Fires on shutdown or when the account is stopped; `run` then returns `Ok(())` promptly.
    pub cancel: CancellationToken,
    pub sink: Arc<dyn InboundSink>,
    /// Called each time the connection is up and receiving (after Telegram's first successful
    /// poll, Discord's READY or RESUMED, Slack's `hello`, Matrix's first sync). The gateway resets
    /// its reconnect backoff and drains the outbound queue then.
    pub on_connected: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("cancelled", &self.cancel.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl RunContext {
    pub fn connected(&self) {
        (self.on_connected)();
    }
}

/// An HTTP request the platform sent to the gateway's webhook route
/// (`POST /channels/<channel>/<account>/webhook`).
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// The answer to a webhook request. A non-2xx status makes the platform deliver again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl WebhookReply {
    pub fn ok() -> WebhookReply {
        WebhookReply::text(200, "")
    }

    pub fn text(status: u16, body: impl Into<String>) -> WebhookReply {
        WebhookReply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: &serde_json::Value) -> WebhookReply {
        WebhookReply {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }
}

/// One account on one platform.
///
/// `run` receives; the other methods send and may be called concurrently with it and with each
/// other. None of them may log or return a credential.
#[async_trait]
pub trait ChannelAdapter: Send + Sync + 'static {
    fn capabilities(&self) -> Capabilities;

    /// The bot's identity, checking the credentials with one API call (`getMe`, `users/@me`,
    /// `auth.test`, `whoami`). Used by `hearth channels add` and the Control UI's channel wizard.
    async fn probe(&self) -> Result<Identity, ChannelError>;

    /// Connects and receives until `ctx.cancel` fires (then returns `Ok(())`) or the connection
    /// fails for good (then returns the error; the gateway reconnects with backoff, except
    /// after [`ChannelError::Auth`] and [`ChannelError::Config`], which stop the account until the
    /// config changes). Each received message goes through `ctx.sink` before it is acknowledged.
    async fn run(&self, ctx: RunContext) -> Result<(), ChannelError>;

    /// Markdown from the model as this platform's markup, split into messages that each fit
    /// `limit` characters (never more than [`Capabilities::max_text_len`]) on sensible
    /// boundaries: paragraphs, then lines, then sentences, then words; code blocks are closed
    /// and reopened across a split.
    fn render(&self, markdown: &str, limit: usize) -> Vec<String>;

    /// Sends one message (or edits one, for [`crate::Content::Text`] with `edit_of`).
    async fn send(&self, out: &Outbound) -> Result<Sent, ChannelError>;

    /// Shows "typing…" in the chat until the next message or the platform's timeout.
    async fn typing(&self, target: &Target) -> Result<(), ChannelError>;

    /// Adds an emoji reaction to a message.
    async fn react(
        &self,
        _target: &Target,
        _message_id: &str,
        _emoji: &str,
    ) -> Result<(), ChannelError> {
        Err(ChannelError::Unsupported("reactions"))
    }

    /// Downloads an inbound attachment's bytes, refusing more than `max_bytes`.
    async fn fetch(
        &self,
        attachment: &crate::Attachment,
        max_bytes: u64,
    ) -> Result<Bytes, ChannelError>;

    /// Handles a request to the account's webhook route (Telegram webhook mode, Slack's Events
    /// API). Adapters that have no webhook mode answer 404.
    async fn webhook(&self, _req: WebhookRequest, _sink: Arc<dyn InboundSink>) -> WebhookReply {
        WebhookReply::text(404, "this channel account does not take webhooks")
    }
}
