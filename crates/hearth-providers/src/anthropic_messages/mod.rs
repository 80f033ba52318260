//! `anthropic-messages`: Anthropic's Messages API (`POST {baseUrl}/messages`), also spoken by
//! MiniMax and other Anthropic-compatible endpoints.
//!
//! - [`request`] maps a [`ModelRequest`] to the JSON body (always streaming).
//! - [`stream`] parses the SSE answer (`message_start` … `message_stop`) into
//!   [`crate::StreamEvent`]s.
//! - [`errors`] maps Anthropic's error bodies and statuses to [`ProviderError`].
//! - [`models`] reads the model list (`GET {baseUrl}/models`, paged).
//!
//! The key goes in `x-api-key`, or in `Authorization: Bearer` when
//! [`ProviderSettings::auth_header`] is set (gateways that front Anthropic-compatible models
//! often want that); `anthropic-version` is always sent, and a configured header of that name
//! wins. The URL and headers are built once in [`AnthropicMessages::new`] and a call is sent by
//! `endpoint`.

mod errors;
mod models;
mod request;
mod stream;

use std::fmt;
use std::sync::Arc;

use hearth_config::ApiKind;
use tokio_util::sync::CancellationToken;

use crate::call_stream;
use crate::endpoint::{self, Auth, Endpoint, JsonInsteadOfStream, Spec};
use crate::error::ProviderError;
use crate::models::RemoteModel;
use crate::provider::{EventStream, ModelRequest, Provider, ProviderSettings};
use crate::sse::SseDecoder;

/// The API version Hearth's request and stream mapping follow.
const ANTHROPIC_VERSION: &str = "2023-06-01";

const SPEC: Spec = Spec {
    url: |base| format!("{base}/messages"),
    accept: "text/event-stream",
    auth: Auth::KeyHeader("x-api-key"),
    // Before the configured headers, so a configured `anthropic-version` or `anthropic-beta`
    // wins.
    fixed_headers: &[("anthropic-version", ANTHROPIC_VERSION)],
};

const API: endpoint::Api = endpoint::Api {
    url_for_model: None,
    body: request::body,
    http_error: |status, headers, text, _model, redactor| {
        errors::from_http(status, headers, text, redactor)
    },
    // A proxy reporting an error with 200, or a compatible server that ignored `stream: true`.
    json_instead_of_stream: Some(JsonInsteadOfStream {
        error: errors::from_stream,
        hint: "does it support `stream: true`?",
    }),
};

pub(crate) struct AnthropicMessages {
    endpoint: Endpoint,
}

impl fmt::Debug for AnthropicMessages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.endpoint.fmt_debug(f, "AnthropicMessages", "url")
    }
}

impl AnthropicMessages {
    pub(crate) fn new(
        settings: ProviderSettings,
        client: reqwest::Client,
    ) -> Result<Self, ProviderError> {
        Ok(Self {
            endpoint: Endpoint::new(settings, client, &SPEC)?,
        })
    }
}

#[async_trait::async_trait]
impl Provider for AnthropicMessages {
    fn id(&self) -> &str {
        &self.endpoint.id
    }

    fn api(&self) -> ApiKind {
        ApiKind::AnthropicMessages
    }

    async fn stream(
        &self,
        request: ModelRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let reader = self.endpoint.open(&request, cancel, &API).await?;
        let redactor = &self.endpoint.redactor;
        let parser = stream::EventParser::new(
            self.endpoint.model_ref(&request.model),
            Arc::clone(redactor),
        );
        Ok(call_stream::events(
            reader,
            SseDecoder::default(),
            parser,
            Arc::clone(redactor),
        ))
    }

    async fn list_models(
        &self,
        cancel: CancellationToken,
    ) -> Result<Vec<RemoteModel>, ProviderError> {
        models::list(&self.endpoint, &API, cancel).await
    }
}
