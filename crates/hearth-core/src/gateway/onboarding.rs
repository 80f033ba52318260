//! `onboarding.apply`: the first-run setup in one step, all or nothing.
//!
//! The answers become one merge patch of the config document (the provider, the default model,
//! the default agent's name, the DM policy), checked by the whole pipeline before anything is
//! touched. Then, under the config lock: the API key goes to the secret store as
//! `<provider>-api-key`, the config is resolved with it, `SOUL.md` and `USER.md` are written to
//! the default agent's workspace, and the config file is written and applied last. A failure at
//! any step undoes the steps before it (the secret's previous value and the files' previous
//! contents come back), so the state is the one before the call.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hearth_config::ApiKind;
use hearth_protocol::frame::ErrorShape;
use hearth_protocol::methods::{ConfigWrite, OnboardingApplyParams, OnboardingModel};
use hearth_secrets::SecretStore;
use serde_json::{Map, Value, json};

use super::methods::{MethodResult, invalid, ok};
use super::methods_config::{
    blocking, check_base_hash, check_text, invalid_config, issues_of, patched_text,
    read_config_file, secret_store, write_checked,
};
use super::providers_test::{default_base_url, parse_api};
use crate::agents::{Agents, DEFAULT_AGENT_ID};
use crate::runtime::{Live, Runtime};

/// True while chat cannot work: no provider, or no model for the default agent.
pub(super) fn needed(live: &Live) -> bool {
    live.config.models.providers.is_empty() || live.agents.default_agent().model.primary.is_none()
}

/// The name the provider's key is stored under.
fn secret_name(provider_id: &str) -> String {
    format!("{provider_id}-api-key")
}

pub(super) async fn onboarding_apply(rt: &Arc<Runtime>, p: OnboardingApplyParams) -> MethodResult {
    let api = parse_api(&p.provider.api).map_err(invalid)?;
    if p.provider
        .api_key
        .as_deref()
        .is_some_and(|k| k.trim().is_empty())
    {
        return Err(invalid(
            "provider.apiKey is empty; leave it out for a provider without a key",
        ));
    }
    let _applying = rt.config_lock.lock().await;
    let disk = read_config_file(&rt.config_path).await?;
    check_base_hash(&disk, &p.base_hash)?;
    let text = patched_text(&disk, |doc| patch_for(doc, &p, api))?;
    // Everything about the config itself is checked before the first side effect.
    let parsed = hearth_config::parse_str(&text, &hearth_config::process_env)
        .map_err(|e| invalid_config(issues_of(&e)))?;
    let workspace = Agents::from_config(&parsed.config, &rt.home)
        .default_agent()
        .workspace
        .clone();
    let seed = !parsed.config.agents.defaults.skip_bootstrap;

    let mut undo = Undo::default();
    let result = apply_steps(rt, &p, text, workspace, seed, &mut undo).await;
    if result.is_err() {
        undo.run().await;
    }
    ok(result?)
}

async fn apply_steps(
    rt: &Arc<Runtime>,
    p: &OnboardingApplyParams,
    text: String,
    workspace: PathBuf,
    seed: bool,
    undo: &mut Undo,
) -> Result<ConfigWrite, ErrorShape> {
    if let Some(key) = &p.provider.api_key {
        let store = secret_store(rt).await?;
        let name = secret_name(&p.provider.id);
        let lookup = name.clone();
        let previous = blocking(&store, move |s| {
            s.get(&lookup).map(|v| v.map(|v| v.expose().to_owned()))
        })
        .await?;
        undo.secret = Some(SecretUndo {
            store: store.clone(),
            name: name.clone(),
            previous,
        });
        let value = key.trim().to_owned();
        blocking(&store, move |s| s.set(&name, &value)).await?;
    }
    let checked = check_text(rt, &text).await?;
    let files = [("SOUL.md", &p.soul), ("USER.md", &p.user)];
    if files.iter().any(|(_, t)| t.is_some()) {
        let written = tokio::task::spawn_blocking({
            let files: Vec<(&'static str, String)> = files
                .iter()
                .filter_map(|(name, t)| t.as_ref().map(|t| (*name, t.clone())))
                .collect();
            move || write_workspace(&workspace, seed, &files)
        })
        .await
        .map_err(|e| invalid(format!("workspace task failed: {e}")))?;
        match written {
            Ok(done) => undo.files = done,
            Err((done, e)) => {
                undo.files = done;
                return Err(invalid(format!(
                    "cannot write the assistant's workspace: {e}"
                )));
            }
        }
    }
    let write = write_checked(rt, text, &p.base_hash, checked).await?;
    tracing::info!(provider = %p.provider.id, model = %p.model, "onboarding applied");
    Ok(write)
}

/// The config changes, as one RFC 7396 merge patch over `doc`.
fn patch_for(doc: &Value, p: &OnboardingApplyParams, api: ApiKind) -> Value {
    let id = &p.provider.id;
    let existing = doc
        .pointer(&format!("/models/providers/{}", pointer_escape(id)))
        .and_then(Value::as_object);

    let mut provider = Map::new();
    provider.insert("api".into(), json!(api.as_str()));
    let base_url = p
        .provider
        .base_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(default_base_url(api));
    provider.insert("baseUrl".into(), json!(base_url));
    if p.provider.api_key.is_some() {
        provider.insert("apiKey".into(), json!({ "secret": secret_name(id) }));
    }
    let mut models: Vec<Value> = match &p.provider.models {
        Some(list) => list.iter().map(model_entry).collect(),
        None => existing
            .and_then(|e| e.get("models"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    };
    // The models the agent will use are listed, so their limits are known and no warning says
    // they are not.
    let prefix = format!("{id}/");
    let used = std::iter::once(&p.model).chain(p.fallbacks.iter().flatten());
    for model in used.filter_map(|m| m.trim().strip_prefix(&prefix)) {
        if !models.iter().any(|m| m["id"] == model) {
            models.push(json!({ "id": model }));
        }
    }
    provider.insert("models".into(), Value::Array(models));

    let mut selection = Map::new();
    selection.insert("primary".into(), json!(p.model.trim()));
    if let Some(fallbacks) = &p.fallbacks {
        selection.insert("fallbacks".into(), json!(fallbacks));
    }
    let mut patch = json!({
        "models": { "providers": { id.clone(): Value::Object(provider) } },
        "agents": { "defaults": { "model": Value::Object(selection) } },
    });
    if let Some(name) = p
        .assistant_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        patch["agents"]["list"] = Value::Array(named_agents(doc, name));
    }
    if let Some(policy) = p.dm_policy {
        let policy = serde_json::to_value(policy).unwrap_or(Value::Null);
        patch["channels"] = json!({ "defaults": { "dmPolicy": policy } });
    }
    patch
}

/// `agents.list` with the default agent named `name` (created as `main` when the list is empty).
fn named_agents(doc: &Value, name: &str) -> Vec<Value> {
    let mut list = doc
        .pointer("/agents/list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let default = list
        .iter()
        .position(|a| a.get("default") == Some(&Value::Bool(true)))
        .unwrap_or(0);
    match list.get_mut(default).and_then(Value::as_object_mut) {
        Some(agent) => {
            agent.insert("name".into(), json!(name));
            let identity = agent
                .entry("identity")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(identity) = identity.as_object_mut() {
                identity.insert("name".into(), json!(name));
            } else {
                *identity = json!({ "name": name });
            }
        }
        None => {
            list = vec![
                json!({ "id": DEFAULT_AGENT_ID, "default": true, "name": name, "identity": { "name": name } }),
            ]
        }
    }
    list
}

fn model_entry(m: &OnboardingModel) -> Value {
    let mut entry = Map::new();
    entry.insert("id".into(), json!(m.id));
    if let Some(name) = &m.name {
        entry.insert("name".into(), json!(name));
    }
    if let Some(window) = m.context_window {
        entry.insert("contextWindow".into(), json!(window));
    }
    if let Some(max) = m.max_tokens {
        entry.insert("maxTokens".into(), json!(max));
    }
    Value::Object(entry)
}

/// RFC 6901 escaping of one JSON pointer token.
fn pointer_escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Workspace files written, with their previous contents (`None`: they did not exist).
type Written = Vec<(PathBuf, Option<Vec<u8>>)>;

/// What to put back when a later step fails.
#[derive(Default)]
struct Undo {
    secret: Option<SecretUndo>,
    files: Written,
}

struct SecretUndo {
    store: Arc<SecretStore>,
    name: String,
    previous: Option<String>,
}

impl Undo {
    async fn run(self) {
        let files = self.files;
        let restored = tokio::task::spawn_blocking(move || {
            for (path, previous) in files.into_iter().rev() {
                let result = match previous {
                    Some(bytes) => write_private(&path, &bytes),
                    None => std::fs::remove_file(&path),
                };
                if let Err(e) = result {
                    tracing::warn!(path = %path.display(), error = %e, "could not undo a workspace file");
                }
            }
        })
        .await;
        if restored.is_err() {
            tracing::warn!("the workspace undo task failed");
        }
        if let Some(SecretUndo {
            store,
            name,
            previous,
        }) = self.secret
        {
            let shown = name.clone();
            let undone = blocking(&store, move |s| match previous {
                Some(value) => s.set(&name, &value),
                None => s.delete(&name).map(|_| ()),
            })
            .await;
            if let Err(e) = undone {
                tracing::error!(secret = %shown, error = %e.message, "could not undo a stored secret");
            }
        }
    }
}

/// Seeds the workspace (when bootstrapping is on), then writes `files`. Answers every file it
/// created or replaced, with its previous content, also when it stopped half-way.
fn write_workspace(
    workspace: &Path,
    seed: bool,
    files: &[(&'static str, String)],
) -> Result<Written, (Written, std::io::Error)> {
    let mut done = Vec::new();
    // The starter files first: once SOUL.md exists the workspace is no longer seeded.
    if seed {
        match crate::agent::workspace::seed(workspace) {
            Ok(created) => done.extend(created.into_iter().map(|n| (workspace.join(n), None))),
            Err(e) => return Err((done, e)),
        }
    }
    for (name, text) in files {
        let path = workspace.join(name);
        let previous = match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err((done, e)),
        };
        let write = std::fs::DirBuilder::new()
            .recursive(true)
            .create(workspace)
            .and_then(|()| write_private(&path, text.as_bytes()));
        // A file `seed` just created is already recorded, as absent before.
        if !done.iter().any(|(p, _)| p == &path) {
            done.push((path, previous));
        }
        if let Err(e) = write {
            return Err((done, e));
        }
    }
    Ok(done)
}

/// Writes a file readable by its owner only: a workspace holds personal notes.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::methods::{DmPolicyChoice, OnboardingProvider};

    fn params() -> OnboardingApplyParams {
        OnboardingApplyParams {
            provider: OnboardingProvider {
                id: "openrouter".into(),
                api: "openai-completions".into(),
                base_url: Some("https://openrouter.ai/api/v1".into()),
                api_key: Some("sk-or-1".into()),
                models: None,
            },
            model: "openrouter/anthropic/claude-sonnet-4".into(),
            fallbacks: Some(vec!["openrouter/openai/gpt-4o".into()]),
            assistant_name: Some("Ember".into()),
            dm_policy: Some(DmPolicyChoice::Allowlist),
            ..OnboardingApplyParams::default()
        }
    }

    #[test]
    fn the_patch_sets_provider_model_agent_and_policy() {
        let mut doc = hearth_config::default_document();
        let patch = patch_for(&doc, &params(), ApiKind::OpenaiCompletions);
        hearth_config::merge_patch(&mut doc, &patch);
        let provider = &doc["models"]["providers"]["openrouter"];
        assert_eq!(
            provider["apiKey"],
            json!({ "secret": "openrouter-api-key" })
        );
        assert_eq!(provider["baseUrl"], "https://openrouter.ai/api/v1");
        assert_eq!(
            provider["models"],
            json!([{ "id": "anthropic/claude-sonnet-4" }, { "id": "openai/gpt-4o" }])
        );
        assert_eq!(
            doc["agents"]["defaults"]["model"],
            json!({ "primary": "openrouter/anthropic/claude-sonnet-4", "fallbacks": ["openrouter/openai/gpt-4o"] })
        );
        assert_eq!(
            doc["agents"]["list"],
            json!([{ "id": "main", "default": true, "name": "Ember", "identity": { "name": "Ember" } }])
        );
        assert_eq!(doc["channels"]["defaults"]["dmPolicy"], "allowlist");
        let text = serde_json::to_string(&doc).unwrap();
        let parsed = hearth_config::parse_str(&text, &|_| None).unwrap();
        assert_eq!(parsed.warnings, Vec::new());
        assert!(!text.contains("sk-or-1"));
    }

    #[test]
    fn an_existing_default_agent_is_renamed_in_place() {
        let doc = json!({ "agents": { "list": [
            { "id": "work" },
            { "id": "home", "default": true, "identity": { "emoji": "🔥" } },
        ] } });
        let list = named_agents(&doc, "Ember");
        assert_eq!(list[0], json!({ "id": "work" }));
        assert_eq!(
            list[1],
            json!({ "id": "home", "default": true, "name": "Ember", "identity": { "emoji": "🔥", "name": "Ember" } })
        );
    }
}
