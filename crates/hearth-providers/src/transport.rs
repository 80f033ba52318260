//! HTTP plumbing shared by every API kind: the client, sending under the first-byte deadline and
//! the cancellation token, reading bodies under the idle timeout, `Retry-After`, classifying
//! HTTP statuses, and scrubbing secrets out of anything that becomes an error message.
//!
//! Nothing here spawns a task: a call's whole life runs in the caller's task, polled through its
//! [`crate::EventStream`].

use std::error::Error as StdError;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use crate::error::{ProviderError, TimeoutPhase};
use crate::provider::{ProviderSettings, Timeouts};

/// Longest provider explanation kept in an error message; error pages can be whole HTML documents.
const MAX_MESSAGE_CHARS: usize = 1000;
/// Largest error body read; the rest is not needed to classify the failure.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The HTTP client for all providers: rustls, pooled connections (HTTP/2 where the server offers
/// it), the default connect timeout, `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` from the environment.
/// Build it once and share clones; clones share the pool.
pub fn http_client() -> reqwest::Client {
    client_builder(Timeouts::default().connect)
        .build()
        .unwrap_or_else(|err| {
            tracing::warn!(error = %err, "HTTP client setup failed; using reqwest's defaults");
            reqwest::Client::new()
        })
}

/// A client of its own for a provider with its own proxy (`http://` or `https://` URL,
/// credentials allowed in it) or its own connect timeout. The proxy replaces the environment's
/// `HTTP_PROXY`/`HTTPS_PROXY` for this provider only.
pub fn http_client_with(
    proxy: Option<&str>,
    connect: Duration,
) -> Result<reqwest::Client, ProviderError> {
    let mut builder = client_builder(connect);
    if let Some(url) = proxy {
        let proxy = reqwest::Proxy::all(url).map_err(|_| ProviderError::Config {
            // The URL may carry credentials: never echo it.
            message: "the proxy setting is not a valid http:// or https:// URL".to_owned(),
        })?;
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| ProviderError::Config {
        message: format!("cannot build the HTTP client: {e}"),
    })
}

fn client_builder(connect: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_keepalive(Duration::from_secs(30))
}

/// Removes a provider's secrets from text that may reach a user or a log.
#[derive(Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// The API key, and the values of configured headers whose names suggest a credential.
    pub(crate) fn for_settings(settings: &ProviderSettings) -> Self {
        let mut secrets: Vec<String> = settings.api_key.iter().cloned().collect();
        for (name, value) in &settings.headers {
            let name = name.to_ascii_lowercase();
            if ["key", "auth", "token", "secret", "cookie"]
                .iter()
                .any(|s| name.contains(s))
            {
                let value = value.strip_prefix("Bearer ").unwrap_or(value);
                secrets.push(value.to_owned());
            }
        }
        secrets.retain(|s| !s.trim().is_empty());
        // Longest first, so a secret containing another is removed whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self { secrets }
    }

    /// `text` without secrets, cut to a readable length.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.trim().to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        truncate(&mut out, MAX_MESSAGE_CHARS);
        out
    }
}

fn truncate(text: &mut String, max_chars: usize) {
    if let Some((cut, _)) = text.char_indices().nth(max_chars) {
        text.truncate(cut);
        text.push('…');
    }
}

/// `err` and its sources, joined: reqwest's own message names only the URL, the cause is below.
pub(crate) fn error_chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// Sends `request` and waits for the response head, until `deadline` or cancellation.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    cancel: &CancellationToken,
    deadline: Instant,
    redactor: &Redactor,
) -> Result<reqwest::Response, ProviderError> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(ProviderError::Cancelled),
        () = tokio::time::sleep_until(deadline) => {
            Err(ProviderError::Timeout { phase: TimeoutPhase::FirstByte })
        }
        result = request.send() => result.map_err(|err| send_error(&err, redactor)),
    }
}

fn send_error(err: &reqwest::Error, redactor: &Redactor) -> ProviderError {
    if err.is_timeout() {
        let phase = if err.is_connect() {
            TimeoutPhase::Connect
        } else {
            TimeoutPhase::FirstByte
        };
        return ProviderError::Timeout { phase };
    }
    ProviderError::Network {
        message: redactor.scrub(&error_chain(err)),
    }
}

/// Why reading a body stopped early.
#[derive(Debug)]
pub(crate) enum ReadError {
    Cancelled,
    Timeout(TimeoutPhase),
    Transport(reqwest::Error),
}

impl ReadError {
    /// The error for a body that stopped before its end, outside a stream (a listing).
    pub(crate) fn into_error(self, redactor: &Redactor) -> ProviderError {
        match self {
            ReadError::Cancelled => ProviderError::Cancelled,
            ReadError::Timeout(phase) => ProviderError::Timeout { phase },
            ReadError::Transport(err) => ProviderError::Network {
                message: redactor.scrub(&error_chain(&err)),
            },
        }
    }
}

/// A response body read chunk by chunk under the call's deadlines: the first chunk must arrive
/// by the first-byte deadline, each later one within the idle timeout.
#[derive(Debug)]
pub(crate) struct BodyReader {
    response: reqwest::Response,
    cancel: CancellationToken,
    /// One timer, re-armed per chunk rather than allocated per chunk.
    timer: Pin<Box<Sleep>>,
    idle: Duration,
    phase: TimeoutPhase,
}

impl BodyReader {
    pub(crate) fn new(
        response: reqwest::Response,
        cancel: CancellationToken,
        first_byte_deadline: Instant,
        idle: Duration,
    ) -> Self {
        Self {
            response,
            cancel,
            timer: Box::pin(tokio::time::sleep_until(first_byte_deadline)),
            idle,
            phase: TimeoutPhase::FirstByte,
        }
    }

    pub(crate) fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    pub(crate) fn status(&self) -> reqwest::StatusCode {
        self.response.status()
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The next chunk; `None` at the end of the body.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, ReadError> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(ReadError::Cancelled),
            () = self.timer.as_mut() => Err(ReadError::Timeout(self.phase)),
            chunk = self.response.chunk() => {
                let chunk = chunk.map_err(ReadError::Transport)?;
                if chunk.is_some() {
                    self.phase = TimeoutPhase::Idle;
                    self.timer.as_mut().reset(Instant::now() + self.idle);
                }
                Ok(chunk)
            }
        }
    }

    /// The whole body; `None` once it grows past `max` bytes.
    pub(crate) async fn read_to_end(&mut self, max: usize) -> Result<Option<Vec<u8>>, ReadError> {
        let mut body = Vec::new();
        while let Some(chunk) = self.next().await? {
            if body.len() + chunk.len() > max {
                return Ok(None);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }

    /// The whole body as text (an error document), at most 64 KiB; empty if it cannot be read.
    pub(crate) async fn body_text(&mut self) -> String {
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = self.next().await {
            let room = MAX_ERROR_BODY_BYTES - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= MAX_ERROR_BODY_BYTES {
                break;
            }
        }
        String::from_utf8_lossy(&body).into_owned()
    }
}

/// How long the provider asks us to wait: `retry-after-ms`, else `Retry-After` in seconds or as
/// an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && let Ok(delay) = Duration::try_from_secs_f64(ms / 1000.0)
    {
        return Some(delay);
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// What a vendor module learned from an error body, for [`classify_http`].
#[derive(Debug)]
pub(crate) struct ErrorFacts {
    /// The provider's explanation, already scrubbed.
    pub(crate) message: String,
    pub(crate) context_too_long: bool,
    pub(crate) overloaded: bool,
    pub(crate) retry_after: Option<Duration>,
}

/// The error for an HTTP status, with what the body said.
pub(crate) fn classify_http(status: u16, facts: ErrorFacts) -> ProviderError {
    let ErrorFacts {
        message,
        context_too_long,
        overloaded,
        retry_after,
    } = facts;
    match status {
        401 | 403 => ProviderError::Auth { status, message },
        429 => ProviderError::RateLimited {
            retry_after,
            message,
        },
        529 => ProviderError::Overloaded {
            retry_after,
            message,
        },
        503 if overloaded => ProviderError::Overloaded {
            retry_after,
            message,
        },
        400..=499 if context_too_long => ProviderError::ContextTooLong { message },
        400..=499 => ProviderError::InvalidRequest { status, message },
        500..=599 => ProviderError::Server { status, message },
        _ => ProviderError::Decode {
            message: format!("unexpected HTTP status {status}: {message}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_reads_seconds_milliseconds_and_dates() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "20")])),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            retry_after(&headers(&[
                ("retry-after", "2"),
                ("retry-after-ms", "1500")
            ])),
            Some(Duration::from_millis(1500))
        );
        let later = SystemTime::now() + Duration::from_secs(120);
        let date = httpdate::fmt_http_date(later);
        let delay = retry_after(&headers(&[("retry-after", &date)])).unwrap();
        assert!(
            delay > Duration::from_secs(100) && delay <= Duration::from_secs(120),
            "{delay:?}"
        );
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &past)])),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn redactor_removes_the_key_and_credential_headers() {
        let settings = ProviderSettings {
            id: "p".to_owned(),
            api: hearth_config::ApiKind::OpenaiCompletions,
            base_url: "http://x".to_owned(),
            api_key: Some("sk-abc123".to_owned()),
            headers: vec![
                ("X-Api-Key".to_owned(), "hk-999".to_owned()),
                ("OpenAI-Organization".to_owned(), "org-1".to_owned()),
            ],
            timeouts: Timeouts::default(),
            auth_header: false,
        };
        let redactor = Redactor::for_settings(&settings);
        let out = redactor.scrub("  bad key sk-abc123 and hk-999 for org-1 ");
        assert_eq!(out, "bad key [redacted] and [redacted] for org-1");
        let long = "é".repeat(2000);
        assert_eq!(redactor.scrub(&long).chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn statuses_map_to_failure_classes() {
        let facts = |context_too_long, overloaded| ErrorFacts {
            message: "m".to_owned(),
            context_too_long,
            overloaded,
            retry_after: None,
        };
        assert_eq!(classify_http(403, facts(false, false)).kind(), "auth");
        assert_eq!(
            classify_http(400, facts(true, false)).kind(),
            "context_too_long"
        );
        assert_eq!(
            classify_http(422, facts(false, false)).kind(),
            "invalid_request"
        );
        assert_eq!(classify_http(503, facts(false, true)).kind(), "overloaded");
        assert_eq!(classify_http(503, facts(false, false)).kind(), "server");
        assert_eq!(classify_http(529, facts(false, false)).kind(), "overloaded");
        assert_eq!(classify_http(302, facts(false, false)).kind(), "decode");
    }
}
