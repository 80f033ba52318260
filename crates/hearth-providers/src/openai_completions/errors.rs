//! OpenAI error bodies (`{"error": {"message", "type", "param", "code"}}`) to [`ProviderError`].
//!
//! Compatible servers vary: some send `{"error": "text"}`, a top-level `message`, a numeric
//! `code` holding an HTTP status (OpenRouter, also mid-stream), or an HTML page from a proxy.
//! All of them end up as a message and a class.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::error::ProviderError;
use crate::transport::{ErrorFacts, Redactor, classify_http, retry_after};

/// What an error object says, whatever its shape.
#[derive(Debug, Default)]
struct Explanation {
    message: String,
    /// `code` and `type`, lowercase, for matching.
    code: String,
    kind: String,
    /// A numeric `code` that is an HTTP status.
    status: Option<u16>,
}

impl Explanation {
    fn from_error_value(error: &Value) -> Self {
        if let Value::String(message) = error {
            return Self {
                message: message.clone(),
                ..Self::default()
            };
        }
        let text = |v: &Value| match v {
            Value::String(s) => s.to_ascii_lowercase(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        Self {
            message: error["message"].as_str().unwrap_or_default().to_owned(),
            code: text(&error["code"]),
            kind: text(&error["type"]),
            status: error["code"]
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (400..=599).contains(c)),
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

    fn context_too_long(&self) -> bool {
        self.code == "context_length_exceeded"
            || self
                .message
                .to_ascii_lowercase()
                .contains("maximum context length")
    }

    fn overloaded(&self) -> bool {
        self.kind.contains("overloaded")
            || self.code.contains("overloaded")
            || self.message.to_ascii_lowercase().contains("overloaded")
    }

    fn into_facts(self, redactor: &Redactor, headers: Option<&HeaderMap>) -> ErrorFacts {
        ErrorFacts {
            context_too_long: self.context_too_long(),
            overloaded: self.overloaded(),
            retry_after: headers.and_then(retry_after),
            message: redactor.scrub(&self.message),
        }
    }
}

/// The error for a non-success HTTP response.
pub(crate) fn from_http(
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
    classify_http(status, explanation.into_facts(redactor, Some(headers)))
}

/// The error for an `{"error": ...}` object received inside the event stream.
pub(crate) fn from_stream(
    error: &Value,
    output_started: bool,
    redactor: &Redactor,
) -> ProviderError {
    let explanation = Explanation::from_error_value(error);
    let status = explanation.status.or_else(|| {
        let class =
            |needle: &str| explanation.code.contains(needle) || explanation.kind.contains(needle);
        if explanation.context_too_long() {
            Some(400)
        } else if class("rate_limit") {
            Some(429)
        } else if explanation.overloaded() {
            Some(529)
        } else if class("invalid_api_key") || class("authentication") {
            Some(401)
        } else if class("server_error") {
            Some(500)
        } else if class("invalid_request") {
            Some(400)
        } else {
            None
        }
    });
    match status {
        Some(status) => classify_http(status, explanation.into_facts(redactor, None)),
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

    #[test]
    fn http_bodies_of_every_shape_are_understood() {
        let redactor = Redactor::default();
        let headers = HeaderMap::new();
        let err = from_http(
            400,
            &headers,
            r#"{"error":{"message":"too long","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
            &redactor,
        );
        assert_eq!(
            err,
            ProviderError::ContextTooLong {
                message: "too long".to_owned()
            }
        );
        let err = from_http(
            400,
            &headers,
            r#"{"error":"This model's maximum context length is 8192 tokens"}"#,
            &redactor,
        );
        assert_eq!(err.kind(), "context_too_long");
        let err = from_http(502, &headers, "<html>Bad Gateway</html>", &redactor);
        assert_eq!(
            err,
            ProviderError::Server {
                status: 502,
                message: "<html>Bad Gateway</html>".to_owned()
            }
        );
        let err = from_http(404, &headers, "", &redactor);
        assert_eq!(
            err,
            ProviderError::InvalidRequest {
                status: 404,
                message: "Not Found".to_owned()
            }
        );
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        let err = from_http(
            503,
            &headers,
            r#"{"error":{"message":"The engine is currently overloaded","type":"server_error"}}"#,
            &redactor,
        );
        assert_eq!(err.kind(), "overloaded");
        assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(3)));
    }

    #[test]
    fn stream_errors_are_classified_by_code_or_type() {
        let redactor = Redactor::default();
        let err = from_stream(
            &json!({ "code": 502, "message": "upstream died" }),
            true,
            &redactor,
        );
        assert_eq!(
            err,
            ProviderError::Server {
                status: 502,
                message: "upstream died".to_owned()
            }
        );
        let err = from_stream(
            &json!({ "message": "slow", "type": "rate_limit_error" }),
            false,
            &redactor,
        );
        assert_eq!(err.kind(), "rate_limited");
        let err = from_stream(&json!({ "message": "weird" }), true, &redactor);
        assert_eq!(err.kind(), "stream_broken");
        assert!(!err.is_retryable());
    }
}
