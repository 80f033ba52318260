//! Turning a platform's HTTP answer into a [`ChannelError`], the same way for every platform.

use std::time::Duration;

use crate::ChannelError;

/// Longest wait honoured from a platform's `retry_after`; anything longer is capped so one
/// answer cannot park a queue for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Classifies a failed HTTP answer. `retry_after` is what the platform said (header or body);
/// `what` describes the call and the platform's own error text, for the message.
pub fn classify(status: u16, retry_after: Option<Duration>, what: &str) -> ChannelError {
    match status {
        429 => ChannelError::RateLimited {
            retry_after: retry_after
                .unwrap_or(Duration::from_secs(1))
                .min(MAX_RETRY_AFTER),
        },
        401 => ChannelError::Auth(what.to_owned()),
        408 | 409 | 425 | 500..=599 => ChannelError::Transient(format!("{what} (HTTP {status})")),
        _ => ChannelError::Permanent(format!("{what} (HTTP {status})")),
    }
}

/// A request that never got an answer (connect, timeout, reset) is worth retrying.
pub fn transport(err: &reqwest::Error, what: &str) -> ChannelError {
    // reqwest's Display for connection errors does not include the URL's query, but the URL path
    // can carry a token (Telegram's `/bot<token>/`), so the URL is stripped.
    let err = format!("{}", ShortError(err));
    ChannelError::Transient(format!("{what}: {err}"))
}

/// `reqwest::Error` without its URL.
struct ShortError<'a>(&'a reqwest::Error);

impl std::fmt::Display for ShortError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.0.is_timeout() {
            "timed out"
        } else if self.0.is_connect() {
            "could not connect"
        } else if self.0.is_body() || self.0.is_decode() {
            "the answer was cut off or unreadable"
        } else {
            "the request failed"
        };
        f.write_str(kind)
    }
}

/// Seconds (possibly fractional, as Discord sends them) as a duration; nonsense reads as none.
pub fn seconds(value: f64) -> Option<Duration> {
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value.min(600.0)))
}

/// The `Retry-After` header in seconds.
pub fn retry_after_header(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(seconds)
}

/// A file larger than the account allows (`mediaMaxMb`).
pub fn too_big(max_bytes: u64) -> ChannelError {
    ChannelError::Permanent(format!(
        "the file is larger than the {max_bytes} bytes allowed (mediaMaxMb)"
    ))
}

/// Reads a download's body, refusing more than `max_bytes` by its announced length and while
/// reading, so a lying or missing `Content-Length` cannot fill memory.
pub async fn read_limited(
    mut response: reqwest::Response,
    max_bytes: u64,
    what: &str,
) -> Result<bytes::Bytes, ChannelError> {
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(too_big(max_bytes));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e, what))? {
        if (body.len() + chunk.len()) as u64 > max_bytes {
            return Err(too_big(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(
            classify(429, Some(Duration::from_secs(3)), "x").retry_after(),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            classify(429, Some(Duration::from_secs(9999)), "x").retry_after(),
            Some(MAX_RETRY_AFTER)
        );
        assert!(matches!(classify(401, None, "x"), ChannelError::Auth(_)));
        assert!(classify(502, None, "x").is_retryable());
        assert!(!classify(400, None, "x").is_retryable());
        assert!(!classify(403, None, "x").is_retryable());
        assert_eq!(seconds(-1.0), None);
        assert_eq!(seconds(0.25), Some(Duration::from_millis(250)));
    }
}
