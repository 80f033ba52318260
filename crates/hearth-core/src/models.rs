//! Providers and models resolved from the config: one client per provider and API key, looked
//! up by `provider/model` refs, and the cooldowns that keep failing ones aside. The registry is
//! rebuilt whenever the config (or a provider's key) changes; cooldowns live on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_config::{Config, ModelDef, SecretValue};
use hearth_protocol::methods::{ModelInfo, ProviderInfo};
use hearth_providers::{Provider, ProviderSettings, Timeouts};
use tokio::time::Instant;

/// A resolved model ref.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// `provider/model`.
    pub reference: String,
    pub provider_id: String,
    /// One client per API key of the provider, in rotation order (at least one).
    pub clients: Vec<Arc<dyn Provider>>,
    /// The provider's own model id.
    pub model_id: String,
    /// The model's settings; defaults when the config does not list it.
    pub def: ModelDef,
}

/// Cooldown steps of a failing provider key: 30 s, 1 min, then 5 min for every further failure.
const COOLDOWN_STEPS: [Duration; 3] = [
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(300),
];

/// Longest cooldown, whatever a `Retry-After` asks for.
pub const MAX_COOLDOWN: Duration = Duration::from_secs(300);

/// Provider keys that failed recently and are skipped until their cooldown ends.
#[derive(Debug, Default)]
pub struct Cooldowns {
    entries: Mutex<HashMap<(String, usize), CooldownEntry>>,
}

#[derive(Debug, Clone, Copy)]
struct CooldownEntry {
    until: Instant,
    failures: u32,
}

impl Cooldowns {
    /// How long `provider`'s key `key` is still cooling down, if it is.
    pub fn remaining(&self, provider: &str, key: usize) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(&(provider.to_owned(), key))?;
        let now = Instant::now();
        (entry.until > now).then(|| entry.until - now)
    }

    /// Records a failure: the key cools down for the next step of the ladder, or for what the
    /// provider's `Retry-After` asked if that is longer (capped). Answers the cooldown.
    pub fn failed(&self, provider: &str, key: usize, retry_after: Option<Duration>) -> Duration {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries
            .entry((provider.to_owned(), key))
            .or_insert(CooldownEntry {
                until: Instant::now(),
                failures: 0,
            });
        let step = COOLDOWN_STEPS[(entry.failures as usize).min(COOLDOWN_STEPS.len() - 1)];
        let cooldown = retry_after.map_or(step, |r| r.max(step)).min(MAX_COOLDOWN);
        entry.failures += 1;
        entry.until = Instant::now() + cooldown;
        cooldown
    }

    /// A success clears the key's record.
    pub fn succeeded(&self, provider: &str, key: usize) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(&(provider.to_owned(), key));
    }
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
    clients: Result<Vec<Arc<dyn Provider>>, String>,
    api: &'static str,
    base_url: String,
    models: Vec<ModelDef>,
}

impl ModelRegistry {
    /// Builds a client per provider and key. A provider that cannot be built (unknown API kind,
    /// missing secret) is kept with its reason so `status` and errors can say why; a key whose
    /// secret is missing is left out while the provider has others.
    pub fn build(config: &Config, secrets: &dyn SecretLookup, http: &reqwest::Client) -> Self {
        let mut providers = HashMap::new();
        for (id, p) in &config.models.providers {
            let configured: Vec<&SecretValue> = p.api_key.iter().chain(&p.api_keys).collect();
            let mut keys = Vec::new();
            let mut missing = Vec::new();
            for value in configured.iter().copied() {
                match value {
                    SecretValue::Literal(v) => keys.push(Some(v.clone())),
                    SecretValue::Ref { secret } => match secrets.secret(secret) {
                        Some(v) => keys.push(Some(v)),
                        None => missing.push(secret.clone()),
                    },
                }
            }
            if configured.is_empty() {
                // Local servers (Ollama, llama.cpp) need no key.
                keys.push(None);
            }
            let timeouts = Timeouts {
                connect: Duration::from_secs(p.timeouts.connect_seconds.max(1)),
                first_byte: Duration::from_secs(p.timeouts.first_byte_seconds.max(1)),
                idle: Duration::from_secs(p.timeouts.idle_seconds.max(1)),
            };
            // A provider with its own proxy or connect timeout gets a client of its own.
            let own_client = p.proxy.is_some() || timeouts.connect != Timeouts::default().connect;
            let http = if own_client {
                hearth_providers::http_client_with(p.proxy.as_deref(), timeouts.connect)
                    .map_err(|e| e.to_string())
            } else {
                Ok(http.clone())
            };
            let clients = http.and_then(|http| {
                if keys.is_empty() {
                    return Err(format!(
                        "its API key refers to secret `{0}`, which is not in the secret store; add it with `hearth secrets set {0}`",
                        missing[0]
                    ));
                }
                if !missing.is_empty() {
                    tracing::warn!(provider = %id, missing = ?missing, "some API keys are not in the secret store; using the others");
                }
                keys.into_iter()
                    .map(|api_key| {
                        let settings = ProviderSettings {
                            id: id.clone(),
                            api: p.api,
                            base_url: p.base_url.clone(),
                            api_key,
                            headers: p.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                            timeouts,
                            auth_header: p.auth_header,
                        };
                        hearth_providers::build(settings, http.clone()).map_err(|e| e.to_string())
                    })
                    .collect::<Result<Vec<_>, String>>()
            });
            providers.insert(
                id.clone(),
                ProviderEntry {
                    clients,
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
        let clients = entry
            .clients
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
            .unwrap_or_else(|| crate::catalog::defaults_for(model_id));
        Ok(ResolvedModel {
            reference: reference.to_owned(),
            provider_id: provider_id.to_owned(),
            clients: clients.clone(),
            model_id: model_id.to_owned(),
            def,
        })
    }

    /// A configured provider's first client (its `apiKey`), for `providers.test`.
    pub fn provider_client(&self, id: &str) -> Result<Arc<dyn Provider>, ModelLookupError> {
        let entry = self
            .providers
            .get(id)
            .ok_or_else(|| ModelLookupError::UnknownProvider(id.to_owned()))?;
        let unavailable = |reason: String| ModelLookupError::Unavailable {
            provider: id.to_owned(),
            reason,
        };
        let clients = entry.clients.as_ref().map_err(|r| unavailable(r.clone()))?;
        clients
            .first()
            .cloned()
            .ok_or_else(|| unavailable("it has no client".to_owned()))
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
                available: e.clients.is_ok(),
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
        self.providers.values().any(|e| e.clients.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn cooldowns_climb_the_ladder_and_expire() {
        let c = Cooldowns::default();
        assert_eq!(c.remaining("p", 0), None);
        assert_eq!(c.failed("p", 0, None), Duration::from_secs(30));
        assert_eq!(c.remaining("p", 0), Some(Duration::from_secs(30)));
        assert_eq!(c.remaining("p", 1), None, "other keys are not affected");
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(c.remaining("p", 0), None, "expired");
        assert_eq!(c.failed("p", 0, None), Duration::from_secs(60));
        assert_eq!(c.failed("p", 0, None), Duration::from_secs(300));
        assert_eq!(c.failed("p", 0, None), Duration::from_secs(300));
        c.succeeded("p", 0);
        assert_eq!(c.remaining("p", 0), None);
        assert_eq!(
            c.failed("p", 0, None),
            Duration::from_secs(30),
            "a success resets the ladder"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_lengthens_a_cooldown_up_to_the_cap() {
        let c = Cooldowns::default();
        assert_eq!(
            c.failed("p", 0, Some(Duration::from_secs(120))),
            Duration::from_secs(120)
        );
        assert_eq!(
            c.failed("q", 0, Some(Duration::from_secs(5))),
            Duration::from_secs(30)
        );
        assert_eq!(
            c.failed("r", 0, Some(Duration::from_secs(3600))),
            MAX_COOLDOWN
        );
    }
}
