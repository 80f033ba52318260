//! `google-generative-ai`: the Gemini API (`POST {baseUrl}/models/{model}:streamGenerateContent?alt=sse`,
//! baseUrl like `https://generativelanguage.googleapis.com/v1beta`).
//!
//! - [`request`] maps a [`ModelRequest`] to the `GenerateContentRequest` body, with [`schema`]
//!   cutting tool parameters down to what Gemini accepts.
//! - [`stream`] parses the SSE answer into [`crate::StreamEvent`]s (through `call_stream`).
//! - [`errors`] maps Google's error bodies and statuses to [`ProviderError`].
//! - [`models`] reads the model list (`GET {baseUrl}/models`, paged, chat models only).
//!
//! The key goes in the `x-goog-api-key` header (or `Authorization: Bearer` when
//! [`ProviderSettings::auth_header`] is set, for gateways), never in the URL's `key=` query: URLs
//! end up in logs and proxies. The API root and headers are built once in
//! [`GoogleGenerativeAi::new`]; a call names the model in the path and is sent by `endpoint`.

mod errors;
mod models;
mod request;
mod schema;
mod stream;

use std::fmt;
use std::sync::Arc;

use hearth_config::ApiKind;
use reqwest::Url;
use tokio_util::sync::CancellationToken;

use crate::call_stream;
use crate::endpoint::{self, Auth, Endpoint, JsonInsteadOfStream, Spec};
use crate::error::ProviderError;
use crate::models::RemoteModel;
use crate::provider::{EventStream, ModelRequest, Provider, ProviderSettings};
use crate::sse::SseDecoder;

/// The endpoint's URL is the API root; a call appends `models/{model}:streamGenerateContent`.
const SPEC: Spec = Spec {
    url: str::to_owned,
    accept: "text/event-stream",
    auth: Auth::KeyHeader("x-goog-api-key"),
    fixed_headers: &[],
};

const API: endpoint::Api = endpoint::Api {
    url_for_model: Some(url),
    body: request::body,
    http_error: |status, headers, text, _model, redactor| {
        errors::from_http(status, headers, text, redactor)
    },
    // A proxy reporting an error with 200, or an endpoint that ignored `alt=sse`.
    json_instead_of_stream: Some(JsonInsteadOfStream {
        error: errors::from_stream,
        hint: "does baseUrl point at the Gemini API?",
    }),
};

pub(crate) struct GoogleGenerativeAi {
    endpoint: Endpoint,
}

impl fmt::Debug for GoogleGenerativeAi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.endpoint.fmt_debug(f, "GoogleGenerativeAi", "base")
    }
}

impl GoogleGenerativeAi {
    pub(crate) fn new(
        settings: ProviderSettings,
        client: reqwest::Client,
    ) -> Result<Self, ProviderError> {
        Ok(Self {
            endpoint: Endpoint::new(settings, client, &SPEC)?,
        })
    }
}

/// `{base}/models/{model}:streamGenerateContent?alt=sse`, keeping any query of the base.
fn url(base: &Url, model: &str) -> Result<Url, ProviderError> {
    let model = model.strip_prefix("models/").unwrap_or(model);
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| ProviderError::Config {
            message: "baseUrl cannot take a path".to_owned(),
        })?
        .pop_if_empty()
        .push("models")
        .push(&format!("{model}:streamGenerateContent"));
    url.query_pairs_mut().append_pair("alt", "sse");
    Ok(url)
}

#[async_trait::async_trait]
impl Provider for GoogleGenerativeAi {
    fn id(&self) -> &str {
        &self.endpoint.id
    }

    fn api(&self) -> ApiKind {
        ApiKind::GoogleGenerativeAi
    }

    async fn stream(
        &self,
        request: ModelRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let reader = self.endpoint.open(&request, cancel, &API).await?;
        let redactor = &self.endpoint.redactor;
        let parser = stream::ResponseParser::new(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Timeouts;

    fn provider(base_url: &str) -> GoogleGenerativeAi {
        GoogleGenerativeAi::new(
            ProviderSettings {
                id: "google".to_owned(),
                api: ApiKind::GoogleGenerativeAi,
                base_url: base_url.to_owned(),
                api_key: Some("AIza-secret".to_owned()),
                headers: Vec::new(),
                timeouts: Timeouts::default(),
                auth_header: false,
            },
            reqwest::Client::new(),
        )
        .unwrap()
    }

    #[test]
    fn the_url_names_the_model_and_never_the_key() {
        let google = provider("https://generativelanguage.googleapis.com/v1beta/");
        assert_eq!(
            url(&google.endpoint.url, "models/gemini-2.5-flash")
                .unwrap()
                .as_str(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        let gateway = provider("https://gw.example/google/v1beta?tenant=a");
        assert_eq!(
            url(&gateway.endpoint.url, "gemini-2.0-flash")
                .unwrap()
                .as_str(),
            "https://gw.example/google/v1beta/models/gemini-2.0-flash:streamGenerateContent?tenant=a&alt=sse"
        );
        assert!(!format!("{google:?}").contains("AIza-secret"));
    }
}
