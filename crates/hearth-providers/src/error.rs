//! [`ProviderError`]: every way a model call can fail, classified for the agent loop.
//!
//! The agent loop decides from the variant whether to retry, fall back to another model or give
//! up ([`ProviderError::is_retryable`], [`ProviderError::retry_after`]); events and the audit log
//! record [`ProviderError::kind`]; users read the message. Messages say what happened and what
//! to do. They carry the provider's own explanation, which is scrubbed of the API key before it
//! gets here (see `transport::Redactor`).

use std::fmt;
use std::time::Duration;

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutPhase {
    /// Opening the connection.
    Connect,
    /// Between sending the request and the first byte of the answer.
    FirstByte,
    /// Between two pieces of a streamed answer.
    Idle,
}

impl TimeoutPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::FirstByte => "first-byte",
            TimeoutPhase::Idle => "idle",
        }
    }
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed model call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error(
        "the provider rejected the credentials (HTTP {status}): {message}; check the provider's \
         apiKey (and that it may use this model)"
    )]
    Auth { status: u16, message: String },

    #[error("the provider's rate limit was reached: {message}; {}", retry_hint(*.retry_after))]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },

    #[error("the provider is overloaded: {message}; {}", retry_hint(*.retry_after))]
    Overloaded {
        retry_after: Option<Duration>,
        message: String,
    },

    #[error(
        "the conversation is longer than the model's context window: {message}; compact or \
         reset the session, or pick a model with a larger context"
    )]
    ContextTooLong { message: String },

    #[error(
        "the provider refused the request (HTTP {status}): {message}; check the model id and \
         the provider settings"
    )]
    InvalidRequest { status: u16, message: String },

    #[error("the provider failed (HTTP {status}): {message}; retry later or use a fallback model")]
    Server { status: u16, message: String },

    #[error(
        "could not reach the provider: {message}; check the network, the provider's baseUrl and \
         any HTTP(S)_PROXY setting"
    )]
    Network { message: String },

    #[error(
        "the provider did not answer within the {phase} timeout; check the network, or raise \
         the timeout if the model is slow"
    )]
    Timeout { phase: TimeoutPhase },

    #[error("the provider's answer stopped mid-stream: {message}; {}", broken_hint(*.output_started))]
    StreamBroken {
        message: String,
        output_started: bool,
    },

    #[error(
        "the provider's answer could not be understood: {message}; check that baseUrl points \
         at an endpoint speaking this provider's api kind"
    )]
    Decode { message: String },

    #[error("the model call was cancelled")]
    Cancelled,

    /// The provider's settings cannot be used (a malformed baseUrl or header).
    #[error("the provider settings are invalid: {message}; fix them in models.providers")]
    Config { message: String },
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!("retry in {:.1} s or use a fallback model", d.as_secs_f64()),
        None => "retry later or use a fallback model".to_owned(),
    }
}

fn broken_hint(output_started: bool) -> &'static str {
    if output_started {
        "the partial answer was discarded; send the message again"
    } else {
        "nothing was received yet, so it is safe to retry"
    }
}

impl ProviderError {
    /// Whether trying again (the same model later, or a fallback) can help: network trouble,
    /// timeouts, 5xx, rate limits, overload, and a stream that broke before any output.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Network { .. }
            | ProviderError::Timeout { .. }
            | ProviderError::Server { .. }
            | ProviderError::RateLimited { .. }
            | ProviderError::Overloaded { .. } => true,
            ProviderError::StreamBroken { output_started, .. } => !output_started,
            ProviderError::Auth { .. }
            | ProviderError::ContextTooLong { .. }
            | ProviderError::InvalidRequest { .. }
            | ProviderError::Decode { .. }
            | ProviderError::Cancelled
            | ProviderError::Config { .. } => false,
        }
    }

    /// How long the provider asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. }
            | ProviderError::Overloaded { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A stable snake_case name for events and the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Auth { .. } => "auth",
            ProviderError::RateLimited { .. } => "rate_limited",
            ProviderError::Overloaded { .. } => "overloaded",
            ProviderError::ContextTooLong { .. } => "context_too_long",
            ProviderError::InvalidRequest { .. } => "invalid_request",
            ProviderError::Server { .. } => "server",
            ProviderError::Network { .. } => "network",
            ProviderError::Timeout { .. } => "timeout",
            ProviderError::StreamBroken { .. } => "stream_broken",
            ProviderError::Decode { .. } => "decode",
            ProviderError::Cancelled => "cancelled",
            ProviderError::Config { .. } => "config",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryability_follows_the_failure_class() {
        let broken = |output_started| ProviderError::StreamBroken {
            message: "eof".to_owned(),
            output_started,
        };
        assert!(broken(false).is_retryable());
        assert!(!broken(true).is_retryable());
        assert!(
            ProviderError::Timeout {
                phase: TimeoutPhase::Idle
            }
            .is_retryable()
        );
        assert!(
            ProviderError::Server {
                status: 502,
                message: String::new()
            }
            .is_retryable()
        );
        assert!(
            !ProviderError::ContextTooLong {
                message: String::new()
            }
            .is_retryable()
        );
        assert!(!ProviderError::Cancelled.is_retryable());
    }

    #[test]
    fn messages_say_what_to_do() {
        let err = ProviderError::RateLimited {
            retry_after: Some(Duration::from_millis(1500)),
            message: "slow down".to_owned(),
        };
        assert_eq!(err.kind(), "rate_limited");
        assert_eq!(err.retry_after(), Some(Duration::from_millis(1500)));
        assert!(err.to_string().contains("retry in 1.5 s"), "{err}");
        let err = ProviderError::Timeout {
            phase: TimeoutPhase::FirstByte,
        };
        assert!(err.to_string().contains("first-byte timeout"), "{err}");
    }
}
