//! `ollama`: Ollama's native chat API (`POST {baseUrl}/api/chat`, baseUrl like
//! `http://127.0.0.1:11434`), which streams NDJSON rather than SSE.
//!
//! - [`request`] maps a [`ModelRequest`] to the JSON body (always streaming).
//! - [`stream`] parses the NDJSON answer into [`crate::StreamEvent`]s (through `call_stream`
//!   and `ndjson`).
//! - [`errors`] maps Ollama's `{"error": "..."}` bodies and statuses to [`ProviderError`].
//!
//! Ollama needs no key; one is sent as a bearer token when configured (for a proxy or Ollama's
//! hosted models). A baseUrl ending in `/api` is accepted too. When nothing listens at the
//! baseUrl the error says Ollama is probably not running.

mod errors;
mod request;
mod stream;

use std::fmt;
use std::sync::Arc;

use hearth_config::ApiKind;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::call_stream;
use crate::error::ProviderError;
use crate::ndjson::NdjsonDecoder;
use crate::provider::{EventStream, ModelRequest, Provider, ProviderSettings, Timeouts};
use crate::transport::{self, BodyReader, Redactor};

pub(crate) struct Ollama {
    id: String,
    url: Url,
    headers: HeaderMap,
    client: reqwest::Client,
    timeouts: Timeouts,
    redactor: Arc<Redactor>,
}

/// The headers are left out: they may hold a key.
impl fmt::Debug for Ollama {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ollama")
            .field("id", &self.id)
            .field("url", &self.redactor.scrub(self.url.as_str()))
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl Ollama {
    pub(crate) fn new(
        settings: ProviderSettings,
        client: reqwest::Client,
    ) -> Result<Self, ProviderError> {
        let redactor = Redactor::for_settings(&settings);
        let invalid = |what: String| ProviderError::Config {
            message: redactor.scrub(&what),
        };
        let base = settings.base_url.trim().trim_end_matches('/');
        let root = base.strip_suffix("/api").unwrap_or(base);
        let url = Url::parse(&format!("{root}/api/chat"))
            .map_err(|err| invalid(format!("baseUrl `{base}` is not a URL ({err})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "baseUrl `{base}` must start with http:// or https://"
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/x-ndjson"));
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

    /// A refused connection to Ollama almost always means it is not running.
    fn not_running_hint(&self, err: ProviderError) -> ProviderError {
        match err {
            ProviderError::Network { message }
                if message.contains("tcp connect error")
                    || message.to_ascii_lowercase().contains("connection refused") =>
            {
                let origin = self.url.origin().ascii_serialization();
                ProviderError::Network {
                    message: format!(
                        "{message} (is Ollama running at {origin}? start it with `ollama serve`)"
                    ),
                }
            }
            other => other,
        }
    }
}

#[async_trait::async_trait]
impl Provider for Ollama {
    fn id(&self) -> &str {
        &self.id
    }

    fn api(&self) -> ApiKind {
        ApiKind::Ollama
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
        let response = transport::send(http, &cancel, first_byte_deadline, &self.redactor)
            .await
            .map_err(|err| self.not_running_hint(err))?;
        let mut reader = BodyReader::new(response, cancel, first_byte_deadline, self.timeouts.idle);
        let status = reader.status();
        if !status.is_success() {
            let text = reader.body_text().await;
            if reader.is_cancelled() {
                return Err(ProviderError::Cancelled);
            }
            let err = errors::from_http(
                status.as_u16(),
                reader.headers(),
                &text,
                &request.model,
                &self.redactor,
            );
            tracing::debug!(provider = %self.id, status = status.as_u16(), kind = err.kind(), "model call refused");
            return Err(err);
        }
        let parser = stream::LineParser::new(
            request.model.clone(),
            format!("{}/{}", self.id, request.model),
            Arc::clone(&self.redactor),
        );
        // No content-type check: a server that ignored `stream: true` sends one JSON object
        // with `done: true`, which is one NDJSON line.
        Ok(call_stream::events(
            reader,
            NdjsonDecoder::default(),
            parser,
            Arc::clone(&self.redactor),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(base_url: &str) -> ProviderSettings {
        ProviderSettings {
            id: "local".to_owned(),
            api: ApiKind::Ollama,
            base_url: base_url.to_owned(),
            api_key: None,
            headers: Vec::new(),
            timeouts: Timeouts::default(),
            auth_header: false,
        }
    }

    #[test]
    fn the_chat_url_comes_from_the_root_with_or_without_api() {
        for base in [
            "http://127.0.0.1:11434",
            "http://127.0.0.1:11434/",
            "http://127.0.0.1:11434/api",
        ] {
            let ollama = Ollama::new(settings(base), reqwest::Client::new()).unwrap();
            assert_eq!(ollama.url.as_str(), "http://127.0.0.1:11434/api/chat");
        }
        let err = Ollama::new(settings("ftp://x"), reqwest::Client::new()).unwrap_err();
        assert_eq!(err.kind(), "config");
    }
}
