//! `openai-responses`: OpenAI's Responses API (`POST {baseUrl}/responses`).
//!
//! - [`request`] maps a [`ModelRequest`] to the JSON body (streaming, `store: false`: Hearth
//!   keeps the transcript itself, so nothing needs to live on OpenAI's side).
//! - [`stream`] parses the typed SSE events (`response.output_text.delta`, ...) into
//!   [`crate::StreamEvent`]s.
//! - Errors come in the same `{"error": {...}}` shape as Chat Completions, so they are mapped by
//!   `openai_completions::errors`.
//! - The model list is OpenAI's `GET {baseUrl}/models`, read by `openai_completions::models`.
//!
//! The key goes in `Authorization: Bearer`. The URL and headers are built once in
//! [`OpenAiResponses::new`] and a call is sent by `endpoint`.

mod request;
mod stream;

use std::fmt;
use std::sync::Arc;

use hearth_config::ApiKind;
use tokio_util::sync::CancellationToken;

use crate::call_stream;
use crate::endpoint::{self, Auth, Endpoint, Spec};
use crate::error::ProviderError;
use crate::models::RemoteModel;
use crate::openai_completions::{self, errors, models};
use crate::provider::{EventStream, ModelRequest, Provider, ProviderSettings};
use crate::sse::SseDecoder;

const SPEC: Spec = Spec {
    url: |base| format!("{base}/responses"),
    accept: "text/event-stream",
    auth: Auth::Bearer,
    fixed_headers: &[],
};

const API: endpoint::Api = endpoint::Api {
    url_for_model: None,
    body: request::body,
    http_error: |status, headers, text, _model, redactor| {
        errors::from_http(status, headers, text, redactor)
    },
    json_instead_of_stream: Some(openai_completions::JSON_INSTEAD_OF_STREAM),
};

pub(crate) struct OpenAiResponses {
    endpoint: Endpoint,
}

impl fmt::Debug for OpenAiResponses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.endpoint.fmt_debug(f, "OpenAiResponses", "url")
    }
}

impl OpenAiResponses {
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
impl Provider for OpenAiResponses {
    fn id(&self) -> &str {
        &self.endpoint.id
    }

    fn api(&self) -> ApiKind {
        ApiKind::OpenaiResponses
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
