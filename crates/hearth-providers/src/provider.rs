//! The [`Provider`] trait and the provider-neutral shapes of a model call.
//!
//! The agent loop builds a [`ModelRequest`] from the transcript, calls [`Provider::stream`] and
//! forwards [`StreamEvent`]s to clients as they arrive; the final [`StreamEvent::Completed`]
//! carries the assistant [`Message`] it appends to the transcript. Each API kind implements the
//! trait in its own module and translates to its wire format there.

use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use hearth_config::ApiKind;
use hearth_protocol::transcript::{Message, StopReason, Usage};
use tokio_util::sync::CancellationToken;

use crate::error::ProviderError;
use crate::models::RemoteModel;

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// One model call.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRequest {
    /// The provider's own model id.
    pub model: String,
    pub system: Option<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f32>,
}

impl ModelRequest {
    /// A request for `model` with these messages and nothing else set.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            system: None,
            messages,
            tools: Vec::new(),
            max_tokens: None,
            temperature: None,
        }
    }
}

/// A piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    TextDelta(String),
    ThinkingDelta(String),
    /// The model started a tool call; its arguments follow as [`StreamEvent::ToolCallDelta`]s.
    ToolCallStart {
        id: String,
        name: String,
    },
    /// A fragment of a tool call's arguments (JSON text, only valid once complete).
    ToolCallDelta {
        id: String,
        arguments_delta: String,
    },
    /// The answer is complete. Always the last event of a successful stream.
    /// Boxed: the other events are small and there are many of them.
    Completed(Box<Completion>),
}

/// The outcome of a successful call.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Role assistant; content is the thinking, the text, then the tool calls in order; `usage`,
    /// `stop_reason`, `model` (`provider/model`) and `timestamp` are set. `usage.cost` is left to
    /// the caller, who knows the model's prices (see [`crate::cost_of`]).
    pub message: Message,
    pub usage: Usage,
    pub stop_reason: StopReason,
    /// The provider's id for this response, when it sent one.
    pub response_id: Option<String>,
    /// The id the provider gave the HTTP request (`request-id` or `x-request-id` response
    /// header), for matching its own logs and support tickets.
    pub request_id: Option<String>,
}

/// The events of one call. Ends after [`StreamEvent::Completed`] or the first error.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;

/// A configured LLM provider, speaking one API kind.
#[async_trait::async_trait]
pub trait Provider: Send + Sync + fmt::Debug {
    /// The provider's id from the config (the first half of `provider/model`).
    fn id(&self) -> &str;

    fn api(&self) -> ApiKind;

    /// Sends the request. Returns once the provider accepted it (HTTP errors come back here);
    /// the answer then streams. When `cancel` fires the stream ends with
    /// [`ProviderError::Cancelled`].
    async fn stream(
        &self,
        request: ModelRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError>;

    /// The models the provider serves, from its API's listing endpoint, sorted by id. Sent
    /// with the key, headers, proxy and timeouts of a model call, and failing as one does (a
    /// wrong key is [`ProviderError::Auth`]); when `cancel` fires it ends with
    /// [`ProviderError::Cancelled`].
    async fn list_models(
        &self,
        cancel: CancellationToken,
    ) -> Result<Vec<RemoteModel>, ProviderError>;

    /// Sends the request and waits for the whole answer.
    async fn complete(
        &self,
        request: ModelRequest,
        cancel: CancellationToken,
    ) -> Result<Completion, ProviderError> {
        let mut events = self.stream(request, cancel).await?;
        while let Some(event) = events.next().await {
            if let StreamEvent::Completed(completion) = event? {
                return Ok(*completion);
            }
        }
        Err(ProviderError::StreamBroken {
            message: "the answer ended without completing".to_owned(),
            output_started: true,
        })
    }
}

/// How long a call may wait at each phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a connection. Enforced by the HTTP client ([`crate::http_client`] uses the
    /// default), since connections are pooled across calls.
    pub connect: Duration,
    /// From sending the request to the first byte of the answer's body.
    pub first_byte: Duration,
    /// Between two pieces of a streamed answer.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            idle: Duration::from_secs(120),
        }
    }
}

/// Everything needed to build a provider client.
#[derive(Clone)]
pub struct ProviderSettings {
    pub id: String,
    pub api: ApiKind,
    /// API root, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    /// Extra headers sent with every request.
    pub headers: Vec<(String, String)>,
    pub timeouts: Timeouts,
    /// Send the key as `Authorization: Bearer <key>` for API kinds whose vendor takes it in
    /// another header (`anthropic-messages`: `x-api-key`), as some compatible gateways require.
    pub auth_header: bool,
}

/// Header values are left out too: users put keys in them (`api-key`, `x-api-key`).
impl fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        // Some gateways take the key in the URL's query.
        let base_url = match self.api_key.as_deref() {
            Some(key) if !key.is_empty() => self.base_url.replace(key, "<redacted>"),
            _ => self.base_url.clone(),
        };
        f.debug_struct("ProviderSettings")
            .field("id", &self.id)
            .field("api", &self.api)
            .field("base_url", &base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("headers", &header_names)
            .field("timeouts", &self.timeouts)
            .field("auth_header", &self.auth_header)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_debug_hides_the_key_and_header_values() {
        let settings = ProviderSettings {
            id: "openai".to_owned(),
            api: ApiKind::OpenaiCompletions,
            base_url: "https://gw.example/v1?key=sk-very-secret".to_owned(),
            api_key: Some("sk-very-secret".to_owned()),
            headers: vec![("x-api-key".to_owned(), "hdr-secret".to_owned())],
            timeouts: Timeouts::default(),
            auth_header: false,
        };
        let debug = format!("{settings:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
        assert!(!debug.contains("hdr-secret"), "{debug}");
        assert!(
            debug.contains("<redacted>") && debug.contains("x-api-key"),
            "{debug}"
        );
    }
}
