//! The one error type of this crate, classified by what the caller should do next.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The platform asked us to slow down; try again after `retry_after`.
    #[error("rate limited by the platform; retry after {} ms", retry_after.as_millis())]
    RateLimited { retry_after: Duration },
    /// Worth retrying with backoff: network failure, timeout, 5xx, a dropped connection.
    #[error("{0}")]
    Transient(String),
    /// Will fail the same way again: the message is refused (bad request, chat not found, bot
    /// blocked, too large). Not retried.
    #[error("{0}")]
    Permanent(String),
    /// The credentials were refused (401, revoked token). The account stops until fixed.
    #[error("the platform refused the credentials: {0}")]
    Auth(String),
    /// The account's settings are incomplete or wrong; the message says what to set.
    #[error("{0}")]
    Config(String),
    /// The operation is not available on this platform.
    #[error("{0} is not supported on this channel")]
    Unsupported(&'static str),
}

impl ChannelError {
    /// Whether sending again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ChannelError::RateLimited { .. } | ChannelError::Transient(_)
        )
    }

    /// The wait the platform asked for, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ChannelError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// A short stable name for status and logs: `rate_limited`, `transient`, `permanent`,
    /// `auth`, `config`, `unsupported`.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelError::RateLimited { .. } => "rate_limited",
            ChannelError::Transient(_) => "transient",
            ChannelError::Permanent(_) => "permanent",
            ChannelError::Auth(_) => "auth",
            ChannelError::Config(_) => "config",
            ChannelError::Unsupported(_) => "unsupported",
        }
    }
}
