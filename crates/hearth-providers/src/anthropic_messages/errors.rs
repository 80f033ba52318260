//! Anthropic error bodies (`{"type": "error", "error": {"type", "message"}}`) to
//! [`ProviderError`].
//!
//! The HTTP status decides the class (see `transport::classify_http`): 401/403 auth, 429 rate
//! limit, 529 overloaded, 413 and other 4xx invalid, 5xx server. The body refines it: a 400
//! saying the prompt is too long is [`ProviderError::ContextTooLong`]. The same error object
//! also arrives as an `error` event mid-stream, where only its `type` tells the class.
//! Compatible servers sometimes answer in OpenAI's shape or plain text; those still yield a
//! message.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::error::ProviderError;
use crate::transport::{ErrorFacts, Redactor, classify_http, retry_after};

/// What an error object says.
#[derive(Debug, Default)]
struct Explanation {
    message: String,
    /// The error's `type` (`overloaded_error`, ...), lowercase.
    kind: String,
}

impl Explanation {
    fn from_error_value(error: &Value) -> Self {
        if let Value::String(message) = error {
            return Self {
                message: message.clone(),
                ..Self::default()
            };
        }
        Self {
            message: error["message"].as_str().unwrap_or_default().to_owned(),
            kind: error["type"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase(),
        }
    }

    fn from_body(body: &str) -> Self {
        match serde_json::from_str::<Value>(body) {
            Ok(json) if !json["error"].is_null() => {
                let mut found = Self::from_error_value(&json["error"]);
                if found.message.is_empty() {
                    found.message = json["message"].as_str().unwrap_or(body).to_owned();
                }
                found
            }
            Ok(json) if json["message"].is_string() => Self {
                message: json["message"].as_str().unwrap_or_default().to_owned(),
                ..Self::default()
            },
            _ => Self {
                message: body.to_owned(),
                ..Self::default()
            },
        }
    }

    /// Anthropic says "prompt is too long: 208310 tokens > 200000 maximum", or "input length and
    /// `max_tokens` exceed context limit" when the prompt fits but leaves no room to answer.
    fn context_too_long(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        message.contains("prompt is too long")
            || message.contains("exceed context limit")
            || message.contains("context window")
            || message.contains("maximum context length")
    }

    fn overloaded(&self) -> bool {
        self.kind == "overloaded_error" || self.message.to_ascii_lowercase().contains("overloaded")
    }

    /// The status an error `type` stands for, for errors that arrive without one.
    fn status_of_kind(&self) -> Option<u16> {
        Some(match self.kind.as_str() {
            "invalid_request_error" => 400,
            "authentication_error" => 401,
            "billing_error" => 402,
            "permission_error" => 403,
            "not_found_error" => 404,
            "request_too_large" => 413,
            "rate_limit_error" => 429,
            "api_error" => 500,
            "timeout_error" => 504,
            "overloaded_error" => 529,
            _ => return None,
        })
    }

    fn into_facts(
        self,
        status: u16,
        redactor: &Redactor,
        headers: Option<&HeaderMap>,
    ) -> ErrorFacts {
        ErrorFacts {
            // A 413 is the body's size in bytes, not the prompt's length in tokens.
            context_too_long: status != 413 && self.context_too_long(),
            overloaded: self.overloaded(),
            retry_after: headers.and_then(retry_after),
            message: redactor.scrub(&self.message),
        }
    }
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
    classify_http(
        status,
        explanation.into_facts(status, redactor, Some(headers)),
    )
}

/// The error for an `error` event received inside the event stream (its `error` object).
pub(super) fn from_stream(
    error: &Value,
    output_started: bool,
    redactor: &Redactor,
) -> ProviderError {
    let explanation = Explanation::from_error_value(error);
    match explanation.status_of_kind() {
        Some(status) => classify_http(status, explanation.into_facts(status, redactor, None)),
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
    use std::time::Duration;

    use reqwest::header::HeaderValue;
    use serde_json::json;

    use super::*;

    fn body(kind: &str, message: &str) -> String {
        json!({ "type": "error", "error": { "type": kind, "message": message } }).to_string()
    }

    #[test]
    fn statuses_and_types_map_to_classes() {
        let redactor = Redactor::default();
        let none = HeaderMap::new();
        let class = |status, kind: &str, message: &str| {
            from_http(status, &none, &body(kind, message), &redactor).kind()
        };
        assert_eq!(
            class(401, "authentication_error", "invalid x-api-key"),
            "auth"
        );
        assert_eq!(class(403, "permission_error", "no access"), "auth");
        assert_eq!(class(529, "overloaded_error", "Overloaded"), "overloaded");
        assert_eq!(class(500, "api_error", "Internal server error"), "server");
        assert_eq!(
            class(413, "request_too_large", "Request exceeds the maximum size"),
            "invalid_request"
        );
        assert_eq!(
            class(
                400,
                "invalid_request_error",
                "prompt is too long: 208310 tokens > 200000 maximum"
            ),
            "context_too_long"
        );
        assert_eq!(
            class(
                400,
                "invalid_request_error",
                "input length and `max_tokens` exceed context limit: 198000 + 8192 > 200000"
            ),
            "context_too_long"
        );
        assert_eq!(
            class(400, "invalid_request_error", "messages: field required"),
            "invalid_request"
        );
    }

    #[test]
    fn rate_limits_read_retry_after_and_keep_the_message() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("12"));
        let err = from_http(
            429,
            &headers,
            &body(
                "rate_limit_error",
                "Number of requests has exceeded your rate limit",
            ),
            &Redactor::default(),
        );
        assert_eq!(
            err,
            ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(12)),
                message: "Number of requests has exceeded your rate limit".to_owned()
            }
        );
    }

    #[test]
    fn bodies_that_are_not_anthropic_shaped_still_give_a_message() {
        let redactor = Redactor::default();
        let err = from_http(
            502,
            &HeaderMap::new(),
            "<html>Bad Gateway</html>",
            &redactor,
        );
        assert_eq!(
            err,
            ProviderError::Server {
                status: 502,
                message: "<html>Bad Gateway</html>".to_owned()
            }
        );
        let err = from_http(404, &HeaderMap::new(), "", &redactor);
        assert_eq!(
            err,
            ProviderError::InvalidRequest {
                status: 404,
                message: "Not Found".to_owned()
            }
        );
    }

    #[test]
    fn stream_errors_are_classified_by_type() {
        let redactor = Redactor::default();
        let err = from_stream(
            &json!({ "type": "overloaded_error", "message": "Overloaded" }),
            true,
            &redactor,
        );
        assert_eq!(
            err,
            ProviderError::Overloaded {
                retry_after: None,
                message: "Overloaded".to_owned()
            }
        );
        let err = from_stream(
            &json!({ "type": "api_error", "message": "x" }),
            true,
            &redactor,
        );
        assert_eq!(err.kind(), "server");
        let err = from_stream(
            &json!({ "type": "mystery", "message": "?" }),
            true,
            &redactor,
        );
        assert_eq!(err.kind(), "stream_broken");
        assert!(!err.is_retryable());
    }
}
