//! Gemini error bodies to [`ProviderError`].
//!
//! Google APIs answer `{"error": {"code", "message", "status", "details"}}` (<https://ai.google.dev/gemini-api/docs/troubleshooting>),
//! the streaming endpoint sometimes wrapped in a one-element array. `status` is the
//! `google.rpc.Code` name; `details` may hold a `google.rpc.RetryInfo` (`retryDelay: "7s"`) on
//! 429 and a `google.rpc.ErrorInfo` whose `reason` tells a wrong key (`API_KEY_INVALID`, sent
//! with HTTP 400) from other bad requests. The same object can arrive inside the event stream.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::error::ProviderError;
use crate::transport::{ErrorFacts, Redactor, classify_http, retry_after};

/// What an error object says.
#[derive(Debug, Default)]
struct Explanation {
    message: String,
    /// The `google.rpc.Code` name, e.g. `RESOURCE_EXHAUSTED`.
    status: String,
    /// `code`, the HTTP status.
    code: Option<u16>,
    retry_delay: Option<Duration>,
    /// `ErrorInfo.reason`s, e.g. `API_KEY_INVALID`.
    reasons: Vec<String>,
}

impl Explanation {
    fn from_error_value(error: &Value) -> Self {
        if let Value::String(message) = error {
            return Self {
                message: message.clone(),
                ..Self::default()
            };
        }
        let details = error["details"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let of_type = |detail: &&Value, name: &str| {
            detail["@type"].as_str().is_some_and(|t| t.ends_with(name))
        };
        Self {
            message: error["message"].as_str().unwrap_or_default().to_owned(),
            status: error["status"].as_str().unwrap_or_default().to_owned(),
            code: error["code"]
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (400..=599).contains(c)),
            retry_delay: details
                .iter()
                .find(|d| of_type(d, "google.rpc.RetryInfo"))
                .and_then(|d| d["retryDelay"].as_str())
                .and_then(parse_duration),
            reasons: details
                .iter()
                .filter(|d| of_type(d, "google.rpc.ErrorInfo"))
                .filter_map(|d| d["reason"].as_str().map(str::to_owned))
                .collect(),
        }
    }

    fn from_body(body: &str) -> Self {
        let json: Value = match serde_json::from_str(body) {
            Ok(json) => json,
            Err(_) => {
                return Self {
                    message: body.to_owned(),
                    ..Self::default()
                };
            }
        };
        let json = match &json {
            Value::Array(items) => items.first().unwrap_or(&Value::Null),
            other => other,
        };
        if json["error"].is_null() {
            return Self {
                message: body.to_owned(),
                ..Self::default()
            };
        }
        Self::from_error_value(&json["error"])
    }

    /// The HTTP status this stands for, from `code` or else from the `google.rpc.Code` name.
    fn http_status(&self) -> Option<u16> {
        self.code.or(match self.status.as_str() {
            "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => Some(400),
            "UNAUTHENTICATED" => Some(401),
            "PERMISSION_DENIED" => Some(403),
            "NOT_FOUND" => Some(404),
            "RESOURCE_EXHAUSTED" => Some(429),
            "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => Some(500),
            "UNAVAILABLE" => Some(503),
            "DEADLINE_EXCEEDED" => Some(504),
            _ => None,
        })
    }

    /// A wrong or missing key, whatever the HTTP status (Gemini sends 400 for a malformed key).
    fn bad_key(&self) -> bool {
        matches!(
            self.status.as_str(),
            "UNAUTHENTICATED" | "PERMISSION_DENIED"
        ) || self
            .reasons
            .iter()
            .any(|r| matches!(r.as_str(), "API_KEY_INVALID" | "API_KEY_EXPIRED"))
    }

    fn context_too_long(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        message.contains("exceeds the maximum number of tokens")
            || message.contains("input token count exceeds")
    }

    fn overloaded(&self) -> bool {
        self.status == "UNAVAILABLE" || self.message.to_ascii_lowercase().contains("overloaded")
    }

    fn into_error(
        self,
        status: u16,
        headers: Option<&HeaderMap>,
        redactor: &Redactor,
    ) -> ProviderError {
        let message = redactor.scrub(&self.message);
        if self.bad_key() && (400..=499).contains(&status) {
            return ProviderError::Auth { status, message };
        }
        classify_http(
            status,
            ErrorFacts {
                context_too_long: self.context_too_long(),
                overloaded: self.overloaded(),
                retry_after: self.retry_delay.or_else(|| headers.and_then(retry_after)),
                message,
            },
        )
    }
}

/// A `google.protobuf.Duration` in its JSON form: decimal seconds with an `s` suffix.
fn parse_duration(text: &str) -> Option<Duration> {
    let seconds: f64 = text.trim().strip_suffix('s')?.parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

/// The error for a non-success HTTP response.
pub(super) fn from_http(
    status: u16,
    headers: &HeaderMap,
    body: &str,
    redactor: &Redactor,
) -> ProviderError {
    let mut explanation = Explanation::from_body(body);
    if explanation.message.trim().is_empty() {
        explanation.message = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no explanation given")
            .to_owned();
    }
    explanation.into_error(status, Some(headers), redactor)
}

/// The error for an `{"error": ...}` object received inside the event stream.
pub(super) fn from_stream(
    error: &Value,
    output_started: bool,
    redactor: &Redactor,
) -> ProviderError {
    let explanation = Explanation::from_error_value(error);
    match explanation.http_status() {
        Some(status) => explanation.into_error(status, None, redactor),
        None => ProviderError::StreamBroken {
            message: format!(
                "the provider reported an error: {}",
                redactor.scrub(&explanation.message)
            ),
            output_started,
        },
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;
    use serde_json::json;

    use super::*;

    fn google_error(code: u16, status: &str, message: &str, details: Value) -> String {
        json!({ "error": { "code": code, "message": message, "status": status, "details": details } })
            .to_string()
    }

    #[test]
    fn rate_limits_read_the_retry_info_before_the_header() {
        let body = google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota",
            json!([
                { "@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [] },
                { "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7.5s" },
            ]),
        );
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("30"));
        let err = from_http(429, &headers, &body, &Redactor::default());
        assert_eq!(
            err,
            ProviderError::RateLimited {
                retry_after: Some(Duration::from_millis(7500)),
                message: "You exceeded your current quota".to_owned()
            }
        );
        let body = google_error(429, "RESOURCE_EXHAUSTED", "slow down", json!([]));
        let err = from_http(429, &headers, &body, &Redactor::default());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    }

    #[test]
    fn statuses_and_reasons_map_to_failure_classes() {
        let redactor = Redactor::default();
        let headers = HeaderMap::new();
        let class = |status, body: String| from_http(status, &headers, &body, &redactor).kind();
        let key_invalid = json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
        }]);
        assert_eq!(
            class(
                400,
                google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "API key not valid. Please pass a valid API key.",
                    key_invalid
                )
            ),
            "auth"
        );
        assert_eq!(
            class(
                403,
                google_error(
                    403,
                    "PERMISSION_DENIED",
                    "Method doesn't allow unregistered callers",
                    json!([])
                )
            ),
            "auth"
        );
        assert_eq!(
            class(
                400,
                google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
                    json!([])
                )
            ),
            "context_too_long"
        );
        assert_eq!(
            class(
                404,
                google_error(404, "NOT_FOUND", "models/gemini-9 is not found", json!([]))
            ),
            "invalid_request"
        );
        assert_eq!(
            class(
                503,
                google_error(
                    503,
                    "UNAVAILABLE",
                    "The model is overloaded. Please try again later.",
                    json!([])
                )
            ),
            "overloaded"
        );
        assert_eq!(
            class(
                500,
                google_error(
                    500,
                    "INTERNAL",
                    "An internal error has occurred.",
                    json!([])
                )
            ),
            "server"
        );
        let wrapped = format!("[{}]", google_error(500, "INTERNAL", "inner", json!([])));
        let err = from_http(500, &headers, &wrapped, &redactor);
        assert_eq!(
            err,
            ProviderError::Server {
                status: 500,
                message: "inner".to_owned()
            }
        );
        let err = from_http(502, &headers, "<html>Bad Gateway</html>", &redactor);
        assert_eq!(err.kind(), "server");
    }

    #[test]
    fn stream_errors_use_the_code_or_the_status_name() {
        let redactor = Redactor::default();
        let err = from_stream(
            &json!({ "code": 503, "message": "overloaded", "status": "UNAVAILABLE" }),
            true,
            &redactor,
        );
        assert_eq!(err.kind(), "overloaded");
        let err = from_stream(
            &json!({ "message": "try later", "status": "RESOURCE_EXHAUSTED" }),
            true,
            &redactor,
        );
        assert_eq!(err.kind(), "rate_limited");
        let err = from_stream(&json!({ "message": "odd" }), true, &redactor);
        assert_eq!(
            err,
            ProviderError::StreamBroken {
                message: "the provider reported an error: odd".to_owned(),
                output_started: true
            }
        );
    }

    #[test]
    fn durations_are_decimal_seconds() {
        assert_eq!(parse_duration("7s"), Some(Duration::from_secs(7)));
        assert_eq!(parse_duration("0.25s"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), None);
        assert_eq!(parse_duration("-1s"), None);
    }
}
