//! What every HTTP API kind shares around its own wire format: the [`Endpoint`] (the request
//! URL from `baseUrl`, the headers with the key, the client, timeouts and redactor, all built
//! once from the settings), [`Endpoint::open`], one model call up to the point where its
//! answer streams, and [`Endpoint::get_json`], one page of a model listing.
//!
//! A vendor module describes only what is its own: the path and auth style ([`Spec`]), the
//! request body, how its HTTP errors and JSON-instead-of-stream answers map to
//! [`ProviderError`] ([`Api`]), the stream parser it hands the returned [`BodyReader`] to, and
//! how its model list reads.

use std::fmt;
use std::sync::Arc;

use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::ProviderError;
use crate::provider::{ModelRequest, ProviderSettings, Timeouts};
use crate::transport::{self, BodyReader, Redactor};

/// How an API takes its key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth {
    /// `Authorization: Bearer {key}`.
    Bearer,
    /// The bare key in this header, or `Authorization: Bearer {key}` when
    /// [`ProviderSettings::auth_header`] is set.
    KeyHeader(&'static str),
}

/// The fixed parts of an API's requests.
#[derive(Debug)]
pub(crate) struct Spec {
    /// The request URL from the baseUrl (trimmed, without a trailing `/`).
    pub(crate) url: fn(&str) -> String,
    /// The `accept` header.
    pub(crate) accept: &'static str,
    pub(crate) auth: Auth,
    /// Headers the API always wants, sent before the configured ones (which win).
    pub(crate) fixed_headers: &'static [(&'static str, &'static str)],
}

/// One configured provider's HTTP endpoint: everything a call needs but its body.
pub(crate) struct Endpoint {
    pub(crate) id: String,
    pub(crate) url: Url,
    /// The baseUrl, trimmed and without a trailing `/`, for the listing URLs.
    pub(crate) base: String,
    headers: HeaderMap,
    /// The same auth and configured headers for a GET of JSON: no content-type, JSON accepted.
    listing_headers: HeaderMap,
    client: reqwest::Client,
    pub(crate) timeouts: Timeouts,
    pub(crate) redactor: Arc<Redactor>,
}

/// Largest model list read; OpenRouter's, the largest known, is a few MiB with descriptions.
const MAX_LISTING_BYTES: usize = 32 * 1024 * 1024;

/// The request URL from the endpoint's URL and the model.
pub(crate) type UrlForModel = fn(&Url, &str) -> Result<Url, ProviderError>;

/// What differs between APIs in one call, for [`Endpoint::open`].
#[derive(Debug)]
pub(crate) struct Api {
    /// The request URL for a model, when it is not [`Endpoint::url`] itself.
    pub(crate) url_for_model: Option<UrlForModel>,
    /// The request body.
    pub(crate) body: fn(&ModelRequest) -> Result<Vec<u8>, serde_json::Error>,
    /// The error for a non-success status: status, response headers, body text, model.
    pub(crate) http_error: fn(u16, &HeaderMap, &str, &str, &Redactor) -> ProviderError,
    /// How a success answered with a JSON document instead of a stream reads; `None` when such
    /// a body is left to the stream parser.
    pub(crate) json_instead_of_stream: Option<JsonInsteadOfStream>,
}

/// A success status with a JSON body: a proxy reporting an error with 200, or a server that
/// ignored the request to stream. Either way there is no event stream to read.
#[derive(Debug)]
pub(crate) struct JsonInsteadOfStream {
    /// The error for the document's `error` member (`output_started` is false).
    pub(crate) error: fn(&serde_json::Value, bool, &Redactor) -> ProviderError,
    /// The likely cause, shown in parentheses when there is no `error` member.
    pub(crate) hint: &'static str,
}

impl Endpoint {
    /// Validates the baseUrl and builds the headers (content-type, accept, the API's fixed
    /// headers, the key, then the configured headers), all marked sensitive but the defaults.
    pub(crate) fn new(
        settings: ProviderSettings,
        client: reqwest::Client,
        spec: &Spec,
    ) -> Result<Self, ProviderError> {
        let redactor = Redactor::for_settings(&settings);
        let invalid = |what: String| ProviderError::Config {
            message: redactor.scrub(&what),
        };
        let base = settings.base_url.trim().trim_end_matches('/');
        let url = Url::parse(&(spec.url)(base))
            .map_err(|err| invalid(format!("baseUrl `{base}` is not a URL ({err})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "baseUrl `{base}` must start with http:// or https://"
            )));
        }
        // The API's fixed headers, the key, then the configured headers, so a configured
        // header wins; sent by model calls and listings alike.
        let mut shared = HeaderMap::new();
        for &(name, value) in spec.fixed_headers {
            shared.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        if let Some(key) = settings.api_key.as_deref().filter(|k| !k.is_empty()) {
            let (name, value) = match spec.auth {
                Auth::KeyHeader(name) if !settings.auth_header => {
                    (HeaderName::from_static(name), key.to_owned())
                }
                Auth::Bearer | Auth::KeyHeader(_) => (AUTHORIZATION, format!("Bearer {key}")),
            };
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                invalid("the apiKey contains characters not allowed in a header".to_owned())
            })?;
            value.set_sensitive(true);
            shared.insert(name, value);
        }
        for (name, value) in &settings.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("`{name}` is not a valid header name")))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("the value of header `{name}` is not valid")))?;
            value.set_sensitive(true);
            shared.insert(header, value);
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static(spec.accept));
        let mut listing_headers = HeaderMap::new();
        listing_headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        for (name, value) in &shared {
            headers.insert(name.clone(), value.clone());
            listing_headers.insert(name.clone(), value.clone());
        }
        Ok(Self {
            id: settings.id,
            url,
            base: base.to_owned(),
            headers,
            listing_headers,
            client,
            timeouts: settings.timeouts,
            redactor: Arc::new(redactor),
        })
    }

    /// A provider's `Debug`, naming the URL field `url_field` and leaving out the headers: they
    /// hold the key.
    pub(crate) fn fmt_debug(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &str,
        url_field: &str,
    ) -> fmt::Result {
        f.debug_struct(name)
            .field("id", &self.id)
            .field(url_field, &self.redactor.scrub(self.url.as_str()))
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }

    /// The model ref (`{provider}/{model}`) parsers name in their errors.
    pub(crate) fn model_ref(&self, model: &str) -> String {
        format!("{}/{}", self.id, model)
    }

    /// Sends `request` and returns its body once the answer is known to stream: a non-success
    /// status becomes `api.http_error`, a JSON document instead of a stream
    /// `api.json_instead_of_stream`, and cancellation at any point [`ProviderError::Cancelled`].
    pub(crate) async fn open(
        &self,
        request: &ModelRequest,
        cancel: CancellationToken,
        api: &Api,
    ) -> Result<BodyReader, ProviderError> {
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let url = match api.url_for_model {
            Some(url_for_model) => url_for_model(&self.url, &request.model)?,
            None => self.url.clone(),
        };
        let body = (api.body)(request).map_err(|err| ProviderError::Decode {
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
        self.refused(&mut reader, api, &request.model).await?;
        if let Some(json) = &api.json_instead_of_stream
            && is_json(reader.headers())
        {
            return Err(json.read(&mut reader, &self.redactor).await);
        }
        Ok(reader)
    }

    /// The listing URL `path(base)` (e.g. `{base}/models`), built by the same rules as the
    /// model call's URL.
    pub(crate) fn listing_url(&self, path: fn(&str) -> String) -> Result<Url, ProviderError> {
        Url::parse(&path(&self.base)).map_err(|err| ProviderError::Config {
            message: self
                .redactor
                .scrub(&format!("baseUrl `{}` is not a URL ({err})", self.base)),
        })
    }

    /// GETs one page of a listing and returns its JSON document, under the same headers,
    /// deadlines, cancellation and error mapping as a model call: a non-success status becomes
    /// `api.http_error`, and a success whose document has an `error` member (a proxy reporting
    /// an error with 200) the API's error for that member.
    pub(crate) async fn get_json(
        &self,
        url: Url,
        cancel: &CancellationToken,
        api: &Api,
    ) -> Result<serde_json::Value, ProviderError> {
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        tracing::debug!(provider = %self.id, "model list");
        let first_byte_deadline = Instant::now() + self.timeouts.first_byte;
        let http = self.client.get(url).headers(self.listing_headers.clone());
        let response = transport::send(http, cancel, first_byte_deadline, &self.redactor).await?;
        let mut reader = BodyReader::new(
            response,
            cancel.clone(),
            first_byte_deadline,
            self.timeouts.idle,
        );
        self.refused(&mut reader, api, "").await?;
        let body = match reader.read_to_end(MAX_LISTING_BYTES).await {
            Ok(Some(body)) => body,
            Ok(None) => {
                return Err(ProviderError::Decode {
                    message: format!(
                        "the model list is larger than {} MiB",
                        MAX_LISTING_BYTES >> 20
                    ),
                });
            }
            Err(err) => return Err(err.into_error(&self.redactor)),
        };
        let document: serde_json::Value =
            serde_json::from_slice(&body).map_err(|err| ProviderError::Decode {
                message: format!("the model list is not JSON ({err})"),
            })?;
        if let Some(json) = &api.json_instead_of_stream
            && !document["error"].is_null()
        {
            return Err((json.error)(&document["error"], false, &self.redactor));
        }
        Ok(document)
    }

    /// `api.http_error` when the response's status is not a success.
    async fn refused(
        &self,
        reader: &mut BodyReader,
        api: &Api,
        model: &str,
    ) -> Result<(), ProviderError> {
        let status = reader.status();
        if status.is_success() {
            return Ok(());
        }
        let text = reader.body_text().await;
        if reader.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let err = (api.http_error)(
            status.as_u16(),
            reader.headers(),
            &text,
            model,
            &self.redactor,
        );
        tracing::debug!(provider = %self.id, status = status.as_u16(), kind = err.kind(), "request refused");
        Err(err)
    }
}

impl JsonInsteadOfStream {
    async fn read(&self, reader: &mut BodyReader, redactor: &Redactor) -> ProviderError {
        let text = reader.body_text().await;
        if reader.is_cancelled() {
            return ProviderError::Cancelled;
        }
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(body) if !body["error"].is_null() => (self.error)(&body["error"], false, redactor),
            _ => ProviderError::Decode {
                message: format!(
                    "the provider answered with a JSON document instead of an event stream ({})",
                    self.hint
                ),
            },
        }
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}
