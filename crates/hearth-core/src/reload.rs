//! Hot reload: watch `hearth.json` and apply what can change while running.
//!
//! The directory is watched, not the file, because editors replace files by renaming. Bursts of
//! events are coalesced; a file whose hash did not change (our own write, a `touch`) is ignored.
//! An invalid file leaves the running config in force and says why (log and `config.changed`).
//! Settings that need a restart keep their running values and are listed in `status`,
//! `config.get` and the event.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hearth_config::Config;
use hearth_protocol::events::{ConfigChanged, Event};
use notify::Watcher as _;
use tokio::sync::mpsc;

use crate::CoreError;
use crate::runtime::Runtime;
use crate::start::{GatewayOptions, apply_overrides};

/// Quiet time after the last file event before reloading.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// Keeps the file watcher alive; dropping it stops watching.
pub struct Watcher {
    _inner: notify::RecommendedWatcher,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watcher")
    }
}

pub(crate) fn watch(rt: &Arc<Runtime>, opts: GatewayOptions) -> Result<Watcher, CoreError> {
    let path = rt.config_path.clone();
    let dir = path
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let file_name = path.file_name().map(|n| n.to_owned());
    let (tx, rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            let ours = event
                .paths
                .iter()
                .any(|p| p.file_name() == file_name.as_deref());
            if ours && !event.kind.is_access() {
                let _ = tx.send(());
            }
        }
    })
    .map_err(|e| CoreError::Internal(format!("cannot watch the config file: {e}")))?;
    watcher
        .watch(&dir, notify::RecursiveMode::NonRecursive)
        .map_err(|e| CoreError::Internal(format!("cannot watch {}: {e}", dir.display())))?;
    let running = (*rt.live().config).clone();
    let task_rt = rt.clone();
    rt.tasks.spawn(reload_loop(task_rt, rx, running, opts));
    Ok(Watcher { _inner: watcher })
}

async fn reload_loop(
    rt: Arc<Runtime>,
    mut rx: mpsc::UnboundedReceiver<()>,
    mut running: Config,
    opts: GatewayOptions,
) {
    loop {
        tokio::select! {
            () = rt.shutdown.cancelled() => return,
            got = rx.recv() => if got.is_none() { return },
        }
        // Coalesce a burst of events (write, chmod, rename) into one reload.
        loop {
            tokio::select! {
                () = tokio::time::sleep(DEBOUNCE) => break,
                got = rx.recv() => if got.is_none() { return },
            }
        }
        if let Some(next) = reload_once(&rt, &running, &opts).await {
            running = next;
        }
    }
}

/// Reloads the file; answers the new running config when it was applied.
pub(crate) async fn reload_once(
    rt: &Runtime,
    running: &Config,
    opts: &GatewayOptions,
) -> Option<Config> {
    let loaded = match hearth_config::load_file(&rt.config_path, &hearth_config::process_env) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "the changed config is invalid; the running config stays in force");
            let current = rt.live().hash.clone();
            rt.bus.publish(Event::ConfigChanged(ConfigChanged {
                hash: current,
                restart_required: rt.restart_required(),
                errors: e.to_string().lines().map(str::to_owned).collect(),
            }));
            return None;
        }
    };
    if loaded.hash == rt.live().hash {
        return None;
    }
    let mut next = loaded.config;
    if let Err(e) = apply_overrides(&mut next, opts) {
        tracing::error!(error = %e, "config reload");
        return None;
    }
    let restart = hearth_config::restart_required(running, &next);
    keep_restart_settings(&mut next, running);
    match rt.rebuild_live(next.clone(), loaded.hash.clone()).await {
        Ok(live) => {
            rt.replace_live(live);
            rt.mcp.apply(&next.mcp);
            {
                let mut pending = rt
                    .restart_required
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                for path in &restart {
                    if !pending.contains(path) {
                        pending.push(path.clone());
                    }
                }
            }
            if restart.is_empty() {
                tracing::info!(hash = %loaded.hash, "config reloaded");
            } else {
                tracing::warn!(settings = ?restart, "config reloaded; these settings apply after a restart (`hearth gateway restart`)");
            }
            rt.bus.publish(Event::ConfigChanged(ConfigChanged {
                hash: loaded.hash,
                restart_required: rt.restart_required(),
                errors: Vec::new(),
            }));
            Some(next)
        }
        Err(e) => {
            tracing::error!(error = %e, "the changed config cannot be applied; the running config stays in force");
            None
        }
    }
}

/// Settings bound at start keep their running values until a restart.
fn keep_restart_settings(next: &mut Config, running: &Config) {
    next.gateway.port = running.gateway.port;
    next.gateway.bind = running.gateway.bind;
    next.gateway
        .custom_bind_host
        .clone_from(&running.gateway.custom_bind_host);
    next.gateway
        .control_ui
        .base_path
        .clone_from(&running.gateway.control_ui.base_path);
    next.gateway.reload = running.gateway.reload.clone();
    next.logging.file = running.logging.file;
    next.logging.max_files = running.logging.max_files;
    next.secrets.backend = running.secrets.backend;
}
