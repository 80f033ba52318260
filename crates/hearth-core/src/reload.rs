//! Hot reload: watch `hearth.json` and apply what can change while running.
//!
//! The directory is watched, not the file, because editors replace files by renaming. Bursts of
//! events are coalesced; a file whose hash did not change (our own write, a `touch`) is ignored.
//! An invalid file leaves the running config in force and says why (log and `config.changed`).
//! Settings that need a restart keep their running values and are listed in `status`,
//! `config.get` and the event.
//!
//! Writes from clients (`config.set`, `config.patch`, `onboarding.apply`) go through the same
//! [`prepare`] and [`apply`] under [`Runtime::config_lock`], before the watcher sees the file:
//! by then its hash is the running one, so the change is applied once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hearth_config::Config;
use hearth_protocol::events::{ConfigChanged, Event};
use notify::Watcher as _;
use tokio::sync::mpsc;

use crate::CoreError;
use crate::runtime::{Live, Runtime};
use crate::start::apply_overrides;

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

pub(crate) fn watch(rt: &Arc<Runtime>) -> Result<Watcher, CoreError> {
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
    let task_rt = rt.clone();
    rt.tasks.spawn(reload_loop(task_rt, rx));
    Ok(Watcher { _inner: watcher })
}

async fn reload_loop(rt: Arc<Runtime>, mut rx: mpsc::UnboundedReceiver<()>) {
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
        Box::pin(reload_once(&rt)).await;
    }
}

/// Reloads the file; answers whether a new config was applied. A file whose hash is the running
/// one (a client's write, already applied) changes nothing.
pub(crate) async fn reload_once(rt: &Runtime) -> bool {
    let _applying = rt.config_lock.lock().await;
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
            return false;
        }
    };
    if loaded.hash == rt.live().hash {
        return false;
    }
    // Boxed: a whole config and what it resolves to make a large future.
    match Box::pin(prepare(rt, loaded.config, loaded.hash)).await {
        Ok(prepared) => {
            crate::audit::as_actor_sync(crate::audit::Actor::File, || apply(rt, prepared));
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "the changed config cannot be applied; the running config stays in force");
            false
        }
    }
}

/// A checked config, resolved and ready to put in force with [`apply`].
#[derive(Debug)]
pub(crate) struct Prepared {
    live: Live,
    config: Config,
    restart: Vec<String>,
}

impl Prepared {
    /// What the config resolves to.
    pub(crate) fn live(&self) -> &Live {
        &self.live
    }
}

/// Resolves `config` (the file with hash `hash`) against the running one: the start options'
/// overrides, the settings that need a restart kept at their running values, secrets and
/// provider clients. Changes nothing; the caller holds [`Runtime::config_lock`].
pub(crate) async fn prepare(
    rt: &Runtime,
    config: Config,
    hash: String,
) -> Result<Prepared, CoreError> {
    let running = rt.live().config.clone();
    let mut next = config;
    if let Some(opts) = rt.options() {
        apply_overrides(&mut next, opts)?;
    }
    let restart = hearth_config::restart_required(&running, &next);
    keep_restart_settings(&mut next, &running);
    let live = rt.rebuild_live(next.clone(), hash).await?;
    Ok(Prepared {
        live,
        config: next,
        restart,
    })
}

/// Puts a prepared config in force and tells clients (`config.changed`). Answers the settings
/// that still wait for a restart.
pub(crate) fn apply(rt: &Runtime, prepared: Prepared) -> Vec<String> {
    let Prepared {
        live,
        config,
        restart,
    } = prepared;
    let hash = live.hash.clone();
    crate::audit::config_change(rt, &rt.live(), &live, &restart);
    rt.replace_live(live);
    rt.mcp.apply(&config.mcp);
    rt.channels.config_changed();
    // The heartbeat's settings or `cron.enabled` may have changed.
    rt.cron.wake();
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
        tracing::info!(%hash, "config applied");
    } else {
        tracing::warn!(settings = ?restart, "config applied; these settings apply after a restart (`hearth gateway restart`)");
    }
    let pending = rt.restart_required();
    rt.bus.publish(Event::ConfigChanged(ConfigChanged {
        hash,
        restart_required: pending.clone(),
        errors: Vec::new(),
    }));
    pending
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
