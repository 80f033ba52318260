//! Hearth's messaging channels.
//!
//! A channel is a platform (Telegram, Discord, Slack, Matrix); an account is one bot identity on
//! it. Every platform is one module behind one cargo feature, implementing [`ChannelAdapter`]:
//! it turns the platform's events into [`Inbound`] envelopes, hands them to an [`InboundSink`]
//! and acknowledges them to the platform only after the sink has stored them; and it sends
//! [`Outbound`] messages (text already rendered by [`ChannelAdapter::render`], edits, media).
//!
//! What is common to all platforms lives here too: [`format`] (Markdown to each platform's
//! markup), [`split`] (chunks within a length limit), [`access`] (who may talk to the
//! assistant), and [`http`] (turning an HTTP answer into a [`ChannelError`]). The gateway
//! (`hearth-core`) owns the durable queues, the supervision and the routing.

pub mod access;
mod adapter;
mod envelope;
mod error;
pub mod format;
pub mod http;
mod settings;
pub mod split;

#[cfg(feature = "discord")]
pub mod discord;
#[cfg(feature = "matrix")]
pub mod matrix;
#[cfg(feature = "slack")]
pub mod slack;
#[cfg(feature = "telegram")]
pub mod telegram;

use std::sync::Arc;

pub use adapter::{
    Capabilities, ChannelAdapter, InboundSink, RunContext, SinkError, WebhookReply, WebhookRequest,
};
pub use envelope::{
    Attachment, AttachmentKind, Content, Identity, Inbound, Outbound, PeerKind, Sent, Target,
};
pub use error::ChannelError;
pub use settings::AccountSettings;

/// The channels this build knows, in the order they are listed to users.
pub const KNOWN: [&str; 4] = ["telegram", "discord", "slack", "matrix"];

/// Whether this build includes `channel` (each platform is a cargo feature).
pub fn is_built(channel: &str) -> bool {
    let built = [
        cfg!(feature = "telegram"),
        cfg!(feature = "discord"),
        cfg!(feature = "slack"),
        cfg!(feature = "matrix"),
    ];
    KNOWN
        .iter()
        .zip(built)
        .any(|(known, built)| *known == channel && built)
}

/// The adapter for one account. Nothing connects until [`ChannelAdapter::run`].
pub fn adapter(
    settings: AccountSettings,
    http: reqwest::Client,
) -> Result<Arc<dyn ChannelAdapter>, ChannelError> {
    // `http` is unused when no HTTP-based platform is compiled in.
    let _ = &http;
    match settings.channel.as_str() {
        #[cfg(feature = "telegram")]
        "telegram" => Ok(Arc::new(telegram::Telegram::new(settings, http)?)),
        #[cfg(feature = "discord")]
        "discord" => Ok(Arc::new(discord::Discord::new(settings, http)?)),
        #[cfg(feature = "slack")]
        "slack" => Ok(Arc::new(slack::Slack::new(settings, http)?)),
        #[cfg(feature = "matrix")]
        "matrix" => Ok(Arc::new(matrix::Matrix::new(settings)?)),
        other if KNOWN.contains(&other) => Err(ChannelError::Config(format!(
            "this build of Hearth was made without the `{other}` channel (cargo feature `{other}`)"
        ))),
        other => Err(ChannelError::Config(format!(
            "unknown channel `{other}`; known channels: {}",
            KNOWN.join(", ")
        ))),
    }
}
