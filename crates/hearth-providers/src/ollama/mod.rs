//! `ollama`: Ollama's native chat API (`POST {baseUrl}/api/chat`, baseUrl like
//! `http://127.0.0.1:11434`), which streams NDJSON rather than SSE.
//!
//! - [`request`] maps a [`ModelRequest`] to the JSON body (always streaming).
//! - [`stream`] parses the NDJSON answer into [`crate::StreamEvent`]s (through `call_stream`
//!   and `ndjson`).
//! - [`errors`] maps Ollama's `{"error": "..."}` bodies and statuses to [`ProviderError`].
//! - [`models`] lists the pulled models (`GET {baseUrl}/api/tags`).
//!
//! Ollama needs no key; one is sent as a bearer token when configured (for a proxy or Ollama's
//! hosted models). A baseUrl ending in `/api` is accepted too. When nothing listens at the
//! baseUrl the error says Ollama is probably not running. The URL and headers are built once in
//! [`Ollama::new`] and a call is sent by `endpoint`.

mod errors;
mod models;
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
use crate::ndjson::NdjsonDecoder;
use crate::provider::{EventStream, ModelRequest, Provider, ProviderSettings};

const SPEC: Spec = Spec {
    url: |base| {
        let root = base.strip_suffix("/api").unwrap_or(base);
        format!("{root}/api/chat")
    },
    accept: "application/x-ndjson",
    auth: Auth::Bearer,
    fixed_headers: &[],
};

const API: endpoint::Api = endpoint::Api {
    url_for_model: None,
    body: request::body,
    http_error: errors::from_http,
    // No content-type check: a server that ignored `stream: true` sends one JSON object with
    // `done: true`, which is one NDJSON line.
    json_instead_of_stream: None,
};

pub(crate) struct Ollama {
    endpoint: Endpoint,
}

impl fmt::Debug for Ollama {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.endpoint.fmt_debug(f, "Ollama", "url")
    }
}

impl Ollama {
    pub(crate) fn new(
        settings: ProviderSettings,
        client: reqwest::Client,
    ) -> Result<Self, ProviderError> {
        Ok(Self {
            endpoint: Endpoint::new(settings, client, &SPEC)?,
        })
    }

    /// A refused connection to Ollama almost always means it is not running.
    fn not_running_hint(&self, err: ProviderError) -> ProviderError {
        match err {
            ProviderError::Network { message }
                if message.contains("tcp connect error")
                    || message.to_ascii_lowercase().contains("connection refused") =>
            {
                let origin = self.endpoint.url.origin().ascii_serialization();
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
        &self.endpoint.id
    }

    fn api(&self) -> ApiKind {
        ApiKind::Ollama
    }

    async fn stream(
        &self,
        request: ModelRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        // Only sending yields `Network` errors, so this touches nothing else `open` returns.
        let reader = self
            .endpoint
            .open(&request, cancel, &API)
            .await
            .map_err(|err| self.not_running_hint(err))?;
        let redactor = &self.endpoint.redactor;
        let parser = stream::LineParser::new(
            request.model.clone(),
            self.endpoint.model_ref(&request.model),
            Arc::clone(redactor),
        );
        Ok(call_stream::events(
            reader,
            NdjsonDecoder::default(),
            parser,
            Arc::clone(redactor),
        ))
    }

    async fn list_models(
        &self,
        cancel: CancellationToken,
    ) -> Result<Vec<RemoteModel>, ProviderError> {
        models::list(&self.endpoint, &API, cancel)
            .await
            .map_err(|err| self.not_running_hint(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Timeouts;

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
            assert_eq!(
                ollama.endpoint.url.as_str(),
                "http://127.0.0.1:11434/api/chat"
            );
        }
        let err = Ollama::new(settings("ftp://x"), reqwest::Client::new()).unwrap_err();
        assert_eq!(err.kind(), "config");
    }
}
