//! The SDK's errors as [`ChannelError`]s, classified by the Matrix error code the homeserver
//! sent (`M_LIMIT_EXCEEDED` with `retry_after_ms`, `M_FORBIDDEN`, `M_UNKNOWN_TOKEN`) and by the
//! HTTP status when there is none.
//!
//! Messages carry the homeserver's own error text but never a URL (a sync URL carries the
//! filter and position, and nothing from a request may leak a credential).

use std::time::{Duration, SystemTime};

use matrix_sdk::HttpError;
use matrix_sdk::ruma::api::error::{ErrorKind, RetryAfter};

use crate::ChannelError;
use crate::http::{MAX_RETRY_AFTER, classify};

/// An SDK error from a send, a sync or a download.
pub(super) fn sdk_error(err: &matrix_sdk::Error, what: &str) -> ChannelError {
    match err {
        matrix_sdk::Error::Http(http) => http_error(http, what),
        matrix_sdk::Error::WrongRoomState(e) => ChannelError::Permanent(format!("{what}: {e}")),
        matrix_sdk::Error::Identifier(e) => ChannelError::Permanent(format!("{what}: {e}")),
        matrix_sdk::Error::Media(e) => ChannelError::Permanent(format!("{what}: {e}")),
        other => ChannelError::Transient(format!("{what}: {other}")),
    }
}

/// An error from logging in or checking a restored session: refused credentials stop the
/// account.
pub(super) fn login_error(err: &matrix_sdk::Error) -> ChannelError {
    let refused = err.client_api_error_kind().is_some_and(|kind| {
        matches!(
            kind,
            ErrorKind::Forbidden
                | ErrorKind::UnknownToken(_)
                | ErrorKind::MissingToken
                | ErrorKind::UserDeactivated
                | ErrorKind::InvalidUsername
        )
    });
    if refused {
        let text = err
            .as_client_api_error()
            .map(ToString::to_string)
            .unwrap_or_else(|| "login refused".to_owned());
        return ChannelError::Auth(format!("Matrix login: {text}"));
    }
    sdk_error(err, "Matrix login")
}

/// Whether the homeserver no longer accepts the session's access token.
pub(super) fn is_unknown_token(err: &matrix_sdk::Error) -> bool {
    matches!(
        err.client_api_error_kind(),
        Some(ErrorKind::UnknownToken(_) | ErrorKind::MissingToken)
    )
}

pub(super) fn http_error(err: &HttpError, what: &str) -> ChannelError {
    if let Some(api) = err.as_client_api_error() {
        let status = api.status_code.as_u16();
        return match api.error_kind() {
            Some(ErrorKind::LimitExceeded(data)) => ChannelError::RateLimited {
                retry_after: data
                    .retry_after
                    .as_ref()
                    .map(retry_after)
                    .unwrap_or(Duration::from_secs(1))
                    .min(MAX_RETRY_AFTER),
            },
            Some(ErrorKind::Forbidden) => ChannelError::Permanent(format!("{what}: {api}")),
            Some(ErrorKind::UnknownToken(_) | ErrorKind::MissingToken) => {
                ChannelError::Auth(format!("{what}: {api}"))
            }
            _ => classify(status, None, &format!("{what}: {api}")),
        };
    }
    match err {
        HttpError::Reqwest(e) => {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect to the homeserver"
            } else if e.is_body() || e.is_decode() {
                "the answer was cut off or unreadable"
            } else {
                "the request failed"
            };
            ChannelError::Transient(format!("{what}: {kind}"))
        }
        HttpError::Cached(inner) => http_error(inner, what),
        // A non-JSON or otherwise unexpected answer (a proxy's error page, a server restarting).
        other => ChannelError::Transient(format!("{what}: {}", strip_urls(&other.to_string()))),
    }
}

fn retry_after(value: &RetryAfter) -> Duration {
    match value {
        RetryAfter::Delay(d) => *d,
        RetryAfter::DateTime(at) => at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    }
}

/// Removes anything that looks like a URL from an error text.
fn strip_urls(text: &str) -> String {
    text.split(' ')
        .map(|word| if word.contains("://") { "<url>" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use matrix_sdk::ruma::api::error::FromHttpResponseError;
    use matrix_sdk::ruma::api::{EndpointError, error::Error as ApiError};

    use super::*;

    fn api(status: u16, body: serde_json::Value) -> HttpError {
        let response = http::Response::builder()
            .status(status)
            .body(body.to_string().into_bytes())
            .expect("response");
        let error = ApiError::from_http_response(response);
        HttpError::from(FromHttpResponseError::Server(error))
    }

    #[test]
    fn matrix_error_codes_are_classified() {
        let limited = http_error(
            &api(
                429,
                serde_json::json!({"errcode": "M_LIMIT_EXCEEDED", "error": "slow down", "retry_after_ms": 2500}),
            ),
            "send",
        );
        assert_eq!(limited.retry_after(), Some(Duration::from_millis(2500)));

        let forbidden = http_error(
            &api(
                403,
                serde_json::json!({"errcode": "M_FORBIDDEN", "error": "not in room"}),
            ),
            "send",
        );
        assert!(
            matches!(forbidden, ChannelError::Permanent(_)),
            "{forbidden:?}"
        );

        let token = http_error(
            &api(
                401,
                serde_json::json!({"errcode": "M_UNKNOWN_TOKEN", "error": "gone"}),
            ),
            "sync",
        );
        assert!(matches!(token, ChannelError::Auth(_)), "{token:?}");

        let busy = http_error(
            &api(
                502,
                serde_json::json!({"errcode": "M_UNKNOWN", "error": "bad gateway"}),
            ),
            "send",
        );
        assert!(busy.is_retryable());

        let login = login_error(&matrix_sdk::Error::Http(Box::new(api(
            403,
            serde_json::json!({"errcode": "M_FORBIDDEN", "error": "Invalid password"}),
        ))));
        assert!(matches!(login, ChannelError::Auth(_)), "{login:?}");
    }

    #[test]
    fn rate_limits_without_a_delay_wait_a_second() {
        let err = http_error(
            &api(
                429,
                serde_json::json!({"errcode": "M_LIMIT_EXCEEDED", "error": "slow down"}),
            ),
            "send",
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn urls_are_stripped() {
        assert_eq!(
            strip_urls("error sending request for url (http://h/x?since=1)"),
            "error sending request for url <url>"
        );
    }
}
