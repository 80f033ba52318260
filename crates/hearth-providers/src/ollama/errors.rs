//! Ollama errors to [`ProviderError`].
//!
//! Ollama answers `{"error": "text"}` with an HTTP status: 404 for a model that is not pulled
//! (`model "x" not found, try pulling it first`), 400 for a bad request, 503 when its queue is
//! full (`server busy, please try again. maximum pending requests exceeded`), 500 when the model
//! runner fails; proxies in front of it (and Ollama's cloud models) add 401/403 and 429. The
//! same `{"error": ...}` can arrive as a line of the stream when the runner fails mid-answer.
//! There is no error code, so the class comes from the status and the text.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::error::ProviderError;
use crate::transport::{ErrorFacts, Redactor, classify_http, retry_after};

/// The text of an `error` member, whether a string or an object with a `message`.
fn error_text(error: &Value) -> String {
    match error {
        Value::String(text) => text.clone(),
        other => other["message"]
            .as_str()
            .map_or_else(|| other.to_string(), str::to_owned),
    }
}

fn model_missing(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("model") && message.contains("not found")
}

fn context_too_long(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("context length") && message.contains("exceed")
}

fn overloaded(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("server busy") || message.contains("overloaded")
}

/// The message, with the fix for a model that is not pulled.
fn explained(message: String, model: &str) -> String {
    if model_missing(&message) {
        format!("{message}; download it with `ollama pull {model}`")
    } else {
        message
    }
}

/// The error for a non-success HTTP response to a call for `model`.
pub(super) fn from_http(
    status: u16,
    headers: &HeaderMap,
    body: &str,
    model: &str,
    redactor: &Redactor,
) -> ProviderError {
    let message = match serde_json::from_str::<Value>(body) {
        Ok(json) if !json["error"].is_null() => error_text(&json["error"]),
        _ => body.to_owned(),
    };
    let message = if message.trim().is_empty() {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no explanation given")
            .to_owned()
    } else {
        message
    };
    classify_http(
        status,
        ErrorFacts {
            context_too_long: context_too_long(&message),
            overloaded: overloaded(&message),
            retry_after: retry_after(headers),
            message: redactor.scrub(&explained(message, model)),
        },
    )
}

/// The error for an `{"error": ...}` line inside the stream of a call for `model`.
pub(super) fn from_stream(
    error: &Value,
    output_started: bool,
    model: &str,
    redactor: &Redactor,
) -> ProviderError {
    let message = error_text(error);
    let status = if model_missing(&message) {
        404
    } else if context_too_long(&message) {
        400
    } else if overloaded(&message) {
        503
    } else {
        return ProviderError::StreamBroken {
            message: format!("Ollama reported an error: {}", redactor.scrub(&message)),
            output_started,
        };
    };
    classify_http(
        status,
        ErrorFacts {
            context_too_long: status == 400,
            overloaded: status == 503,
            retry_after: None,
            message: redactor.scrub(&explained(message, model)),
        },
    )
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_missing_model_says_how_to_pull_it() {
        let err = from_http(
            404,
            &HeaderMap::new(),
            r#"{"error":"model \"llama9\" not found, try pulling it first"}"#,
            "llama9",
            &Redactor::default(),
        );
        assert_eq!(
            err,
            ProviderError::InvalidRequest {
                status: 404,
                message: "model \"llama9\" not found, try pulling it first; download it with \
                          `ollama pull llama9`"
                    .to_owned()
            }
        );
    }

    #[test]
    fn statuses_and_texts_map_to_failure_classes() {
        let redactor = Redactor::default();
        let mut headers = HeaderMap::new();
        let class = |status, body: &str, headers: &HeaderMap| {
            from_http(status, headers, body, "m", &redactor)
        };
        assert_eq!(
            class(
                503,
                r#"{"error":"server busy, please try again.  maximum pending requests exceeded"}"#,
                &headers
            )
            .kind(),
            "overloaded"
        );
        assert_eq!(class(503, "", &headers).kind(), "server");
        assert_eq!(
            class(
                500,
                r#"{"error":"llama runner process has terminated"}"#,
                &headers
            ),
            ProviderError::Server {
                status: 500,
                message: "llama runner process has terminated".to_owned()
            }
        );
        assert_eq!(
            class(
                400,
                r#"{"error":"the input length exceeds the context length"}"#,
                &headers
            )
            .kind(),
            "context_too_long"
        );
        assert_eq!(
            class(400, r#"{"error":"invalid options"}"#, &headers).kind(),
            "invalid_request"
        );
        headers.insert("retry-after", HeaderValue::from_static("4"));
        let err = class(429, r#"{"error":"too many requests"}"#, &headers);
        assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(4)));
        assert_eq!(class(401, "unauthorized", &headers).kind(), "auth");
    }

    #[test]
    fn stream_errors_are_classified_by_text() {
        let redactor = Redactor::default();
        let err = from_stream(
            &json!("an error was encountered while running the model: unexpected EOF"),
            true,
            "m",
            &redactor,
        );
        assert_eq!(
            err,
            ProviderError::StreamBroken {
                message: "Ollama reported an error: an error was encountered while running the \
                          model: unexpected EOF"
                    .to_owned(),
                output_started: true
            }
        );
        let err = from_stream(&json!({ "message": "server busy" }), false, "m", &redactor);
        assert_eq!(err.kind(), "overloaded");
    }
}
