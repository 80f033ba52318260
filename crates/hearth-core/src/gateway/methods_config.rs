//! `config.*` and `secrets.*`: reading, checking and writing `hearth.json`, and the secret store.
//!
//! Every write goes the same way: under [`Runtime::config_lock`], compare the client's
//! `baseHash` with the file on disk (`CONFLICT`), run the whole pipeline on the new text
//! (`INVALID_REQUEST` with the issues), resolve it ([`reload::prepare`]: secrets, provider
//! clients), write the file atomically with a `.bak`, then put it in force ([`reload::apply`]).
//! Nothing is written unless all of that succeeded, and the file watcher then finds the running
//! hash and does nothing. Secret values travel only inward: no answer, error or log carries one.

use std::path::Path;
use std::sync::Arc;

use hearth_config::{ConfigError, Issue, Severity};
use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::methods::{
    ConfigGetResult, ConfigIssue, ConfigPatchParams, ConfigValidateParams, ConfigValidateResult,
    ConfigWrite, IssueSeverity, SecretsBackendKind, SecretsDeleteParams, SecretsDeleteResult,
    SecretsListResult, SecretsSetParams, SecretsSetResult,
};
use hearth_secrets::{BackendKind, SecretStore};
use serde_json::{Value, json};

use super::methods::{MethodResult, invalid, ok};
use crate::reload::{self, Prepared};
use crate::runtime::{GATEWAY_TOKEN_SECRET, Runtime, needed_secrets};

/// The config file as it is on disk.
pub(super) struct OnDisk {
    /// `None` when there is no file.
    pub(super) text: Option<String>,
    pub(super) hash: String,
}

/// Reads the config file; a missing file is `text: None` with the hash of empty input.
pub(super) async fn read_config_file(path: &Path) -> Result<OnDisk, ErrorShape> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok(OnDisk {
            hash: hearth_config::content_hash(&bytes),
            text: Some(String::from_utf8_lossy(&bytes).into_owned()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(OnDisk {
            text: None,
            hash: hearth_config::content_hash(b""),
        }),
        Err(e) => Err(internal(format!("cannot read {}: {e}", path.display()))),
    }
}

fn internal(message: String) -> ErrorShape {
    tracing::error!(%message, "config request failed");
    ErrorShape::new(ErrorCode::Internal, message)
}

/// `CONFLICT` with `details: {expected, actual}`.
pub(super) fn conflict(expected: &str, actual: &str) -> ErrorShape {
    ErrorShape::new(
        ErrorCode::Conflict,
        "the config file changed since it was read; load it again and reapply the change",
    )
    .with_details(json!({ "expected": expected, "actual": actual }))
}

/// Refuses a write whose `baseHash` is not the file's current hash.
pub(super) fn check_base_hash(disk: &OnDisk, base_hash: &str) -> Result<(), ErrorShape> {
    if disk.hash == base_hash {
        Ok(())
    } else {
        Err(conflict(base_hash, &disk.hash))
    }
}

/// A config issue as clients see it; the hint, when there is one, ends the message.
pub(super) fn wire_issue(issue: &Issue) -> ConfigIssue {
    ConfigIssue {
        severity: match issue.severity {
            Severity::Error => IssueSeverity::Error,
            Severity::Warning => IssueSeverity::Warning,
        },
        path: issue.path.clone(),
        message: match &issue.hint {
            Some(hint) => format!("{} ({hint})", issue.message),
            None => issue.message.clone(),
        },
        line: None,
        column: None,
    }
}

/// Every issue an error stands for: the pipeline's list, or one issue for the other kinds
/// (syntax errors with their line and column).
pub(super) fn issues_of(error: &ConfigError) -> Vec<ConfigIssue> {
    let one = |path: &str, message: String| ConfigIssue {
        severity: IssueSeverity::Error,
        path: path.to_owned(),
        message,
        line: None,
        column: None,
    };
    match error {
        ConfigError::Invalid { issues } => issues.iter().map(wire_issue).collect(),
        ConfigError::Syntax {
            line,
            column,
            message,
        } => vec![ConfigIssue {
            line: u32::try_from(*line).ok(),
            column: u32::try_from(*column).ok(),
            ..one("", message.clone())
        }],
        ConfigError::TooNew { .. } => vec![one("version", error.to_string())],
        other => vec![one("", other.to_string())],
    }
}

/// `INVALID_REQUEST` with `details: {issues}`.
pub(super) fn invalid_config(issues: Vec<ConfigIssue>) -> ErrorShape {
    let errors = issues
        .iter()
        .filter(|i| i.severity == IssueSeverity::Error)
        .count();
    let first = issues
        .iter()
        .find(|i| i.severity == IssueSeverity::Error)
        .map(|i| {
            if i.path.is_empty() {
                i.message.clone()
            } else {
                format!("{}: {}", i.path, i.message)
            }
        })
        .unwrap_or_default();
    invalid(format!(
        "the config is invalid ({errors} error(s)); nothing was written. {first}"
    ))
    .with_details(json!({ "issues": issues }))
}

/// A text that passed the pipeline and resolved, ready to write.
pub(super) struct Checked {
    prepared: Prepared,
    warnings: Vec<ConfigIssue>,
}

/// Runs the pipeline on `text` and resolves it against the running gateway. The caller holds
/// the config lock.
pub(super) async fn check_text(rt: &Runtime, text: &str) -> Result<Checked, ErrorShape> {
    let parsed = hearth_config::parse_str(text, &hearth_config::process_env)
        .map_err(|e| invalid_config(issues_of(&e)))?;
    let hash = hearth_config::content_hash(text.as_bytes());
    // Boxed: a whole config (and the live state built from it) is large to carry inline in every
    // caller's future.
    let prepared = Box::pin(reload::prepare(rt, parsed.config, hash))
        .await
        .map_err(|e| match e {
            // A refusal is about the config itself, e.g. auth naming a secret that is not stored.
            crate::CoreError::Refused(message) => invalid_config(vec![ConfigIssue {
                severity: IssueSeverity::Error,
                path: String::new(),
                message,
                line: None,
                column: None,
            }]),
            other => ErrorShape::new(
                ErrorCode::Unavailable,
                format!("the config cannot be applied now: {other}"),
            ),
        })?;
    let mut warnings: Vec<ConfigIssue> = parsed.warnings.iter().map(wire_issue).collect();
    // A provider that cannot be built (its key's secret is not stored) is not an error: the
    // key may come next. The client hears about it here.
    let live = prepared.live();
    for id in live.config.models.providers.keys() {
        if let Err(e @ crate::models::ModelLookupError::Unavailable { .. }) =
            live.models.provider_client(id)
        {
            warnings.push(ConfigIssue {
                severity: IssueSeverity::Warning,
                path: format!("models.providers.{id}"),
                message: e.to_string(),
                line: None,
                column: None,
            });
        }
    }
    Ok(Checked { prepared, warnings })
}

/// Writes a checked text verbatim (the file must still have `base_hash`) and puts it in force.
pub(super) async fn write_checked(
    rt: &Runtime,
    text: String,
    base_hash: &str,
    checked: Checked,
) -> Result<ConfigWrite, ErrorShape> {
    let path = rt.config_path.clone();
    let expected = base_hash.to_owned();
    let written = tokio::task::spawn_blocking(move || {
        hearth_config::write_text_atomic(&path, &text, Some(&expected))
    })
    .await
    .map_err(|e| internal(format!("config write task failed: {e}")))?;
    let hash = match written {
        Ok(hash) => hash,
        Err(ConfigError::Conflict { expected, actual }) => {
            return Err(conflict(&expected, &actual));
        }
        Err(e) => return Err(internal(e.to_string())),
    };
    let restart_required = reload::apply(rt, checked.prepared);
    tracing::info!(%hash, "config written by a client");
    Ok(ConfigWrite {
        hash,
        restart_required,
        warnings: checked.warnings,
    })
}

/// The whole write of a client's text: hash check, pipeline, write, apply.
async fn commit_text(rt: &Runtime, text: String, base_hash: &str) -> MethodResult {
    let _applying = rt.config_lock.lock().await;
    let disk = read_config_file(&rt.config_path).await?;
    check_base_hash(&disk, base_hash)?;
    let checked = check_text(rt, &text).await?;
    ok(write_checked(rt, text, base_hash, checked).await?)
}

pub(super) async fn config_get(rt: &Runtime) -> MethodResult {
    let disk = read_config_file(&rt.config_path).await?;
    let live = rt.live();
    ok(ConfigGetResult {
        path: rt.config_path.display().to_string(),
        hash: disk.hash,
        config: hearth_config::redacted(&live.config),
        restart_required: rt.restart_required(),
        exists: disk.text.is_some(),
        raw: disk.text.unwrap_or_default(),
    })
}

pub(super) fn config_validate(p: ConfigValidateParams) -> MethodResult {
    let result = match hearth_config::parse_str(&p.raw, &hearth_config::process_env) {
        Ok(parsed) => ConfigValidateResult {
            ok: true,
            issues: parsed.warnings.iter().map(wire_issue).collect(),
        },
        Err(e) => ConfigValidateResult {
            ok: false,
            issues: issues_of(&e),
        },
    };
    ok(result)
}

pub(super) async fn config_set(
    rt: &Runtime,
    p: hearth_protocol::methods::ConfigSetParams,
) -> MethodResult {
    commit_text(rt, p.raw, &p.base_hash).await
}

/// The file on disk (or the default document) with a merge patch applied, as the text to
/// write. `patch_for` sees the document before the change. Comments do not survive.
pub(super) fn patched_text(
    disk: &OnDisk,
    patch_for: impl FnOnce(&Value) -> Value,
) -> Result<String, ErrorShape> {
    let mut doc = match &disk.text {
        Some(text) => {
            hearth_config::parse_document(text).map_err(|e| invalid_config(issues_of(&e)))?
        }
        None => hearth_config::default_document(),
    };
    let patch = patch_for(&doc);
    hearth_config::merge_patch(&mut doc, &patch);
    let mut text = serde_json::to_string_pretty(&doc)
        .map_err(|e| internal(format!("cannot render the patched config: {e}")))?;
    text.push('\n');
    Ok(text)
}

pub(super) async fn config_patch(rt: &Runtime, p: ConfigPatchParams) -> MethodResult {
    let _applying = rt.config_lock.lock().await;
    let disk = read_config_file(&rt.config_path).await?;
    check_base_hash(&disk, &p.base_hash)?;
    let patch = Value::Object(p.patch);
    let text = patched_text(&disk, |_| patch)?;
    let checked = check_text(rt, &text).await?;
    ok(write_checked(rt, text, &p.base_hash, checked).await?)
}

// ---------------------------------------------------------------------------------------------
// secrets

/// The secret store, or `UNAVAILABLE` saying why it cannot be opened.
pub(super) async fn secret_store(rt: &Runtime) -> Result<Arc<SecretStore>, ErrorShape> {
    rt.secrets().await.map_err(|e| {
        ErrorShape::new(
            ErrorCode::Unavailable,
            format!("the secret store cannot be opened: {e}"),
        )
    })
}

/// Runs a secret-store call off the async threads (a keychain call blocks).
pub(super) async fn blocking<T: Send + 'static>(
    store: &Arc<SecretStore>,
    call: impl FnOnce(&SecretStore) -> Result<T, hearth_secrets::SecretsError> + Send + 'static,
) -> Result<T, ErrorShape> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || call(&store))
        .await
        .map_err(|e| internal(format!("secret store task failed: {e}")))?
        .map_err(|e| match e {
            hearth_secrets::SecretsError::InvalidName => invalid(e.to_string()),
            other => ErrorShape::new(ErrorCode::Unavailable, format!("secret store: {other}")),
        })
}

/// Secrets the gateway's own auth uses: changing them here would lock clients out.
fn guards_auth(rt: &Runtime, name: &str) -> bool {
    let live = rt.live();
    let auth = &live.config.gateway.auth;
    name == GATEWAY_TOKEN_SECRET
        || [&auth.token, &auth.password]
            .into_iter()
            .flatten()
            .any(|v| v.secret_name() == Some(name))
}

/// After a secret changed, rebuilds the providers that refer to it so they use it at once.
async fn refresh_for_secret(rt: &Runtime, name: &str) {
    let _applying = rt.config_lock.lock().await;
    let live = rt.live();
    if !needed_secrets(&live.config).iter().any(|n| n == name) {
        return;
    }
    match rt
        .rebuild_live((*live.config).clone(), live.hash.clone())
        .await
    {
        Ok(next) => {
            rt.replace_live(next);
            tracing::info!(secret = %name, "providers rebuilt with the changed secret");
        }
        Err(e) => {
            tracing::warn!(secret = %name, error = %e, "the changed secret could not be applied");
        }
    }
}

pub(super) async fn secrets_list(rt: &Runtime) -> MethodResult {
    let store = secret_store(rt).await?;
    let backend = match store.info().kind {
        BackendKind::Keychain => SecretsBackendKind::Keychain,
        BackendKind::EncryptedFile => SecretsBackendKind::EncryptedFile,
    };
    let names = blocking(&store, |s| s.list()).await?;
    ok(SecretsListResult { backend, names })
}

pub(super) async fn secrets_set(rt: &Runtime, p: SecretsSetParams) -> MethodResult {
    if guards_auth(rt, &p.name) {
        return Err(invalid(format!(
            "`{}` holds the gateway's own credential; change it with the `hearth` command",
            p.name
        )));
    }
    if p.value.is_empty() {
        return Err(invalid("the value is empty"));
    }
    let store = secret_store(rt).await?;
    let SecretsSetParams { name, value } = p;
    let stored_name = name.clone();
    blocking(&store, move |s| s.set(&stored_name, &value)).await?;
    tracing::info!(secret = %name, "secret stored by a client");
    refresh_for_secret(rt, &name).await;
    ok(SecretsSetResult { name })
}

pub(super) async fn secrets_delete(rt: &Runtime, p: SecretsDeleteParams) -> MethodResult {
    if guards_auth(rt, &p.name) {
        return Err(invalid(format!(
            "`{}` holds the gateway's own credential and cannot be deleted here",
            p.name
        )));
    }
    let store = secret_store(rt).await?;
    let name = p.name.clone();
    let deleted = blocking(&store, move |s| s.delete(&name)).await?;
    if deleted {
        tracing::info!(secret = %p.name, "secret deleted by a client");
        refresh_for_secret(rt, &p.name).await;
    }
    ok(SecretsDeleteResult { deleted })
}
