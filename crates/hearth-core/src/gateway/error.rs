//! Errors of the HTTP routes, rendered as JSON without internals.
//!
//! The body follows OpenAI's error shape (`{"error":{"message","type","code"}}`) on every route,
//! so the official SDKs surface the message as is.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "unauthorized",
            "missing or wrong gateway token: send `Authorization: Bearer <token>` (`hearth dashboard` shows it)",
        )
    }

    pub fn locked_out(wait: Duration) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "auth_locked_out",
            format!(
                "too many failed authentication attempts; try again in {} s",
                wait.as_secs().max(1)
            ),
        );
        e.retry_after = Some(wait);
        e
    }

    pub fn forbidden_origin(origin: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "origin_not_allowed",
            format!(
                "origin `{origin}` may not call this gateway; add it to gateway.controlUi.allowedOrigins if you trust it"
            ),
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "not_found",
            message,
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_request",
            message,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "message": self.message, "type": self.kind, "code": self.code }
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(v) = http::HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
        }
        response
    }
}
