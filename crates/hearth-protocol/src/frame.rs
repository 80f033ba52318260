//! WebSocket frames: `{type:"req",id,method,params}`, `{type:"res",id,ok,payload|error}`,
//! `{type:"event",event,payload,seq}`.
//!
//! Requests are parsed in two steps: first the envelope (this module), then the params against
//! the method's own type ([`crate::methods::Request::parse`]), so a frame with a bad method or bad
//! params still gets an error response carrying its `id`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Any frame on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Frame {
    Req(RequestFrame),
    Res(ResponseFrame),
    Event(EventFrame),
}

/// A client's request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestFrame {
    /// Chosen by the client; echoed in the response.
    pub id: String,
    pub method: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub params: Value,
}

/// The gateway's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponseFrame {
    /// The request's id; `null` when the request was too malformed to carry one.
    pub id: Option<String>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorShape>,
}

impl ResponseFrame {
    pub fn ok(id: impl Into<String>, payload: Value) -> Self {
        Self {
            id: Some(id.into()),
            ok: true,
            payload: Some(payload),
            error: None,
        }
    }

    pub fn err(id: Option<String>, error: ErrorShape) -> Self {
        Self {
            id,
            ok: false,
            payload: None,
            error: Some(error),
        }
    }
}

/// A pushed event. `seq` counts events on one connection, starting at 1, so a client can see a gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventFrame {
    pub event: String,
    pub payload: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// An error in a response, or in a failed run's event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorShape {
    pub code: ErrorCode,
    /// A sentence for a person: what went wrong and what to do. Never contains a secret.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// True when the same request may succeed if sent again later.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorShape {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
            retryable: false,
            retry_after_ms: None,
        }
    }

    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    #[must_use]
    pub fn retry_after(mut self, ms: Option<u64>) -> Self {
        self.retryable = true;
        self.retry_after_ms = ms;
        self
    }
}

/// Machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The frame or its params do not match the protocol.
    InvalidRequest,
    /// The method does not exist.
    UnknownMethod,
    /// Missing or wrong token, or a request before `connect`.
    Unauthorized,
    /// Too many failed attempts; see `retryAfterMs`.
    RateLimited,
    /// The session, run or other object named does not exist.
    NotFound,
    /// The request conflicts with the current state (e.g. a stale config hash).
    Conflict,
    /// The frame is larger than the connection's limit.
    PayloadTooLarge,
    /// The model provider failed; `details` says how.
    ProviderError,
    /// The gateway is shutting down.
    Unavailable,
    /// Anything else; the gateway's log has the detail.
    Internal,
}
