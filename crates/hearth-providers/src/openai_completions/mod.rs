//! `openai-completions`: OpenAI's Chat Completions API (`POST {baseUrl}/chat/completions`),
//! also spoken by OpenRouter, Groq, DeepSeek, Mistral, vLLM, llama.cpp and LM Studio.
//!
//! - [`request`] maps a [`ModelRequest`] to the JSON body (always streaming, with usage).
//! - [`stream`] parses the SSE answer into [`crate::StreamEvent`]s.
//! - [`errors`] maps error bodies and statuses to [`ProviderError`]; `openai_responses` shares it,
//!   since the Responses API answers errors in the same shape.
//!
//! Everything that does not depend on the request (URL, headers, the key's redactor) is built
//! once in [`OpenAiCompletions::new`], so a call only serializes the body and sends it.

pub(crate) mod errors;
mod request;
mod stream;

use std::fmt;
use std::sync::Arc;

use hearth_config::ApiKind;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::ProviderError;
use crate::provider::{EventStream, ModelRequest, Provider, ProviderSettings, Timeouts};
use crate::transport::{self, BodyReader, Redactor};

pub(crate) struct OpenAiCompletions {
    id: String,
    url: Url,
    headers: HeaderMap,
    client: reqwest::Client,
    timeouts: Timeouts,
    redactor: Arc<Redactor>,
}

/// The headers are left out: they hold the key.
impl fmt::Debug for OpenAiCompletions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompletions")
            .field("id", &self.id)
            .field("url", &self.redactor.scrub(self.url.as_str()))
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl OpenAiCompletions {
    pub(crate) fn new(
        settings: ProviderSettings,
        client: reqwest::Client,
    ) -> Result<Self, ProviderError> {
        let redactor = Redactor::for_settings(&settings);
        let invalid = |what: String| ProviderError::Config {
            message: redactor.scrub(&what),
        };
        let base = settings.base_url.trim().trim_end_matches('/');
        let url = Url::parse(&format!("{base}/chat/completions"))
            .map_err(|err| invalid(format!("baseUrl `{base}` is not a URL ({err})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "baseUrl `{base}` must start with http:// or https://"
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        if let Some(key) = settings.api_key.as_deref().filter(|k| !k.is_empty()) {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                invalid("the apiKey contains characters not allowed in a header".to_owned())
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        for (name, value) in &settings.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("`{name}` is not a valid header name")))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("the value of header `{name}` is not valid")))?;
            value.set_sensitive(true);
            headers.insert(header, value);
        }
        Ok(Self {
            id: settings.id,
            url,
            headers,
            client,
            timeouts: settings.timeouts,
            redactor: Arc::new(redactor),
        })
    }
}

#[async_trait::async_trait]
impl Provider for OpenAiCompletions {
    fn id(&self) -> &str {
        &self.id
    }

    fn api(&self) -> ApiKind {
        ApiKind::OpenaiCompletions
    }

    async fn stream(
        &self,
        request: ModelRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let body = request::body(&request).map_err(|err| ProviderError::Decode {
            message: format!("the request could not be encoded: {err}"),
        })?;
        tracing::debug!(provider = %self.id, model = %request.model, bytes = body.len(), "model call");
        let first_byte_deadline = Instant::now() + self.timeouts.first_byte;
        let http = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .body(body);
        let response = transport::send(http, &cancel, first_byte_deadline, &self.redactor).await?;
        let mut reader = BodyReader::new(response, cancel, first_byte_deadline, self.timeouts.idle);
        let status = reader.status();
        if !status.is_success() {
            let text = reader.body_text().await;
            if reader.is_cancelled() {
                return Err(ProviderError::Cancelled);
            }
            let err = errors::from_http(status.as_u16(), reader.headers(), &text, &self.redactor);
            tracing::debug!(provider = %self.id, status = status.as_u16(), kind = err.kind(), "model call refused");
            return Err(err);
        }
        if is_json(reader.headers()) {
            return Err(json_instead_of_stream(&mut reader, &self.redactor).await);
        }
        let parser = stream::ChunkParser::new(
            format!("{}/{}", self.id, request.model),
            Arc::clone(&self.redactor),
        );
        Ok(stream::events(reader, parser, Arc::clone(&self.redactor)))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

/// A success status with a JSON body: a proxy reporting an error with 200, or a server that
/// ignored `stream: true`. Either way there is no event stream to read.
async fn json_instead_of_stream(reader: &mut BodyReader, redactor: &Redactor) -> ProviderError {
    let text = reader.body_text().await;
    if reader.is_cancelled() {
        return ProviderError::Cancelled;
    }
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(body) if !body["error"].is_null() => {
            errors::from_stream(&body["error"], false, redactor)
        }
        _ => ProviderError::Decode {
            message: "the provider answered with a JSON document instead of an event stream \
                      (does it support `stream: true`?)"
                .to_owned(),
        },
    }
}
