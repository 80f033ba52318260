//! `providers.test`: tries a provider for real before (or after) it is saved. It lists the
//! provider's models through [`hearth_providers::Provider::list_models`] and, when a model is
//! named, sends it a tiny completion. A provider that fails is an answer (`ok: false` with the
//! error's kind and message), not a protocol error: the Control UI shows it beside the form.
//!
//! A configured provider is tested with the client the gateway uses for it (its key from the
//! secret store, its proxy and timeouts); a draft gets a client of its own with short deadlines.

use std::time::{Duration, Instant};

use hearth_config::ApiKind;
use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::methods::{
    ProviderTestError, ProvidersTestParams, ProvidersTestResult, RemoteModelInfo,
};
use hearth_protocol::transcript::Message;
use hearth_providers::{ModelRequest, Provider, ProviderError, ProviderSettings, Timeouts};
use tokio_util::sync::CancellationToken;

use super::methods::{MethodResult, invalid, ok};
use crate::models::ModelLookupError;
use crate::runtime::Runtime;

/// The whole test's deadline, listing and completion together.
const TEST_DEADLINE: Duration = Duration::from_secs(30);

/// The tiny completion's prompt and output budget.
const PING_PROMPT: &str = "Reply with OK";
const PING_MAX_TOKENS: u64 = 16;

/// An API kind by its `hearth.json` name.
pub(super) fn parse_api(name: &str) -> Result<ApiKind, String> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|_| {
        format!(
            "unknown api `{name}`; use one of openai-completions, openai-responses, \
             anthropic-messages, google-generative-ai, ollama"
        )
    })
}

/// The vendor's own API root for an API kind, as `baseUrl` writes it.
pub(super) fn default_base_url(api: ApiKind) -> &'static str {
    match api {
        ApiKind::OpenaiCompletions | ApiKind::OpenaiResponses => "https://api.openai.com/v1",
        ApiKind::AnthropicMessages => "https://api.anthropic.com/v1",
        ApiKind::GoogleGenerativeAi => "https://generativelanguage.googleapis.com/v1beta",
        ApiKind::Ollama => "http://127.0.0.1:11434",
    }
}

fn failure(kind: &str, message: String) -> ProviderTestError {
    ProviderTestError {
        kind: kind.to_owned(),
        message,
    }
}

fn provider_failure(e: &ProviderError) -> ProviderTestError {
    failure(e.kind(), e.to_string())
}

/// The client to test: a configured provider's, or one built from the draft.
fn client_for(
    rt: &Runtime,
    p: &ProvidersTestParams,
) -> Result<Result<std::sync::Arc<dyn Provider>, ProviderTestError>, ErrorShape> {
    match (&p.provider, &p.draft) {
        (Some(id), None) => match rt.live().models.provider_client(id) {
            Ok(client) => Ok(Ok(client)),
            Err(ModelLookupError::UnknownProvider(_)) => Err(ErrorShape::new(
                ErrorCode::NotFound,
                format!("no provider `{id}` is configured (models.providers)"),
            )),
            // Configured but unusable (its key's secret is missing): the test failed.
            Err(e) => Ok(Err(failure("config", e.to_string()))),
        },
        (None, Some(draft)) => {
            let api = parse_api(&draft.api).map_err(invalid)?;
            let base_url = draft
                .base_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .unwrap_or(default_base_url(api))
                .to_owned();
            let settings = ProviderSettings {
                id: "draft".to_owned(),
                api,
                base_url,
                api_key: draft
                    .api_key
                    .as_deref()
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned),
                headers: draft
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                timeouts: Timeouts {
                    connect: Duration::from_secs(10),
                    first_byte: Duration::from_secs(25),
                    idle: Duration::from_secs(25),
                },
                auth_header: false,
            };
            Ok(
                hearth_providers::build(settings, rt.http.clone())
                    .map_err(|e| provider_failure(&e)),
            )
        }
        _ => Err(invalid(
            "give exactly one of `provider` (a configured provider's id) and `draft`",
        )),
    }
}

pub(super) async fn providers_test(rt: &Runtime, p: ProvidersTestParams) -> MethodResult {
    let started = Instant::now();
    let client = client_for(rt, &p)?;
    let model = p
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    let (models, error) = match client {
        Err(error) => (Vec::new(), Some(error)),
        Ok(client) => {
            let cancel = CancellationToken::new();
            let run = exercise(client.as_ref(), model, cancel.clone());
            match tokio::time::timeout(TEST_DEADLINE, run).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    cancel.cancel();
                    (
                        Vec::new(),
                        Some(failure(
                            "timeout",
                            format!(
                                "the provider did not answer within {} s",
                                TEST_DEADLINE.as_secs()
                            ),
                        )),
                    )
                }
            }
        }
    };
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if let Some(e) = &error {
        tracing::info!(kind = %e.kind, latency_ms, "provider test failed");
    }
    ok(ProvidersTestResult {
        ok: error.is_none(),
        latency_ms,
        models,
        error,
    })
}

/// Lists the models, then pings `model`. With a model, the ping decides (some compatible
/// servers have no listing endpoint); without one, the listing does.
async fn exercise(
    client: &dyn Provider,
    model: Option<String>,
    cancel: CancellationToken,
) -> (Vec<RemoteModelInfo>, Option<ProviderTestError>) {
    let listed = client.list_models(cancel.clone()).await;
    let (models, list_error) = match listed {
        Ok(list) => (
            list.into_iter()
                .map(|m| RemoteModelInfo {
                    id: m.id,
                    name: m.name,
                    context_window: m.context_window,
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(provider_failure(&e))),
    };
    let Some(model) = model else {
        return (models, list_error);
    };
    let mut request = ModelRequest::new(model, vec![Message::user(PING_PROMPT)]);
    request.max_tokens = Some(PING_MAX_TOKENS);
    match client.complete(request, cancel).await {
        Ok(_) => (models, None),
        Err(e) => (models, Some(provider_failure(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names_and_default_roots() {
        assert_eq!(parse_api("ollama"), Ok(ApiKind::Ollama));
        assert!(
            parse_api("openai")
                .unwrap_err()
                .contains("openai-completions")
        );
        assert_eq!(
            default_base_url(parse_api("anthropic-messages").unwrap()),
            "https://api.anthropic.com/v1"
        );
    }
}
