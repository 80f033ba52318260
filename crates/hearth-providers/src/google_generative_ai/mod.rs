//! `google-generative-ai`: the Gemini API (`POST {baseUrl}/models/{model}:streamGenerateContent?alt=sse`,
//! baseUrl like `https://generativelanguage.googleapis.com/v1beta`).
//!
//! - [`request`] maps a [`ModelRequest`] to the `GenerateContentRequest` body, with [`schema`]
//!   cutting tool parameters down to what Gemini accepts.
//! - [`stream`] parses the SSE answer into [`crate::StreamEvent`]s (through `call_stream`).
//! - [`errors`] maps Google's error bodies and statuses to [`ProviderError`].
//!
//! The key goes in the `x-goog-api-key` header (or `Authorization: Bearer` when
//! [`ProviderSettings::auth_header`] is set, for gateways), never in the URL's `key=` query: URLs
//! end up in logs and proxies. Everything that does not depend on the request is built once in
//! [`GoogleGenerativeAi::new`].

mod errors;
mod request;
mod schema;
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
use crate::provider::{EventStream, ModelRequest, Provider, ProviderSettings, Timeouts};
use crate::sse::SseDecoder;
use crate::transport::{self, BodyReader, Redactor};

const API_KEY_HEADER: &str = "x-goog-api-key";

pub(crate) struct GoogleGenerativeAi {
    id: String,
    /// The API root; a call appends `models/{model}:streamGenerateContent`.
    base: Url,
    headers: HeaderMap,
    client: reqwest::Client,
    timeouts: Timeouts,
    redactor: Arc<Redactor>,
}

/// The headers are left out: they hold the key.
impl fmt::Debug for GoogleGenerativeAi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleGenerativeAi")
            .field("id", &self.id)
            .field("base", &self.redactor.scrub(self.base.as_str()))
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl GoogleGenerativeAi {
    pub(crate) fn new(
        settings: ProviderSettings,
        client: reqwest::Client,
    ) -> Result<Self, ProviderError> {
        let redactor = Redactor::for_settings(&settings);
        let invalid = |what: String| ProviderError::Config {
            message: redactor.scrub(&what),
        };
        let base_text = settings.base_url.trim().trim_end_matches('/');
        let base = Url::parse(base_text)
            .map_err(|err| invalid(format!("baseUrl `{base_text}` is not a URL ({err})")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "baseUrl `{base_text}` must start with http:// or https://"
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        if let Some(key) = settings.api_key.as_deref().filter(|k| !k.is_empty()) {
            let (name, value) = if settings.auth_header {
                (AUTHORIZATION, format!("Bearer {key}"))
            } else {
                (HeaderName::from_static(API_KEY_HEADER), key.to_owned())
            };
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                invalid("the apiKey contains characters not allowed in a header".to_owned())
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
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
            base,
            headers,
            client,
            timeouts: settings.timeouts,
            redactor: Arc::new(redactor),
        })
    }

    /// `{base}/models/{model}:streamGenerateContent?alt=sse`, keeping any query of the base.
    fn url(&self, model: &str) -> Result<Url, ProviderError> {
        let model = model.strip_prefix("models/").unwrap_or(model);
        let mut url = self.base.clone();
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
}

#[async_trait::async_trait]
impl Provider for GoogleGenerativeAi {
    fn id(&self) -> &str {
        &self.id
    }

    fn api(&self) -> ApiKind {
        ApiKind::GoogleGenerativeAi
    }

    async fn stream(
        &self,
        request: ModelRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let url = self.url(&request.model)?;
        let body = request::body(&request).map_err(|err| ProviderError::Decode {
            message: format!("the request could not be encoded: {err}"),
        })?;
        tracing::debug!(provider = %self.id, model = %request.model, bytes = body.len(), "model call");
        let first_byte_deadline = Instant::now() + self.timeouts.first_byte;
        let http = self
            .client
            .post(url)
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
        let parser = stream::ResponseParser::new(
            format!("{}/{}", self.id, request.model),
            Arc::clone(&self.redactor),
        );
        Ok(call_stream::events(
            reader,
            SseDecoder::default(),
            parser,
            Arc::clone(&self.redactor),
        ))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

/// A success status with a JSON body: a proxy reporting an error with 200, or an endpoint that
/// ignored `alt=sse`. Either way there is no event stream to read.
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
                      (does baseUrl point at the Gemini API?)"
                .to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            google.url("models/gemini-2.5-flash").unwrap().as_str(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        let gateway = provider("https://gw.example/google/v1beta?tenant=a");
        assert_eq!(
            gateway.url("gemini-2.0-flash").unwrap().as_str(),
            "https://gw.example/google/v1beta/models/gemini-2.0-flash:streamGenerateContent?tenant=a&alt=sse"
        );
        assert!(!format!("{google:?}").contains("AIza-secret"));
    }
}
