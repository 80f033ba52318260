//! Providers and models resolved from the config: one client per provider, looked up by
//! `provider/model` refs. Rebuilt whenever the config (or a provider's key) changes.

use std::collections::HashMap;
use std::sync::Arc;

use hearth_config::{Config, ModelDef, SecretValue};
use hearth_protocol::methods::{ModelInfo, ProviderInfo};
use hearth_providers::{Provider, ProviderSettings, Timeouts};

/// A resolved model ref.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// `provider/model`.
    pub reference: String,
    pub provider: Arc<dyn Provider>,
    /// The provider's own model id.
    pub model_id: String,
    /// The model's settings; defaults when the config does not list it.
    pub def: ModelDef,
}

/// Why a model ref cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelLookupError {
    #[error(
        "no model is configured for this agent: set one with `hearth config set agents.defaults.model.primary <provider>/<model>`"
    )]
    NotConfigured,
    #[error("`{0}` is not a model ref: write it as `provider/model`")]
    BadRef(String),
    #[error("no provider `{0}` is configured under models.providers")]
    UnknownProvider(String),
    #[error("provider `{provider}` cannot be used: {reason}")]
    Unavailable { provider: String, reason: String },
}

/// Fetches secrets that providers reference by name.
pub trait SecretLookup {
    fn secret(&self, name: &str) -> Option<String>;
}

/// Every configured provider, ready to call.
#[derive(Debug, Default)]
pub struct ModelRegistry {
    providers: HashMap<String, ProviderEntry>,
}

#[derive(Debug)]
struct ProviderEntry {
    client: Result<Arc<dyn Provider>, String>,
    api: &'static str,
    base_url: String,
    models: Vec<ModelDef>,
}

impl ModelRegistry {
    /// Builds a client per provider. A provider that cannot be built (unknown API kind, missing
    /// secret) is kept with its reason so `status` and errors can say why.
    pub fn build(config: &Config, secrets: &dyn SecretLookup, http: &reqwest::Client) -> Self {
        let mut providers = HashMap::new();
        for (id, p) in &config.models.providers {
            let api_key = match &p.api_key {
                None => Ok(None),
                Some(SecretValue::Literal(v)) => Ok(Some(v.clone())),
                Some(SecretValue::Ref { secret }) => secrets.secret(secret).map(Some).ok_or_else(|| {
                    format!("its apiKey refers to secret `{secret}`, which is not in the secret store; add it with `hearth secrets set {secret}`")
                }),
            };
            let client = api_key.and_then(|api_key| {
                let settings = ProviderSettings {
                    id: id.clone(),
                    api: p.api,
                    base_url: p.base_url.clone(),
                    api_key,
                    headers: p
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    timeouts: Timeouts::default(),
                };
                hearth_providers::build(settings, http.clone()).map_err(|e| e.to_string())
            });
            providers.insert(
                id.clone(),
                ProviderEntry {
                    client,
                    api: p.api.as_str(),
                    base_url: p.base_url.clone(),
                    models: p.models.clone(),
                },
            );
        }
        Self { providers }
    }

    /// Resolves `provider/model`.
    pub fn resolve(&self, reference: &str) -> Result<ResolvedModel, ModelLookupError> {
        let (provider_id, model_id) = reference
            .split_once('/')
            .filter(|(p, m)| !p.is_empty() && !m.is_empty())
            .ok_or_else(|| ModelLookupError::BadRef(reference.to_owned()))?;
        let entry = self
            .providers
            .get(provider_id)
            .ok_or_else(|| ModelLookupError::UnknownProvider(provider_id.to_owned()))?;
        let provider = entry
            .client
            .as_ref()
            .map_err(|reason| ModelLookupError::Unavailable {
                provider: provider_id.to_owned(),
                reason: reason.clone(),
            })?;
        let def = entry
            .models
            .iter()
            .find(|m| m.id == model_id)
            .cloned()
            .unwrap_or_else(|| ModelDef {
                id: model_id.to_owned(),
                name: None,
                reasoning: false,
                input: vec![hearth_config::InputKind::Text],
                cost: None,
                context_window: 128_000,
                max_tokens: 4096,
            });
        Ok(ResolvedModel {
            reference: reference.to_owned(),
            provider: provider.clone(),
            model_id: model_id.to_owned(),
            def,
        })
    }

    /// Providers for `status`, sorted by id.
    pub fn provider_infos(&self) -> Vec<ProviderInfo> {
        let mut out: Vec<ProviderInfo> = self
            .providers
            .iter()
            .map(|(id, e)| ProviderInfo {
                id: id.clone(),
                api: e.api.to_owned(),
                base_url: e.base_url.clone(),
                models: e.models.iter().map(|m| m.id.clone()).collect(),
                available: e.client.is_ok(),
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Every configured model for `models.list`, sorted by ref.
    pub fn model_infos(&self) -> Vec<ModelInfo> {
        let mut out: Vec<ModelInfo> = self
            .providers
            .iter()
            .flat_map(|(pid, e)| {
                e.models.iter().map(move |m| ModelInfo {
                    id: format!("{pid}/{}", m.id),
                    provider: pid.clone(),
                    name: m.name.clone().unwrap_or_else(|| m.id.clone()),
                    api: e.api.to_owned(),
                    context_window: m.context_window,
                    max_tokens: m.max_tokens,
                    input: m
                        .input
                        .iter()
                        .map(|k| match k {
                            hearth_config::InputKind::Text => "text".to_owned(),
                            hearth_config::InputKind::Image => "image".to_owned(),
                        })
                        .collect(),
                    reasoning: m.reasoning,
                })
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// True when at least one provider is ready to call.
    pub fn any_available(&self) -> bool {
        self.providers.values().any(|e| e.client.is_ok())
    }
}
