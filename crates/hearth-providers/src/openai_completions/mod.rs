//! `openai-completions`: OpenAI's Chat Completions API (`POST {baseUrl}/chat/completions`),
//! also spoken by OpenRouter, Groq, DeepSeek, Mistral, vLLM, llama.cpp and LM Studio.
//!
//! - [`request`] maps a [`ModelRequest`] to the JSON body (always streaming, with usage).
//! - [`stream`] parses the SSE answer into [`crate::StreamEvent`]s.
//! - [`errors`] maps error bodies and statuses to [`ProviderError`]; `openai_responses` shares it,
//!   since the Responses API answers errors in the same shape.
//! - [`models`] reads the model list (`GET {baseUrl}/models`), shared with `openai_responses` too.
//!
//! The key goes in `Authorization: Bearer`. The URL and headers are built once in
//! [`OpenAiCompletions::new`] and a call is sent by `endpoint`, so this module holds only the
//! path, the body, the error mapping and the stream parser.

pub(crate) mod errors;
pub(crate) mod models;
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

const SPEC: Spec = Spec {
    url: |base| format!("{base}/chat/completions"),
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
    json_instead_of_stream: Some(JSON_INSTEAD_OF_STREAM),
};

/// Also used by `openai_responses`, whose error documents have the same shape.
pub(crate) const JSON_INSTEAD_OF_STREAM: JsonInsteadOfStream = JsonInsteadOfStream {
    error: errors::from_stream,
    hint: "does it support `stream: true`?",
};

pub(crate) struct OpenAiCompletions {
    endpoint: Endpoint,
}

impl fmt::Debug for OpenAiCompletions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.endpoint.fmt_debug(f, "OpenAiCompletions", "url")
    }
}

impl OpenAiCompletions {
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
impl Provider for OpenAiCompletions {
    fn id(&self) -> &str {
        &self.endpoint.id
    }

    fn api(&self) -> ApiKind {
        ApiKind::OpenaiCompletions
    }

    async fn stream(
        &self,
        request: ModelRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let reader = self.endpoint.open(&request, cancel, &API).await?;
        let redactor = &self.endpoint.redactor;
        let parser = stream::ChunkParser::new(
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
